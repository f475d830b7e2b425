//! Account types, parsed at the edge (R-ACC-1): only valid values travel inside.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Role, String> {
        match s {
            "agent" => Ok(Role::Agent),
            "admin" => Ok(Role::Admin),
            other => Err(format!("`{other}` is not a role; use `agent` or `admin`")),
        }
    }
}

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

/// A person's display name: trimmed, non-empty, at most 100 characters.
pub fn parse_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("a name is required".into());
    }
    if s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err("a name is at most 100 characters, without control characters".into());
    }
    Ok(s.to_owned())
}

/// A new password: 10 to 1024 characters.
pub fn check_password(p: &str) -> Result<(), String> {
    let n = p.chars().count();
    if !(10..=1024).contains(&n) {
        return Err("a password has 10 to 1024 characters".into());
    }
    Ok(())
}

/// An agent's limits (R-LIM-1); `None` means the configured default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitOverrides {
    pub daily_unique_recipients: Option<u32>,
    pub daily_segments: Option<u32>,
    pub monthly_credits: Option<u32>,
}

/// Effective limits, as shown to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub daily_unique_recipients: u32,
    pub daily_segments: u32,
    pub monthly_credits: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamRef {
    pub id: i64,
    pub name: String,
}

/// An agent as stored.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub team: Option<TeamRef>,
    pub country: Country,
    pub time_zone: TimeZoneName,
    pub sending_number: Option<String>,
    pub limits: LimitOverrides,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

impl Agent {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
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
        assert!(Role::parse("root").is_err());
        assert!(check_password("short").is_err());
        assert!(parse_name("  ").is_err());
    }
}
