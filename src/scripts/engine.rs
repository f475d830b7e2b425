//! The one Rhai engine, configured once (R-SCR-4): no `eval`, no modules, no printing, strict
//! variables, bounded operations, sizes, depths and time. The helpers people need in texts are
//! registered here.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Map, OptimizationLevel, Position};

use crate::config::ScriptSettings;

thread_local! {
    /// The deadline of the evaluation running on this thread. `on_progress` is engine-wide, so the
    /// per-evaluation deadline lives here, set around each call.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// "Now" of the evaluation running on this thread, as Unix seconds and the zone's offset.
    static NOW: Cell<Option<(i64, i32)>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's deadline and clock set, and clears them after.
pub fn with_deadline<T>(timeout: Duration, now: &jiff::ZonedDateTime, f: impl FnOnce() -> T) -> T {
    DEADLINE.with(|d| d.set(Some(Instant::now() + timeout)));
    NOW.with(|n| n.set(Some((now.timestamp().as_second(), now.offset().seconds()))));
    let out = f();
    DEADLINE.with(|d| d.set(None));
    NOW.with(|n| n.set(None));
    out
}

fn now_zoned() -> jiff::ZonedDateTime {
    let (secs, offset) = NOW.with(Cell::get).unwrap_or_else(|| (jiff::Timestamp::now().as_second(), 0));
    let ts = jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let offset = jiff::tz::Offset::from_seconds(offset).unwrap_or(jiff::tz::Offset::UTC);
    ts.to_zoned_datetime(jiff::tz::TimeZone::fixed(offset))
}

/// Builds the engine with the limits from `[scripts]`.
pub fn build(limits: &ScriptSettings) -> Engine {
    let mut engine = Engine::new();
    for symbol in ["eval", "import", "export", "print", "debug"] {
        engine.disable_symbol(symbol);
    }
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.on_print(|_| {}).on_debug(|_, _, _| {});
    engine.set_strict_variables(true);
    engine.set_optimization_level(OptimizationLevel::Simple);
    engine.set_max_operations(limits.max_operations);
    engine.set_max_string_size(limits.max_string_bytes);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth);
    engine.set_max_variables(256);
    engine.set_max_functions(64);
    engine.on_progress(|ops| {
        if ops % 512 != 0 {
            return None;
        }
        let late = DEADLINE.with(|d| d.get().is_some_and(|deadline| Instant::now() > deadline));
        late.then(|| Dynamic::from("the script ran past its time limit"))
    });
    register_helpers(&mut engine);
    engine
}

fn fail(msg: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(msg.into()), Position::NONE).into()
}

/// A date or a time in a script: `2026-11-29`, an RFC 3339 timestamp, or a `now` map.
fn civil_date(v: &Dynamic) -> Result<jiff::civil::Date, Box<EvalAltResult>> {
    if let Some(map) = v.read_lock::<Map>() {
        if let Some(date) = map.get("date") {
            return civil_date(date);
        }
        return Err(fail("a map without `date` is not a date"));
    }
    let s = v.clone().into_immutable_string().map_err(|t| fail(format!("expected a date, not {t}")))?;
    let s = s.trim();
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return Ok(d);
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.to_zoned_datetime(now_zoned().time_zone().clone()).date());
    }
    Err(fail(format!("`{s}` is not a date like 2026-11-29")))
}

fn greeting_for(hour: i64) -> &'static str {
    match hour {
        4..=11 => "Good morning",
        12..=16 => "Good afternoon",
        _ => "Good evening",
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphabetic() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = c.is_whitespace() || c == '-';
        }
    }
    out
}

fn register_helpers(engine: &mut Engine) {
    // "Good morning/afternoon/evening" for the hour of `now` (in the agent's time zone).
    engine.register_fn("greeting", || greeting_for(now_zoned().hour() as i64));
    engine.register_fn("greeting", |now: Map| {
        greeting_for(now.get("hour").and_then(|h| h.as_int().ok()).unwrap_or(12))
    });
    engine.register_fn("title_case", |s: ImmutableString| title_case(&s));
    // The value, or `fallback` when it is missing (unit) or empty.
    engine.register_fn("value_or", |v: Dynamic, fallback: Dynamic| {
        let empty = v.is_unit() || v.read_lock::<ImmutableString>().is_some_and(|s| s.trim().is_empty());
        if empty { fallback } else { v }
    });
    engine.register_fn("days_between", |a: Dynamic, b: Dynamic| -> Result<i64, Box<EvalAltResult>> {
        let (a, b) = (civil_date(&a)?, civil_date(&b)?);
        Ok(a.until((jiff::Unit::Day, b)).map_err(|e| fail(e.to_string()))?.get_days() as i64)
    });
    engine.register_fn("days_since", |a: Dynamic| -> Result<i64, Box<EvalAltResult>> {
        let a = civil_date(&a)?;
        Ok(a.until((jiff::Unit::Day, now_zoned().date())).map_err(|e| fail(e.to_string()))?.get_days() as i64)
    });
    // strftime-style formatting of a date or `now`: format_date(now, "%A, %B %-d").
    engine.register_fn(
        "format_date",
        |v: Dynamic, pattern: ImmutableString| -> Result<String, Box<EvalAltResult>> {
            if let Some(map) = v.read_lock::<Map>()
                && let Some(ts) = map.get("timestamp").and_then(|t| t.clone().into_string().ok())
                && let Ok(z) = ts.parse::<jiff::ZonedDateTime>()
            {
                return jiff::fmt::strtime::format(pattern.as_str(), &z).map_err(|e| fail(e.to_string()));
            }
            let d = civil_date(&v)?;
            jiff::fmt::strtime::format(pattern.as_str(), d).map_err(|e| fail(e.to_string()))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(title_case("mary-jane o'neil SMITH"), "Mary-Jane O'neil Smith");
        assert_eq!(greeting_for(9), "Good morning");
        assert_eq!(greeting_for(13), "Good afternoon");
        assert_eq!(greeting_for(20), "Good evening");
        assert_eq!(greeting_for(2), "Good evening");
    }
}
