//! Contact types (R-CON-1) and the validation of what clients send.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::accounts::double_option;
use crate::domain::phone::{self, Label, Phone};
use crate::domain::values::{Country, Email, TimeZoneName};

pub const MAX_PHONES: usize = 10;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_LEN: usize = 50;
pub const MAX_FIELDS: usize = 50;
pub const MAX_FIELD_KEY: usize = 64;
pub const MAX_FIELD_VALUE: usize = 1_000;
pub const MAX_TEXT: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Manual,
    Import,
    InboundText,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Manual => "manual",
            Source::Import => "import",
            Source::InboundText => "inbound_text",
        }
    }

    pub fn parse(s: &str) -> Source {
        match s {
            "import" => Source::Import,
            "inbound_text" => Source::InboundText,
            _ => Source::Manual,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub zip: Option<String>,
    /// ISO 3166 alpha-2.
    #[serde(default)]
    pub country: Option<String>,
}

/// A contact as stored and shown.
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phones: Vec<Phone>,
    pub tags: Vec<String>,
    pub fields: BTreeMap<String, String>,
    pub address: Address,
    pub time_zone: Option<String>,
    pub source: Source,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// A validated contact, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phones: Vec<Phone>,
    pub tags: Vec<String>,
    pub fields: BTreeMap<String, String>,
    pub address: Address,
    pub time_zone: Option<String>,
    pub source: Source,
}

impl NewContact {
    pub fn sort_key(&self) -> String {
        sort_key(&self.first_name, &self.last_name, self.email.as_deref())
    }
}

impl Contact {
    /// What its time zone is guessed from (R-QH-1), with the number it is texted at.
    pub fn whereabouts<'a>(&'a self, number: Option<&'a str>) -> crate::geo::Whereabouts<'a> {
        crate::geo::Whereabouts {
            time_zone: self.time_zone.as_deref(),
            country: self.address.country.as_deref(),
            state: self.address.state.as_deref(),
            zip: self.address.zip.as_deref(),
            number,
        }
    }

    pub fn sort_key(&self) -> String {
        sort_key(&self.first_name, &self.last_name, self.email.as_deref())
    }
}

/// The list order and what name search looks in: the [`search_words`] of the last name, the
/// first name and the email's local part, each word once, joined by single spaces ("García López",
/// "José", "jose.garcia82@…" → "garcia lopez jose 82"). Its first word leads: contacts whose
/// leading word starts with a search word sit together in list order (see `store::list`).
pub fn sort_key(first: &str, last: &str, email: Option<&str>) -> String {
    let local = email.map(|e| e.rsplit_once('@').map_or(e, |(local, _)| local)).unwrap_or("");
    let mut key = String::with_capacity(last.len() + first.len() + local.len() + 2);
    let mut seen: Vec<String> = Vec::new();
    for word in search_words(last).chain(search_words(first)).chain(search_words(local)) {
        if !seen.contains(&word) {
            if !key.is_empty() {
                key.push(' ');
            }
            key.push_str(&word);
            seen.push(word);
        }
    }
    key
}

/// The words of `text` as search sees them: runs of letters and runs of digits, lower-cased and
/// without accents ("Zoë O'Brien-Smith42" → "zoe", "o", "brien", "smith", "42"), as SQLite's
/// `unicode61 remove_diacritics` tokenizer reads the search index.
pub fn search_words(text: &str) -> impl Iterator<Item = String> + '_ {
    use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Letter,
        Digit,
    }
    let mut chars =
        text.chars().flat_map(char::to_lowercase).nfkd().filter(|c| !is_combining_mark(*c)).peekable();
    std::iter::from_fn(move || {
        let class = |c: char| {
            if c.is_alphabetic() {
                Some(Class::Letter)
            } else if c.is_numeric() {
                Some(Class::Digit)
            } else {
                None
            }
        };
        // Skip to the next word, then take its run.
        let first = loop {
            let c = chars.next()?;
            if let Some(k) = class(c) {
                break (c, k);
            }
        };
        let mut word = String::from(first.0);
        while let Some(&c) = chars.peek() {
            if class(c) != Some(first.1) {
                break;
            }
            word.push(c);
            chars.next();
        }
        Some(word)
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    pub number: String,
    #[serde(default)]
    pub label: Label,
}

/// What a client sends to create a contact.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// What a client sends to change a contact: a present member replaces, `null` clears.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub email: Option<Option<String>>,
    pub phones: Option<Vec<PhoneInput>>,
    pub tags: Option<Vec<String>>,
    pub fields: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "double_option")]
    pub time_zone: Option<Option<String>>,
}

