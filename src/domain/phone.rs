//! Phone numbers (R-CON-2): parsed with libphonenumber's rules, the agent's home country as the
//! default region. Pure functions; no I/O.
//!
//! `rlibphonenumber`, a port of libphonenumber's C++ code, agrees with every parse case of
//! libphonenumber's own tests (the corpus test below). `phonenumber` 0.3.10, used before, stripped
//! the default region's national prefix after an explicit country code (`+44 121 234 5678` for a
//! US agent became `+44212345678`) and agreed with 242 of the 318 cases.

use std::fmt;

use rlibphonenumber::{PhoneNumberFormat, Region};
use serde::{Deserialize, Serialize};

/// A region (ISO 3166 alpha-2) as libphonenumber knows it.
pub type Id = Region;

/// A valid number in E.164 form (`+13125550100`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct E164(String);

impl E164 {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a number written in international form (leading `+`), valid only.
pub fn parse_e164(s: &str) -> Option<E164> {
    let s = s.trim();
    if !s.starts_with('+') {
        return None;
    }
    let n = read(s, None)?;
    (n.is_valid() && extension(&n).is_none()).then(|| E164(e164(&n)))
}

/// A parsed number's extension, if it has one (the parser gives an empty one for none).
fn extension(n: &rlibphonenumber::PhoneNumber) -> Option<&str> {
    n.extension.as_deref().filter(|e| !e.is_empty())
}

/// The E.164 form of a parsed number.
fn e164(n: &rlibphonenumber::PhoneNumber) -> String {
    n.format_as(PhoneNumberFormat::E164).into_owned()
}

/// A number as libphonenumber reads it: digits in any script (`＋１ （６５０）`), an international
/// prefix (`011`, `00`) or `+` before a country code, `tel:` URIs, and extensions (`ext. 42`,
/// `,,42#`).
fn read(input: &str, region: Option<Id>) -> Option<rlibphonenumber::PhoneNumber> {
    rlibphonenumber::PhoneNumber::parse(input, region).ok()
}

/// The calling code of an E.164 number (`44` for `+44…`).
pub fn calling_code(e164: &str) -> Option<u16> {
    read(e164, None).and_then(|n| u16::try_from(n.country_code).ok())
}

/// The calling code of a region (`1` for US).
pub fn region_calling_code(region: Id) -> Option<u16> {
    rlibphonenumber::PHONE_NUMBER_UTIL.get_country_code_for_region(region).and_then(|c| u16::try_from(c).ok())
}

/// How a number is written for someone at home in `home`: national form for a number of that
/// region, international otherwise.
pub fn readable(e164_number: &str, home: Id) -> String {
    match read(e164_number, None) {
        Some(n) if n.get_region_code() == Some(home) => n.format_as(PhoneNumberFormat::National).into_owned(),
        Some(n) => n.format_as(PhoneNumberFormat::International).into_owned(),
        None => e164_number.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    #[default]
    Mobile,
    Home,
    Work,
    Other,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Mobile => "mobile",
            Label::Home => "home",
            Label::Work => "work",
            Label::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Label> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mobile" | "cell" => Some(Label::Mobile),
            "home" => Some(Label::Home),
            "work" => Some(Label::Work),
            "other" => Some(Label::Other),
            _ => None,
        }
    }
}

/// A contact's number as entered, with what libphonenumber made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phone {
    /// As entered (trimmed).
    pub number: String,
    pub label: Label,
    /// E.164 when it parses at all, valid or not.
    pub e164: Option<String>,
    pub extension: Option<String>,
    pub valid: bool,
}

/// The longest number we keep as entered.
pub const MAX_LEN: usize = 40;

/// Parses a number as entered; an invalid number is kept and marked, never refused.
pub fn parse(input: &str, label: Label, region: Id) -> Phone {
    let number = input.trim().to_owned();
    let (e164, extension, valid) = match read(&number, Some(region)) {
        Some(n) => (Some(e164(&n)), extension(&n).map(str::to_owned), n.is_valid()),
        None => (None, None, false),
    };
    Phone { number, label, e164, extension, valid }
}

