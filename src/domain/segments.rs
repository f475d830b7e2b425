//! SMS segments (R-SEG-1..4): encoding, segment count and the text of each segment. Pure.

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

/// GSM 03.38 default alphabet (one septet each), without the escape code.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table: two septets each (escape + character), never split.
const GSM_EXTENSION: &str = "\u{000C}^{}\\[~]|€";

pub const GSM_SINGLE: usize = 160;
pub const GSM_MULTI: usize = 153;
pub const UCS2_SINGLE: usize = 70;
pub const UCS2_MULTI: usize = 67;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// Septets a character takes in GSM-7, or `None` when it is not in the alphabet.
pub fn gsm_septets(c: char) -> Option<usize> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// A character that forced UCS-2 (R-SEG-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Culprit {
    pub character: String,
    /// Unicode code point, e.g. `U+2019`.
    pub code_point: String,
    /// Position in the text, in characters from 0.
    pub position: usize,
    /// A GSM-7 stand-in, when one exists (may be empty: the character can be dropped).
    pub replacement: Option<&'static str>,
}

/// A GSM-7 stand-in for a common character that is not in the alphabet.
pub fn replacement(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{00B4}' | '\u{0060}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}' | '\u{00BB}' => "\"",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}' => "-",
        '\u{2026}' => "...",
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\t' => " ",
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => "",
        '\u{2022}' | '\u{00B7}' => "-",
        '\u{00D7}' => "x",
        '\u{00F7}' => "/",
        '\u{2122}' => "TM",
        '\u{00A9}' => "(c)",
        '\u{00AE}' => "(R)",
        'á' => "a",
        'í' => "i",
        'ó' => "o",
        'ú' => "u",
        'â' | 'ã' => "a",
        'ê' | 'ë' => "e",
        'î' | 'ï' => "i",
        'ô' | 'õ' => "o",
        'û' => "u",
        'ç' => "Ç",
        'Á' | 'À' | 'Â' | 'Ã' => "A",
        'Í' | 'Ì' | 'Î' | 'Ï' => "I",
        'Ó' | 'Ò' | 'Ô' | 'Õ' => "O",
        'Ú' | 'Ù' | 'Û' => "U",
        'È' | 'Ê' | 'Ë' => "E",
        _ => return None,
    })
}

/// The text with every culprit that has a stand-in replaced (R-SEG-4).
pub fn with_replacements(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match (gsm_septets(c), replacement(c)) {
            (None, Some(r)) => out.push_str(r),
            _ => out.push(c),
        }
    }
    out
}

/// How a text travels as SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segmentation {
    pub encoding: Encoding,
    pub segments: usize,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text.
    pub units: usize,
    /// Characters (Unicode scalar values).
    pub characters: usize,
    /// The text of each segment.
    pub parts: Vec<String>,
    /// What forced UCS-2, in order; empty for GSM-7.
    pub culprits: Vec<Culprit>,
}