/// A field that failed validation, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid { field: field.into(), reason: reason.into() }
}

fn text(field: &str, s: Option<&str>, max: usize) -> Result<Option<String>, Invalid> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    if s.chars().count() > max {
        return Err(invalid(field, format!("{field} is at most {max} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(field, format!("{field} has control characters")));
    }
    Ok(Some(s.to_owned()))
}

impl ContactInput {
    /// Validates and normalises; numbers are parsed with `region` as the default region.
    pub fn validate(&self, region: &Country, source: Source) -> Result<NewContact, Invalid> {
        let first_name = text("first_name", self.first_name.as_deref(), 100)?.unwrap_or_default();
        let last_name = text("last_name", self.last_name.as_deref(), 100)?.unwrap_or_default();
        let email = match text("email", self.email.as_deref(), 254)? {
            Some(e) => Some(Email::parse(&e).map_err(|m| invalid("email", m))?.as_str().to_owned()),
            None => None,
        };
        if self.phones.len() > MAX_PHONES {
            return Err(invalid("phones", format!("a contact has at most {MAX_PHONES} numbers")));
        }
        let mut phones = Vec::with_capacity(self.phones.len());
        for (i, p) in self.phones.iter().enumerate() {
            let field = format!("phones[{i}].number");
            let Some(number) = text(&field, Some(&p.number), phone::MAX_LEN)? else {
                return Err(invalid(field, "a phone number cannot be empty"));
            };
            phones.push(phone::parse(&number, p.label, region.id()));
        }
        if self.tags.len() > MAX_TAGS {
            return Err(invalid("tags", format!("a contact has at most {MAX_TAGS} tags")));
        }
        let mut tags: Vec<String> = Vec::with_capacity(self.tags.len());
        for (i, t) in self.tags.iter().enumerate() {
            if let Some(t) = text(&format!("tags[{i}]"), Some(t), MAX_TAG_LEN)?
                && !tags.iter().any(|have| have.eq_ignore_ascii_case(&t))
            {
                tags.push(t);
            }
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(invalid("fields", format!("a contact has at most {MAX_FIELDS} custom fields")));
        }
        let mut fields = BTreeMap::new();
        for (k, v) in &self.fields {
            let key = text("fields", Some(k), MAX_FIELD_KEY)?
                .ok_or_else(|| invalid("fields", "a custom field needs a name"))?;
            let value = v.trim();
            if value.chars().count() > MAX_FIELD_VALUE {
                return Err(invalid(
                    format!("fields.{key}"),
                    format!("a custom field is at most {MAX_FIELD_VALUE} characters"),
                ));
            }
            fields.insert(key, value.to_owned());
        }
        let address = match &self.address {
            Some(a) => Address {
                street: text("address.street", a.street.as_deref(), MAX_TEXT)?,
                city: text("address.city", a.city.as_deref(), MAX_TEXT)?,
                state: text("address.state", a.state.as_deref(), MAX_TEXT)?,
                zip: text("address.zip", a.zip.as_deref(), 20)?,
                country: match text("address.country", a.country.as_deref(), 2)? {
                    Some(c) => {
                        Some(Country::parse(&c).map_err(|m| invalid("address.country", m))?.to_string())
                    }
                    None => None,
                },
            },
            None => Address::default(),
        };
        let time_zone = match text("time_zone", self.time_zone.as_deref(), 64)? {
            Some(tz) => {
                Some(TimeZoneName::parse(&tz).map_err(|m| invalid("time_zone", m))?.as_str().to_owned())
            }
            None => None,
        };
        if first_name.is_empty() && last_name.is_empty() && email.is_none() && phones.is_empty() {
            return Err(invalid("first_name", "a contact needs a name, an email or a phone number"));
        }
        Ok(NewContact { first_name, last_name, email, phones, tags, fields, address, time_zone, source })
    }
}

impl ContactPatch {
    /// Applies the patch to a stored contact, giving the input to validate.
    pub fn apply(self, c: &Contact) -> ContactInput {
        ContactInput {
            first_name: Some(self.first_name.unwrap_or_else(|| c.first_name.clone())),
            last_name: Some(self.last_name.unwrap_or_else(|| c.last_name.clone())),
            email: self.email.unwrap_or_else(|| c.email.clone()),
            phones: self.phones.unwrap_or_else(|| {
                c.phones.iter().map(|p| PhoneInput { number: p.number.clone(), label: p.label }).collect()
            }),
            tags: self.tags.unwrap_or_else(|| c.tags.clone()),
            fields: self.fields.unwrap_or_else(|| c.fields.clone()),
            address: self.address.unwrap_or_else(|| Some(c.address.clone())),
            time_zone: self.time_zone.unwrap_or_else(|| c.time_zone.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Country {
        Country::parse("US").unwrap()
    }

    #[test]
    fn search_words_fold_case_and_accents_and_split_digits() {
        let words = |t: &str| search_words(t).collect::<Vec<_>>();
        assert_eq!(words("Zoë O'Brien-Smith42"), ["zoe", "o", "brien", "smith", "42"]);
        assert_eq!(words("  HERNÁNDEZ  José "), ["hernandez", "jose"]);
        assert_eq!(words("王伟"), ["王伟"]);
        assert_eq!(words("--"), Vec::<String>::new());
    }

    #[test]
    fn sort_key_is_last_first_then_new_email_words() {
        assert_eq!(
            sort_key("José", "García López", Some("jose.garcia82@example.com")),
            "garcia lopez jose 82"
        );
        assert_eq!(sort_key("", "", Some("Info@Example.com")), "info");
        assert_eq!(sort_key("Ann", "", None), "ann");
        assert_eq!(sort_key("", "", None), "");
    }

    #[test]
    fn a_contact_needs_something_to_reach() {
        let err = ContactInput::default().validate(&us(), Source::Manual).unwrap_err();
        assert_eq!(err.field, "first_name");
        let ok = ContactInput { email: Some(" a@b.co ".into()), ..Default::default() };
        assert_eq!(ok.validate(&us(), Source::Manual).unwrap().email.as_deref(), Some("a@b.co"));
    }

    #[test]
    fn bad_members_are_named() {
        let cases = [
            (ContactInput { first_name: Some("x".repeat(101)), ..Default::default() }, "first_name"),
            (
                ContactInput {
                    first_name: Some("A".into()),
                    email: Some("nope".into()),
                    ..Default::default()
                },
                "email",
            ),
            (
                ContactInput {
                    first_name: Some("A".into()),
                    time_zone: Some("Moon/Base".into()),
                    ..Default::default()
                },
                "time_zone",
            ),
            (
                ContactInput {
                    first_name: Some("A".into()),
                    phones: vec![PhoneInput { number: " ".into(), label: Label::Mobile }],
                    ..Default::default()
                },
                "phones[0].number",
            ),
            (
                ContactInput {
                    first_name: Some("A".into()),
                    address: Some(Address { country: Some("ZZ".into()), ..Default::default() }),
                    ..Default::default()
                },
                "address.country",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(input.validate(&us(), Source::Manual).unwrap_err().field, field);
        }
    }

    #[test]
    fn invalid_numbers_are_kept_and_tags_deduplicated() {
        let c = ContactInput {
            first_name: Some("A".into()),
            phones: vec![PhoneInput { number: "555-12".into(), label: Label::Home }],
            tags: vec!["Buyer".into(), "buyer".into(), " ".into()],
            ..Default::default()
        }
        .validate(&us(), Source::Manual)
        .unwrap();
        assert!(!c.phones[0].valid);
        assert_eq!(c.tags, vec!["Buyer"]);
    }
}
