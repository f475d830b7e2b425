//! Plans and their timing (R-PLAN-1, R-QH-1): steps, validation, when a step is due in the
//! recipient's zone, and the quiet-hours window. Pure.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::contacts::model::Contact;

pub const MAX_STEPS: usize = 50;
pub const MAX_DAY_OFFSET: u32 = 3_650;

/// One text of a plan, `day_offset` days after enrollment at `time_of_day` (recipient-local).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub day_offset: u32,
    /// `HH:MM`, 24-hour.
    pub time_of_day: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_script: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub name: String,
    pub steps: Vec<Step>,
    #[serde(default = "yes")]
    pub stop_on_reply: bool,
}

fn yes() -> bool {
    true
}

/// A field and what is wrong with it.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid { field: field.into(), reason: reason.into() }
}

/// `HH:MM` (or `H:MM`) as a time of day.
pub fn parse_time(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    if m.len() != 2 || h.is_empty() || h.len() > 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

impl PlanInput {
    pub fn validate(&mut self) -> Result<(), Invalid> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() || self.name.chars().count() > 200 {
            return Err(invalid("name", "A plan needs a name of 1 to 200 characters."));
        }
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(invalid("steps", format!("A plan has 1 to {MAX_STEPS} steps.")));
        }
        let mut last = None;
        for (i, s) in self.steps.iter().enumerate() {
            let field = |f: &str| format!("steps[{i}].{f}");
            if s.day_offset > MAX_DAY_OFFSET {
                return Err(invalid(field("day_offset"), format!("At most {MAX_DAY_OFFSET} days.")));
            }
            let Some(t) = parse_time(&s.time_of_day) else {
                return Err(invalid(field("time_of_day"), "Expected HH:MM, 24-hour (e.g. 09:30)."));
            };
            match (&s.body, s.template_script) {
                (Some(b), None) if !b.trim().is_empty() || !s.media_ids.is_empty() => {}
                (None, Some(_)) => {}
                _ => {
                    return Err(invalid(
                        field("body"),
                        "Give either a non-empty `body` or a `template_script`.",
                    ));
                }
            }
            if s.media_ids.len() > 10 {
                return Err(invalid(field("media_ids"), "A text carries at most 10 media."));
            }
            if last.is_some_and(|l| l > (s.day_offset, t)) {
                return Err(invalid(field("day_offset"), "Steps go in order of day and time."));
            }
            last = Some((s.day_offset, t));
        }
        Ok(())
    }
}

/// The hours automated texts may go out in, recipient-local (R-QH-1): `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Time,
    pub end: Time,
}

impl Window {
    pub fn contains(&self, ts: jiff::Timestamp, tz: &TimeZone) -> bool {
        let t = ts.to_zoned_datetime(tz.clone()).time();
        t >= self.start && t < self.end
    }

    /// The earliest instant at or after `ts` inside the window.
    pub fn next_open(&self, ts: jiff::Timestamp, tz: &TimeZone) -> jiff::Timestamp {
        let local = ts.to_zoned_datetime(tz.clone());
        let t = local.time();
        let day = if t < self.start {
            local.date()
        } else if t >= self.end {
            local.date().tomorrow().unwrap_or(local.date())
        } else {
            return ts;
        };
        day.to_datetime(self.start).to_zoned_datetime(tz.clone()).map(|z| z.timestamp()).unwrap_or(ts)
    }
}

impl Window {
    /// While `now` is inside the window at `tz`: its close today and its next opening.
    pub fn bounds(&self, now: jiff::Timestamp, tz: &TimeZone) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
        if !self.contains(now, tz) {
            return None;
        }
        let close = now
            .to_zoned_datetime(tz.clone())
            .date()
            .to_datetime(self.end)
            .to_zoned_datetime(tz.clone())
            .ok()?;
        let close = close.timestamp();
        Some((close, self.next_open(close, tz)))
    }
}

/// For an automated text whose window closes at `close` and opens again at `open`: `None` when
/// `now` is inside a window (the same hours on any later day), else when to try again and that
/// window's close and next opening. Days are 24 hours here: an hour off across a DST change.
pub fn quiet_wait(
    close: jiff::Timestamp,
    open: jiff::Timestamp,
    now: jiff::Timestamp,
) -> Option<(jiff::Timestamp, jiff::Timestamp, jiff::Timestamp)> {
    if now < close {
        return None;
    }
    let day = jiff::SignedDuration::from_hours(24);
    let (mut close, mut open) = (close, open);
    while close <= now {
        (close, open) = (close + day, open + day);
    }
    let start = open - day;
    if now >= start { None } else { Some((start, close, open)) }
}

/// When a step is due: its day and time in the recipient's zone, moved into the window.
pub fn step_at(enrolled_on: Date, step: &Step, tz: &TimeZone, window: &Window) -> jiff::Timestamp {
    let day = enrolled_on.checked_add(jiff::Span::new().days(step.day_offset as i64)).unwrap_or(enrolled_on);
    let time = parse_time(&step.time_of_day).unwrap_or(window.start);
    let at = day
        .to_datetime(time)
        .to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    window.next_open(at, tz)
}

