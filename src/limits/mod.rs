//! Limits (R-LIM): per-agent daily unique recipients, daily segments and monthly credits, in the
//! agent's time zone. The counters are SQL rows, checked and reserved inside the transaction that
//! queues messages (see `store::reserve`).

pub mod api;
pub mod store;

use jiff::tz::TimeZone;
use serde::Serialize;

use crate::accounts::model::{Agent, Limits};

/// The day and month a moment falls in for an agent, and when each ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    /// `2026-11-29`
    pub day: String,
    /// `2026-11`
    pub month: String,
    pub day_resets_at: jiff::Timestamp,
    pub month_resets_at: jiff::Timestamp,
}

/// Days run midnight to midnight and months are calendar months, in `tz` (R-LIM-1).
pub fn periods(now: jiff::Timestamp, tz: &TimeZone) -> Periods {
    let local = now.to_zoned_datetime(tz.clone());
    let date = local.date();
    let next_day = date.tomorrow().unwrap_or(date);
    let first = date.first_of_month();
    let next_month = first.last_of_month().tomorrow().unwrap_or(first);
    let midnight =
        |d: jiff::civil::Date| d.to_zoned_datetime(tz.clone()).map(|z| z.timestamp()).unwrap_or(now);
    Periods {
        day: date.to_string(),
        month: format!("{:04}-{:02}", date.year(), date.month()),
        day_resets_at: midnight(next_day),
        month_resets_at: midnight(next_month),
    }
}

pub fn agent_periods(agent: &Agent, now: jiff::Timestamp) -> Periods {
    let tz = TimeZone::get(agent.time_zone.as_str()).unwrap_or(TimeZone::UTC);
    periods(now, &tz)
}

/// What is used of each limit in the current periods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub daily_unique_recipients: u32,
    pub daily_segments: u32,
    pub monthly_credits: u32,
}

/// One limit as clients see it: in a quote (`after` this send) or in `GET /v1/limits`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Counter {
    pub used: u32,
    pub limit: u32,
    pub remaining: u32,
    /// Only in quotes: the figure after this send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exceeded: Option<bool>,
    pub period: String,
    pub resets_at: jiff::Timestamp,
}

/// The three counters, keyed by limit name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Counters {
    pub daily_unique_recipients: Counter,
    pub daily_segments: Counter,
    pub monthly_credits: Counter,
}

/// A request on top of the usage: new distinct numbers, segments and credits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    pub new_recipients: u32,
    pub segments: u32,
    pub credits: u32,
}

impl Counters {
    pub fn new(usage: Usage, limits: Limits, p: &Periods, request: Option<Request>) -> Counters {
        let one = |used: u32, limit: u32, add: Option<u32>, period: &str, resets_at| Counter {
            used,
            limit,
            remaining: limit.saturating_sub(used),
            after: add.map(|a| used.saturating_add(a)),
            exceeded: add.map(|a| used.saturating_add(a) > limit),
            period: period.to_owned(),
            resets_at,
        };
        Counters {
            daily_unique_recipients: one(
                usage.daily_unique_recipients,
                limits.daily_unique_recipients,
                request.map(|r| r.new_recipients),
                &p.day,
                p.day_resets_at,
            ),
            daily_segments: one(
                usage.daily_segments,
                limits.daily_segments,
                request.map(|r| r.segments),
                &p.day,
                p.day_resets_at,
            ),
            monthly_credits: one(
                usage.monthly_credits,
                limits.monthly_credits,
                request.map(|r| r.credits),
                &p.month,
                p.month_resets_at,
            ),
        }
    }

    /// The first limit this request would pass, by name.
    pub fn exceeded(&self) -> Option<(&'static str, &Counter)> {
        [
            ("daily_unique_recipients", &self.daily_unique_recipients),
            ("daily_segments", &self.daily_segments),
            ("monthly_credits", &self.monthly_credits),
        ]
        .into_iter()
        .find(|(_, c)| c.exceeded == Some(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_follow_the_agents_time_zone() {
        // 05:30 UTC on 1 Dec is still 30 Nov in Chicago, already 1 Dec in London.
        let now: jiff::Timestamp = "2026-12-01T05:30:00Z".parse().unwrap();
        let chicago = periods(now, &TimeZone::get("America/Chicago").unwrap());
        assert_eq!(chicago.day, "2026-11-30");
        assert_eq!(chicago.month, "2026-11");
        assert_eq!(chicago.day_resets_at.to_string(), "2026-12-01T06:00:00Z");
        assert_eq!(chicago.month_resets_at.to_string(), "2026-12-01T06:00:00Z");
        let london = periods(now, &TimeZone::get("Europe/London").unwrap());
        assert_eq!(london.day, "2026-12-01");
        assert_eq!(london.month, "2026-12");
        assert_eq!(london.day_resets_at.to_string(), "2026-12-02T00:00:00Z");
        assert_eq!(london.month_resets_at.to_string(), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn counters_say_what_a_request_would_pass() {
        let p = periods("2026-11-29T12:00:00Z".parse().unwrap(), &TimeZone::UTC);
        let limits = Limits { daily_unique_recipients: 10, daily_segments: 20, monthly_credits: 30 };
        let usage = Usage { daily_unique_recipients: 9, daily_segments: 5, monthly_credits: 29 };
        let c =
            Counters::new(usage, limits, &p, Some(Request { new_recipients: 1, segments: 2, credits: 2 }));
        assert_eq!(c.daily_unique_recipients.after, Some(10));
        assert_eq!(c.daily_unique_recipients.exceeded, Some(false));
        assert_eq!(c.exceeded().map(|(n, c)| (n, c.after)), Some(("monthly_credits", Some(31))));
    }
}
