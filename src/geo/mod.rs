//! Base layer: where a recipient probably is and when automated texts may reach it (R-QH-1): the
//! quiet-hours window, the recipient's zone from its address or number (`zones`), and when a text
//! held past its window may go. Pure; used by compose (the quote's local times), outbox (holding
//! automated texts), plans and config.

use jiff::civil::Time;
use jiff::tz::TimeZone;

pub mod zones;

/// `HH:MM` (or `H:MM`) as a time of day.
pub fn parse_time(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    if m.len() != 2 || h.is_empty() || h.len() > 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
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

/// Where a recipient is, as far as its time zone goes: its own zone, its address, its number.
#[derive(Debug, Clone, Copy, Default)]
pub struct Whereabouts<'a> {
    pub time_zone: Option<&'a str>,
    pub country: Option<&'a str>,
    pub state: Option<&'a str>,
    pub zip: Option<&'a str>,
    /// In E.164.
    pub number: Option<&'a str>,
}

/// The recipient's zone (R-QH-1): its own, else from its address (US state, then ZIP), else from
/// the area code of its number, else the agent's; with where it came from.
pub fn recipient_zone(w: &Whereabouts<'_>, agent_zone: &str) -> (TimeZone, &'static str) {
    let get = |name: &str| TimeZone::get(name).ok();
    if let Some(tz) = w.time_zone.and_then(get) {
        return (tz, "contact");
    }
    let us = w.country.is_none_or(|c| matches!(c.to_ascii_uppercase().as_str(), "US" | "CA"));
    if us {
        if let Some(tz) = w.state.and_then(zones::state_zone).and_then(get) {
            return (tz, "state");
        }
        if let Some(tz) = w.zip.and_then(zones::zip_zone).and_then(get) {
            return (tz, "zip");
        }
    }
    let npa =
        w.number.and_then(|n| n.strip_prefix("+1")).and_then(|n| n.get(..3)).and_then(|n| n.parse().ok());
    if let Some(tz) = npa.and_then(zones::area_code_zone).and_then(get) {
        return (tz, "area_code");
    }
    (get(agent_zone).unwrap_or(TimeZone::UTC), "agent")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        Window { start: Time::constant(8, 0, 0, 0), end: Time::constant(21, 0, 0, 0) }
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
        let zone = |w: &Whereabouts| {
            let (tz, how) = recipient_zone(w, "America/New_York");
            (tz.iana_name().unwrap_or_default().to_owned(), how)
        };
        let mut w = Whereabouts::default();
        assert_eq!(zone(&w), ("America/New_York".into(), "agent"));
        w.number = Some("+14155552671");
        assert_eq!(zone(&w), ("America/Los_Angeles".into(), "area_code"));
        w.zip = Some("80202");
        assert_eq!(zone(&w), ("America/Denver".into(), "zip"));
        w.state = Some("AZ");
        assert_eq!(zone(&w), ("America/Phoenix".into(), "state"));
        w.time_zone = Some("Pacific/Honolulu");
        assert_eq!(zone(&w), ("Pacific/Honolulu".into(), "contact"));
        w.country = Some("GB");
        w.time_zone = None;
        assert_eq!(zone(&w), ("America/Los_Angeles".into(), "area_code"), "a US state means nothing abroad");
    }
}