/// The E.164 form of a search term written in any format, when it is a complete, valid number.
pub fn search_form(input: &str, region: Id) -> Option<String> {
    let digits = input.chars().filter(char::is_ascii_digit).count();
    if digits < 7 {
        return None;
    }
    read(input.trim(), Some(region)).filter(|n| n.is_valid()).map(|n| e164(&n))
}

/// True when a search term looks like (part of) a phone number rather than a name.
pub fn looks_like_number(q: &str) -> bool {
    let q = q.trim();
    q.chars().filter(char::is_ascii_digit).count() >= 3
        && q.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// Digits of a partial number, for substring search.
pub fn digits(q: &str) -> String {
    q.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_and_international_formats_parse_to_the_same_e164() {
        for input in [
            "(312) 555-0100",
            "312-555-0100",
            "312.555.0100",
            "+1 312 555 0100",
            "1 (312) 555-0100",
            "3125550100",
        ] {
            let p = parse(input, Label::Mobile, Id::US);
            assert_eq!(p.e164.as_deref(), Some("+13125550100"), "{input}");
            assert!(p.valid, "{input}");
            assert_eq!(p.number, input);
        }
    }

    #[test]
    fn the_agents_country_is_the_default_region() {
        let p = parse("07400 123456", Label::Mobile, Id::GB);
        assert_eq!(p.e164.as_deref(), Some("+447400123456"));
        assert!(p.valid);
        // The same digits for a US agent are not a valid US number.
        assert!(!parse("07400 123456", Label::Mobile, Id::US).valid);
        // An international number is read as written, whatever the region.
        assert_eq!(parse("+44 7400 123456", Label::Mobile, Id::US).e164.as_deref(), Some("+447400123456"));
    }

    /// R-CON-2: an explicit country code keeps every digit, whatever the agent's country (the
    /// `phonenumber` crate gave `+44212345678` for a US agent).
    #[test]
    fn international_numbers_keep_every_digit_for_every_agent_country() {
        let cases: &[(Id, &[&str], &str)] = &[
            (Id::US, &["+44 121 234 5678", "011 44 121 234 5678", "01144 121 234 5678"], "+441212345678"),
            (Id::GB, &["+44 121 234 5678", "00 44 121 234 5678", "0121 234 5678"], "+441212345678"),
            (Id::DE, &["+44 121 234 5678", "00 44 121 234 5678", "0044-121-234-5678"], "+441212345678"),
            (Id::US, &["+1 312 555 0199", "(312) 555-0199"], "+13125550199"),
            (Id::GB, &["+1 312 555 0199", "00 1 312 555 0199"], "+13125550199"),
            (Id::DE, &["+1 312 555 0199", "001 312 555 0199"], "+13125550199"),
            (Id::US, &["+49 1512 3456789", "011 49 1512 3456789"], "+4915123456789"),
            (Id::US, &["+86 10 1234 5678"], "+861012345678"),
            (Id::DE, &["01512 3456789", "+49 (0)1512 3456789"], "+4915123456789"),
        ];
        for (region, inputs, want) in cases {
            for input in *inputs {
                let p = parse(input, Label::Mobile, *region);
                assert_eq!(p.e164.as_deref(), Some(*want), "{input} for a {region:?} agent");
                assert!(p.valid, "{input} for a {region:?} agent");
            }
        }
        // 00 is not an international prefix from NANP: a national (invalid) number there.
        assert_ne!(parse("00 44 121 234 5678", Label::Mobile, Id::US).e164.as_deref(), Some("+441212345678"));
    }

    /// libphonenumber normalises every Unicode decimal digit and full-width form, and reads what
    /// follows a dial string's pauses as an extension (`,,123#`), not as digits of the number.
    #[test]
    fn unicode_digits_and_dial_strings() {
        for input in [
            "＋１ （６５０） ２５３－００００",
            "+١ ٦٥٠ ٢٥٣ ٠٠٠٠",
            "+1 650 253 0000,,123#",
            "+1 650 253 0000,1",
        ] {
            let p = parse(input, Label::Mobile, Id::GB);
            assert_eq!(p.e164.as_deref(), Some("+16502530000"), "{input}");
            assert!(p.valid, "{input}");
            assert_eq!(p.number, input);
        }
    }

    /// libphonenumber's own parse cases (`tests/api/fixtures/libphonenumber_parse.tsv`, taken from
    /// `PhoneNumberUtilTest.java` and `phonenumberutil_test.cc` at google/libphonenumber f7e3e88;
    /// see the file's header). Rows whose answer comes from libphonenumber's test-only metadata are
    /// compared with what the real metadata gives, as the file's notes say.
    #[test]
    fn libphonenumbers_own_cases_agree() {
        // Where we knowingly differ, and why.
        const KNOWN: &[(&str, &str, &str)] = &[];
        let corpus = include_str!("../../tests/api/fixtures/libphonenumber_parse.tsv");
        let (mut total, mut agree, mut regions) = (0, 0, std::collections::BTreeSet::new());
        let mut differ = Vec::new();
        for line in corpus.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (input, region, mut want) = (cols[0], cols[1], cols[2]);
            if let Some(real) = cols.get(4).and_then(|n| n.split("real metadata gives ").nth(1)) {
                want = real.split(';').next().unwrap_or(real).trim();
            }
            let id = region.parse::<Id>().ok().filter(|_| region != "ZZ");
            regions.insert(region);
            total += 1;
            let got = read(input, id).map(|n| match extension(&n) {
                Some(ext) => format!("{};ext={ext}", e164(&n)),
                None => e164(&n),
            });
            let got = got.as_deref().unwrap_or("error");
            if got == want {
                agree += 1;
            } else {
                differ.push((input.to_owned(), region.to_owned(), want.to_owned(), got.to_owned()));
            }
        }
        let unexplained: Vec<_> = differ
            .iter()
            .filter(|(i, r, _, _)| !KNOWN.iter().any(|(ki, kr, _)| ki == i && kr == r))
            .collect();
        assert!(total >= 150 && regions.len() >= 15, "{total} cases over {} regions", regions.len());
        assert!(unexplained.is_empty(), "{agree}/{total} agree; unexplained: {unexplained:#?}");
        assert!(agree * 100 >= total * 98, "{agree}/{total} agree");
    }

    #[test]
    fn extensions_are_kept_apart() {
        let p = parse("312-555-0100 ext. 42", Label::Work, Id::US);
        assert_eq!(p.e164.as_deref(), Some("+13125550100"));
        assert_eq!(p.extension.as_deref(), Some("42"));
        assert!(p.valid);
    }

    #[test]
    fn invalid_input_is_kept_and_marked() {
        for input in ["555-12", "hello", "", "+999 123", "12345678901234567890"] {
            let p = parse(input, Label::Mobile, Id::US);
            assert!(!p.valid, "{input}");
            assert_eq!(p.number, input.trim());
        }
    }

    #[test]
    fn strict_e164_for_sending_numbers() {
        assert_eq!(parse_e164("+13125550100").unwrap().as_str(), "+13125550100");
        assert!(parse_e164("3125550100").is_none());
        assert!(parse_e164("+1312555").is_none());
    }

    #[test]
    fn search_terms() {
        assert_eq!(search_form("(312) 555-0100", Id::US).as_deref(), Some("+13125550100"));
        assert_eq!(search_form("555", Id::US), None);
        // A partial number is not a complete one: searched as digits.
        assert_eq!(search_form("555-0101", Id::US), None);
        assert_eq!(search_form("+44 121 234 5678", Id::US).as_deref(), Some("+441212345678"));
        assert!(looks_like_number("555-01"));
        assert!(!looks_like_number("Jane 555"));
        assert_eq!(digits("(312) 555"), "312555");
    }
}
