//! What scripts see (R-SCR-1): `contact`, `agent` and `now` as Rhai maps. A missing value is an
//! empty string, never an error.

use rhai::{Array, Dynamic, Map};

use crate::accounts::model::Agent;
use crate::contacts::model::Contact;
use crate::domain::phone::{Label, Phone};

fn s(v: &str) -> Dynamic {
    Dynamic::from(v.to_owned())
}

fn opt(v: &Option<String>) -> Dynamic {
    s(v.as_deref().unwrap_or(""))
}

fn full_name(first: &str, last: &str) -> String {
    format!("{first} {last}").trim().to_owned()
}

/// The number a text to this contact goes to (R-REC-1): its first valid mobile number, else its
/// first valid number.
pub fn resolved_number(phones: &[Phone]) -> Option<&str> {
    phones
        .iter()
        .find(|p| p.valid && p.label == Label::Mobile)
        .or_else(|| phones.iter().find(|p| p.valid))
        .and_then(|p| p.e164.as_deref())
}

/// `contact`, as scripts see it.
pub fn contact(c: &Contact, last_texted_at: Option<jiff::Timestamp>) -> Dynamic {
    let mut m = Map::new();
    m.insert("id".into(), Dynamic::from(c.id));
    m.insert("first_name".into(), s(&c.first_name));
    m.insert("last_name".into(), s(&c.last_name));
    m.insert("full_name".into(), s(&full_name(&c.first_name, &c.last_name)));
    m.insert("email".into(), opt(&c.email));
    m.insert("phone".into(), s(resolved_number(&c.phones).unwrap_or("")));
    let phones: Array = c
        .phones
        .iter()
        .map(|p| {
            let mut pm = Map::new();
            pm.insert("number".into(), s(&p.number));
            pm.insert("e164".into(), opt(&p.e164));
            pm.insert("label".into(), s(p.label.as_str()));
            pm.insert("valid".into(), Dynamic::from(p.valid));
            Dynamic::from_map(pm)
        })
        .collect();
    m.insert("phones".into(), Dynamic::from_array(phones));
    m.insert("tags".into(), Dynamic::from_array(c.tags.iter().map(|t| s(t)).collect()));
    let fields: Map = c.fields.iter().map(|(k, v)| (k.as_str().into(), s(v))).collect();
    m.insert("fields".into(), Dynamic::from_map(fields));
    m.insert("street".into(), opt(&c.address.street));
    m.insert("city".into(), opt(&c.address.city));
    m.insert("state".into(), opt(&c.address.state));
    m.insert("zip".into(), opt(&c.address.zip));
    m.insert("country".into(), opt(&c.address.country));
    m.insert("time_zone".into(), opt(&c.time_zone));
    m.insert("source".into(), s(c.source.as_str()));
    m.insert("created_at".into(), s(&c.created_at.to_string()));
    m.insert("last_texted_at".into(), s(&last_texted_at.map(|t| t.to_string()).unwrap_or_default()));
    Dynamic::from_map(m)
}

/// `agent`, as scripts see it.
pub fn agent(a: &Agent) -> Dynamic {
    let (first, last) = a.name.split_once(' ').unwrap_or((a.name.as_str(), ""));
    let mut m = Map::new();
    m.insert("first_name".into(), s(first));
    m.insert("last_name".into(), s(last.trim()));
    m.insert("full_name".into(), s(&a.name));
    m.insert("email".into(), s(&a.email));
    m.insert("phone".into(), opt(&a.sending_number));
    m.insert("team".into(), s(a.team.as_ref().map(|t| t.name.as_str()).unwrap_or("")));
    Dynamic::from_map(m)
}

/// `now`, in the agent's time zone.
pub fn now(z: &jiff::ZonedDateTime) -> Dynamic {
    let mut m = Map::new();
    m.insert("hour".into(), Dynamic::from(z.hour() as i64));
    m.insert("minute".into(), Dynamic::from(z.minute() as i64));
    m.insert("weekday".into(), s(&z.strftime("%A").to_string()));
    m.insert("weekday_number".into(), Dynamic::from(z.weekday().to_monday_one_offset() as i64));
    m.insert("day".into(), Dynamic::from(z.day() as i64));
    m.insert("month".into(), Dynamic::from(z.month() as i64));
    m.insert("year".into(), Dynamic::from(z.year() as i64));
    m.insert("date".into(), s(&z.date().to_string()));
    m.insert("time".into(), s(&z.strftime("%H:%M").to_string()));
    m.insert("time_zone".into(), s(z.time_zone().iana_name().unwrap_or("UTC")));
    m.insert("timestamp".into(), s(&z.to_string()));
    Dynamic::from_map(m)
}

/// "Now" in an agent's time zone.
pub fn agent_now(a: &Agent, at: jiff::Timestamp) -> jiff::ZonedDateTime {
    let tz = jiff::tz::TimeZone::get(a.time_zone.as_str()).unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned_datetime(tz)
}
