//! All SQL of limits: usage counters and the distinct numbers of each day.

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Periods, Usage};

fn counter(conn: &Connection, agent_id: i64, name: &str, period: &str) -> anyhow::Result<u32> {
    Ok(conn
        .prepare_cached(
            "SELECT used FROM usage_counters WHERE agent_id = ?1 AND counter = ?2 AND period = ?3",
        )?
        .query_row(params![agent_id, name, period], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0)
        .max(0) as u32)
}

/// What the agent used in the given periods.
pub fn usage(conn: &Connection, agent_id: i64, p: &Periods) -> anyhow::Result<Usage> {
    let unique: i64 = conn
        .prepare_cached("SELECT count(*) FROM daily_recipients WHERE agent_id = ?1 AND day = ?2")?
        .query_row(params![agent_id, p.day], |r| r.get(0))?;
    Ok(Usage {
        daily_unique_recipients: unique as u32,
        daily_segments: counter(conn, agent_id, "daily_segments", &p.day)?,
        monthly_credits: counter(conn, agent_id, "monthly_credits", &p.month)?,
    })
}

/// How many of `numbers` the agent has not texted yet today.
pub fn new_numbers_today<'a>(
    conn: &Connection,
    agent_id: i64,
    day: &str,
    numbers: impl IntoIterator<Item = &'a str>,
) -> anyhow::Result<u32> {
    let mut stmt = conn
        .prepare_cached("SELECT 1 FROM daily_recipients WHERE agent_id = ?1 AND day = ?2 AND number = ?3")?;
    let mut n = 0;
    for number in numbers {
        if !stmt.exists(params![agent_id, day, number])? {
            n += 1;
        }
    }
    Ok(n)
}

/// Adds to the counters inside the caller's transaction and returns the usage after it. The
/// caller compares with the limits and rolls back when one is passed (R-LIM-2).
pub fn reserve<'a>(
    tx: &Connection,
    agent_id: i64,
    p: &Periods,
    numbers: impl IntoIterator<Item = &'a str>,
    segments: u32,
    credits: u32,
) -> anyhow::Result<Usage> {
    let mut add = tx.prepare_cached(
        "INSERT INTO daily_recipients (agent_id, day, number) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for number in numbers {
        add.execute(params![agent_id, p.day, number])?;
    }
    let mut bump = tx.prepare_cached(
        "INSERT INTO usage_counters (agent_id, counter, period, used) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (agent_id, counter, period) DO UPDATE SET used = used + excluded.used
         RETURNING used",
    )?;
    let segments_used: i64 = bump
        .query_row(params![agent_id, "daily_segments", p.day, segments], |r| r.get(0))
        .context("segments")?;
    let credits_used: i64 = bump
        .query_row(params![agent_id, "monthly_credits", p.month, credits], |r| r.get(0))
        .context("credits")?;
    let unique: i64 = tx
        .prepare_cached("SELECT count(*) FROM daily_recipients WHERE agent_id = ?1 AND day = ?2")?
        .query_row(params![agent_id, p.day], |r| r.get(0))?;
    Ok(Usage {
        daily_unique_recipients: unique as u32,
        daily_segments: segments_used.max(0) as u32,
        monthly_credits: credits_used.max(0) as u32,
    })
}

/// Gives reserved segments and credits back (R-LIM-3) to the periods they were taken from.
pub fn release(
    tx: &Connection,
    agent_id: i64,
    day: &str,
    month: &str,
    segments: u32,
    credits: u32,
) -> anyhow::Result<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE usage_counters SET used = max(0, used - ?4) WHERE agent_id = ?1 AND counter = ?2 AND period = ?3",
    )?;
    stmt.execute(params![agent_id, "daily_segments", day, segments])?;
    stmt.execute(params![agent_id, "monthly_credits", month, credits])?;
    Ok(())
}

/// Gives a day's distinct number back (R-LIM-3): none of the day's texts to it left.
pub fn release_number(tx: &Connection, agent_id: i64, day: &str, number: &str) -> anyhow::Result<()> {
    tx.prepare_cached("DELETE FROM daily_recipients WHERE agent_id = ?1 AND day = ?2 AND number = ?3")?
        .execute(params![agent_id, day, number])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_counts_distinct_numbers_and_release_gives_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = crate::db::open(&path, std::time::Duration::from_secs(1)).unwrap();
        crate::schema::migrate(&mut conn, &path).unwrap();
        conn.execute(
            "INSERT INTO agents (email, name, password_hash, role, country, time_zone, created_at, updated_at)
             VALUES ('a@b.co', 'A', 'x', 'agent', 'US', 'UTC', 0, 0)",
            [],
        )
        .unwrap();
        let p = super::super::periods("2026-11-29T12:00:00Z".parse().unwrap(), &jiff::tz::TimeZone::UTC);
        let u = reserve(&conn, 1, &p, ["+13125550100", "+13125550101"], 3, 3).unwrap();
        assert_eq!((u.daily_unique_recipients, u.daily_segments, u.monthly_credits), (2, 3, 3));
        assert_eq!(new_numbers_today(&conn, 1, &p.day, ["+13125550100", "+13125550102"]).unwrap(), 1);
        let u = reserve(&conn, 1, &p, ["+13125550100"], 2, 4).unwrap();
        assert_eq!((u.daily_unique_recipients, u.daily_segments, u.monthly_credits), (2, 5, 7));
        release(&conn, 1, &p.day, &p.month, 5, 10).unwrap();
        let u = usage(&conn, 1, &p).unwrap();
        assert_eq!((u.daily_segments, u.monthly_credits), (0, 0), "never below zero");
    }
}