/// Splits `pieces` (atoms with their unit counts) into segments of at most `limit` units,
/// never splitting an atom.
fn split<'a>(pieces: impl Iterator<Item = (&'a str, usize)>, limit: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut current, mut used) = (String::new(), 0);
    for (atom, units) in pieces {
        if used + units > limit && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push_str(atom);
        used += units;
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Encoding, segments and parts of a text (R-SEG-1..3).
pub fn segment(text: &str) -> Segmentation {
    let characters = text.chars().count();
    let culprits: Vec<Culprit> = text
        .chars()
        .enumerate()
        .filter(|(_, c)| gsm_septets(*c).is_none())
        .map(|(position, c)| Culprit {
            character: c.to_string(),
            code_point: format!("U+{:04X}", c as u32),
            position,
            replacement: replacement(c),
        })
        .collect();
    if culprits.is_empty() {
        let units: usize = text.chars().filter_map(gsm_septets).sum();
        let parts = if units <= GSM_SINGLE {
            if text.is_empty() { Vec::new() } else { vec![text.to_owned()] }
        } else {
            split(
                text.char_indices().map(|(i, c)| (&text[i..i + c.len_utf8()], gsm_septets(c).unwrap_or(1))),
                GSM_MULTI,
            )
        };
        return Segmentation {
            encoding: Encoding::Gsm7,
            segments: parts.len(),
            units,
            characters,
            parts,
            culprits,
        };
    }
    let units = text.encode_utf16().count();
    let parts = if units <= UCS2_SINGLE {
        vec![text.to_owned()]
    } else {
        // Grapheme clusters stay whole; one longer than a segment is split between code points.
        let mut atoms: Vec<(&str, usize)> = Vec::new();
        for g in text.graphemes(true) {
            let n = g.encode_utf16().count();
            if n <= UCS2_MULTI {
                atoms.push((g, n));
            } else {
                let base = g.as_ptr() as usize - text.as_ptr() as usize;
                atoms.extend(
                    g.char_indices().map(|(i, c)| (&text[base + i..base + i + c.len_utf8()], c.len_utf16())),
                );
            }
        }
        split(atoms.into_iter(), UCS2_MULTI)
    };
    Segmentation { encoding: Encoding::Ucs2, segments: parts.len(), units, characters, parts, culprits }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str) -> (Encoding, usize) {
        let s = segment(text);
        assert_eq!(s.parts.concat(), text, "parts rebuild the text");
        (s.encoding, s.segments)
    }

    #[test]
    fn gsm7_boundaries() {
        assert_eq!(seg(""), (Encoding::Gsm7, 0));
        assert_eq!(seg(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(seg(&"a".repeat(161)), (Encoding::Gsm7, 2));
        for k in 2..=7 {
            assert_eq!(seg(&"a".repeat(153 * k)), (Encoding::Gsm7, k));
            assert_eq!(seg(&"a".repeat(153 * k + 1)), (Encoding::Gsm7, k + 1));
        }
    }

    #[test]
    fn extension_characters_cost_two_septets_and_are_never_split() {
        for c in GSM_EXTENSION.chars() {
            let s = segment(&format!("{c}"));
            assert_eq!((s.encoding, s.units), (Encoding::Gsm7, 2), "{c:?}");
            // 159 + 2 septets does not fit one segment.
            assert_eq!(seg(&format!("{}{c}", "a".repeat(158))), (Encoding::Gsm7, 1), "{c:?}");
            assert_eq!(seg(&format!("{}{c}", "a".repeat(159))), (Encoding::Gsm7, 2), "{c:?}");
        }
        // An escape pair at a segment boundary moves whole to the next segment.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let s = segment(&text);
        assert_eq!(s.parts[0], "a".repeat(152));
        assert!(s.parts[1].starts_with('€'));
        assert_eq!(s.segments, 2);
    }

    #[test]
    fn ucs2_boundaries() {
        assert_eq!(seg(&"é".repeat(10)), (Encoding::Gsm7, 1), "é is GSM-7");
        assert_eq!(seg(&"ж".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(seg(&"ж".repeat(71)), (Encoding::Ucs2, 2));
        for k in 2..=5 {
            assert_eq!(seg(&"ж".repeat(67 * k)), (Encoding::Ucs2, k));
            assert_eq!(seg(&"ж".repeat(67 * k + 1)), (Encoding::Ucs2, k + 1));
        }
    }

    #[test]
    fn surrogate_pairs_and_grapheme_clusters_stay_whole() {
        // 66 units then an emoji (2 units): it goes whole to segment 2.
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(10));
        let s = segment(&text);
        assert_eq!(s.parts[0], "ж".repeat(66));
        assert!(s.parts[1].starts_with('😀'));
        for cluster in ["🇺🇸", "👨‍👩‍👧‍👦", "é", "🏳️‍🌈", "👍🏽"] {
            let text = format!("{}{cluster}{}", "ж".repeat(65), "ж".repeat(10));
            let s = segment(&text);
            assert_eq!(s.encoding, Encoding::Ucs2);
            assert!(s.parts.iter().any(|p| p.contains(cluster)), "{cluster} split: {:?}", s.parts);
            assert!(s.parts.iter().all(|p| p.encode_utf16().count() <= UCS2_MULTI));
        }
    }

    #[test]
    fn crlf_and_counts() {
        let s = segment("Hi\r\nthere");
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Gsm7, 9, 1));
        let s = segment("😀");
        assert_eq!((s.units, s.characters), (2, 1));
    }

    #[test]
    fn culprits_are_named_with_replacements() {
        let s = segment("It’s “great” – really…\u{00A0}ok ✓");
        assert_eq!(s.encoding, Encoding::Ucs2);
        let found: Vec<(usize, &str, Option<&str>)> =
            s.culprits.iter().map(|c| (c.position, c.character.as_str(), c.replacement)).collect();
        assert_eq!(
            found,
            vec![
                (2, "’", Some("'")),
                (5, "“", Some("\"")),
                (11, "”", Some("\"")),
                (13, "–", Some("-")),
                (21, "…", Some("...")),
                (22, "\u{00A0}", Some(" ")),
                (26, "✓", None),
            ]
        );
        assert_eq!(s.culprits[0].code_point, "U+2019");
        let fixed = with_replacements("It’s “great” – really…");
        assert_eq!(fixed, "It's \"great\" - really...");
        assert_eq!(segment(&fixed).encoding, Encoding::Gsm7);
    }
}
