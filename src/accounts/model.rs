//! Account types, parsed at the edge (R-ACC-1): only valid values travel inside.

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

pub use crate::domain::values::{Country, Email, TimeZoneName};

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
        assert!(Role::parse("root").is_err());
        assert!(check_password("short").is_err());
        assert!(parse_name("  ").is_err());
    }
}
