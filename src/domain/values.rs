//! Values parsed once at the edge and passed around as such: a country, a time zone, an email.
//! Each has one fallible constructor.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// An ISO 3166 alpha-2 country code that libphonenumber knows (the default region for numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Country(String);

impl Country {
    pub fn parse(s: &str) -> Result<Country, String> {
        let upper = s.trim().to_ascii_uppercase();
        crate::domain::phone::Id::from_str(&upper)
            .ok()
            .filter(|r| crate::domain::phone::region_calling_code(*r).is_some())
            .map(|_| Country(upper))
            .ok_or_else(|| format!("`{s}` is not an ISO 3166 alpha-2 country code such as US or GB"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn id(&self) -> crate::domain::phone::Id {
        crate::domain::phone::Id::from_str(&self.0).unwrap_or(crate::domain::phone::Id::US)
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IANA time zone name that the bundled database knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(s: &str) -> Result<TimeZoneName, String> {
        let s = s.trim();
        jiff::tz::TimeZone::get(s)
            .map(|_| TimeZoneName(s.to_owned()))
            .map_err(|_| format!("`{s}` is not an IANA time zone such as America/Chicago"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, trimmed; checked for shape, not deliverability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, String> {
        let s = s.trim();
        let ok = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if ok { Ok(Email(s.to_owned())) } else { Err(format!("`{s}` is not an email address")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_parsed_at_the_edge() {
        assert_eq!(Country::parse("gb").unwrap().as_str(), "GB");
        assert!(Country::parse("XX").is_err());
        assert!(Country::parse("USA").is_err());
        assert!(TimeZoneName::parse("Europe/London").is_ok());
        assert!(TimeZoneName::parse("Mars/Base").is_err());
        assert!(Email::parse("a@b.co").is_ok());
        for bad in ["", "a", "a@b", "a b@c.d", "@b.co", "a@.co", "a@b.co."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