/// The recipient's zone (R-QH-1): the contact's own, else from its address (US state, then ZIP),
/// else from the area code of its number, else the agent's; with where it came from.
pub fn recipient_zone(contact: &Contact, number: Option<&str>, agent_zone: &str) -> (TimeZone, &'static str) {
    let get = |name: &str| TimeZone::get(name).ok();
    if let Some(tz) = contact.time_zone.as_deref().and_then(get) {
        return (tz, "contact");
    }
    let a = &contact.address;
    let us = a.country.as_deref().is_none_or(|c| matches!(c.to_ascii_uppercase().as_str(), "US" | "CA"));
    if us {
        if let Some(tz) = a.state.as_deref().and_then(super::zones::state_zone).and_then(get) {
            return (tz, "state");
        }
        if let Some(tz) = a.zip.as_deref().and_then(super::zones::zip_zone).and_then(get) {
            return (tz, "zip");
        }
    }
    let npa = number.and_then(|n| n.strip_prefix("+1")).and_then(|n| n.get(..3)).and_then(|n| n.parse().ok());
    if let Some(tz) = npa.and_then(super::zones::area_code_zone).and_then(get) {
        return (tz, "area_code");
    }
    (get(agent_zone).unwrap_or(TimeZone::UTC), "agent")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn window() -> Window {
        Window { start: Time::constant(8, 0, 0, 0), end: Time::constant(21, 0, 0, 0) }
    }

    fn step(day: u32, time: &str) -> Step {
        Step {
            day_offset: day,
            time_of_day: time.into(),
            body: Some("hi".into()),
            template_script: None,
            media_ids: vec![],
        }
    }

    #[test]
    fn plans_are_validated() {
        let plan = |steps| PlanInput { name: "Buyers".into(), steps, stop_on_reply: true };
        assert!(plan(vec![step(0, "09:00"), step(2, "18:30")]).validate().is_ok());
        assert_eq!(plan(vec![]).validate().unwrap_err().field, "steps");
        assert_eq!(plan(vec![step(0, "25:00")]).validate().unwrap_err().field, "steps[0].time_of_day");
        assert_eq!(plan(vec![step(0, "9am")]).validate().unwrap_err().field, "steps[0].time_of_day");
        assert_eq!(
            plan(vec![step(2, "09:00"), step(1, "09:00")]).validate().unwrap_err().field,
            "steps[1].day_offset"
        );
        let mut no_body = step(0, "09:00");
        no_body.body = None;
        assert_eq!(plan(vec![no_body]).validate().unwrap_err().field, "steps[0].body");
        let mut blank = plan(vec![step(0, "09:00")]);
        blank.name = "  ".into();
        assert_eq!(blank.validate().unwrap_err().field, "name");
    }

    #[test]
    fn steps_fall_at_local_times_inside_the_window() {
        let chicago = TimeZone::get("America/Chicago").unwrap();
        let at = step_at(date(2026, 3, 6), &step(2, "09:30"), &chicago, &window());
        // 2026-03-08 is the spring-forward day: 09:30 CDT = 14:30 UTC.
        assert_eq!(at.to_string(), "2026-03-08T14:30:00Z");
        // 22:00 local is past the window: 08:00 the next day (R-QH-1).
        let late = step_at(date(2026, 1, 5), &step(0, "22:00"), &chicago, &window());
        assert_eq!(
            late.to_zoned_datetime(chicago.clone()).to_string(),
            "2026-01-06T08:00:00-06:00[America/Chicago]"
        );
        let early = step_at(date(2026, 1, 5), &step(0, "06:15"), &chicago, &window());
        assert_eq!(early.to_zoned_datetime(chicago.clone()).time(), Time::constant(8, 0, 0, 0));
        assert!(window().contains(early, &chicago));
        assert!(!window().contains(late - jiff::SignedDuration::from_mins(1), &chicago));
    }

    #[test]
    fn a_text_past_its_window_waits_for_the_next_opening() {
        let chicago = TimeZone::get("America/Chicago").unwrap();
        let noon = at("2027-01-05T18:00:00Z");
        let (close, open) = window().bounds(noon, &chicago).unwrap();
        assert_eq!((close, open), (at("2027-01-06T03:00:00Z"), at("2027-01-06T14:00:00Z")));
        assert_eq!(window().bounds(at("2027-01-06T04:00:00Z"), &chicago), None);
        assert_eq!(quiet_wait(close, open, at("2027-01-06T02:59:00Z")), None, "still open");
        assert_eq!(
            quiet_wait(close, open, at("2027-01-06T03:30:00Z")),
            Some((open, at("2027-01-07T03:00:00Z"), at("2027-01-07T14:00:00Z")))
        );
        assert_eq!(quiet_wait(close, open, at("2027-01-06T15:00:00Z")), None, "open again the next day");
        assert_eq!(
            quiet_wait(close, open, at("2027-01-07T05:00:00Z")).map(|w| w.0),
            Some(at("2027-01-07T14:00:00Z"))
        );
    }

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_zone_comes_from_the_contact_then_address_then_area_code_then_agent() {
        let mut c = Contact {
            id: 1,
            first_name: "Ann".into(),
            last_name: String::new(),
            email: None,
            phones: vec![],
            tags: vec![],
            fields: Default::default(),
            address: Default::default(),
            time_zone: None,
            source: crate::contacts::model::Source::Manual,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
        };
        let zone = |c: &Contact, n| {
            let (tz, how) = recipient_zone(c, n, "America/New_York");
            (tz.iana_name().unwrap_or_default().to_owned(), how)
        };
        assert_eq!(zone(&c, None), ("America/New_York".into(), "agent"));
        assert_eq!(zone(&c, Some("+14155552671")), ("America/Los_Angeles".into(), "area_code"));
        c.address.zip = Some("80202".into());
        assert_eq!(zone(&c, Some("+14155552671")), ("America/Denver".into(), "zip"));
        c.address.state = Some("AZ".into());
        assert_eq!(zone(&c, Some("+14155552671")), ("America/Phoenix".into(), "state"));
        c.time_zone = Some("Pacific/Honolulu".into());
        assert_eq!(zone(&c, Some("+14155552671")), ("Pacific/Honolulu".into(), "contact"));
    }
}
