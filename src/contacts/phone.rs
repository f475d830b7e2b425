//! Phone numbers (R-CON-2): parsed with libphonenumber's rules, the agent's home country as the
//! default region. Pure functions; no I/O.

use std::fmt;

use phonenumber::Mode;
use phonenumber::country::Id;
use serde::{Deserialize, Serialize};

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
    let n = phonenumber::parse(None, s).ok()?;
    (n.is_valid() && n.extension().is_none()).then(|| E164(n.format().mode(Mode::E164).to_string()))
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
    let parsed = phonenumber::parse(Some(region), &number).ok();
    let (e164, extension, valid) = match parsed {
        Some(n) => (
            Some(n.format().mode(Mode::E164).to_string()),
            n.extension().map(|e| e.to_string()),
            n.is_valid(),
        ),
        None => (None, None, false),
    };
    Phone { number, label, e164, extension, valid }
}

/// The E.164 form of a search term written in any format, when it is a complete number.
pub fn search_form(input: &str, region: Id) -> Option<String> {
    let digits = input.chars().filter(char::is_ascii_digit).count();
    if digits < 7 {
        return None;
    }
    phonenumber::parse(Some(region), input.trim()).ok().map(|n| n.format().mode(Mode::E164).to_string())
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
        assert!(looks_like_number("555-01"));
        assert!(!looks_like_number("Jane 555"));
        assert_eq!(digits("(312) 555"), "312555");
    }
}
