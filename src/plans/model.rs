//! Plans and their timing (R-PLAN-1, R-QH-1): steps, validation, when a step is due in the
//! recipient's zone, and the quiet-hours window. Pure.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

pub use crate::geo::{Window, parse_time};

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

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Time, date};

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
}
