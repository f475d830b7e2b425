//! All SQL of consent: `opt_outs` (the current state), `consent_events` (the ledger) and
//! `dnc_numbers` (the do-not-contact list).

use std::collections::HashSet;

use rusqlite::{Connection, params};
use serde_json::json;

use crate::db::{millis, timestamp};

/// Records that `number` opted out of texts from `sender`; `how` says how we learned it.
pub fn opt_out(
    conn: &Connection,
    sender: &str,
    number: &str,
    how: &str,
    message_id: Option<i64>,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO opt_outs (sender, number, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?
    .execute(params![sender, number, millis(now)])?;
    record(conn, sender, number, "opt_out", how, message_id, now)
}

/// Records that `number` opted back in to texts from `sender`.
pub fn opt_in(
    conn: &Connection,
    sender: &str,
    number: &str,
    how: &str,
    message_id: Option<i64>,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached("DELETE FROM opt_outs WHERE sender = ?1 AND number = ?2")?
        .execute(params![sender, number])?;
    record(conn, sender, number, "opt_in", how, message_id, now)
}

fn record(
    conn: &Connection,
    sender: &str,
    number: &str,
    action: &str,
    how: &str,
    message_id: Option<i64>,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO consent_events (sender, number, action, how, message_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![sender, number, action, how, message_id, millis(now)])?;
    Ok(())
}

/// One change of consent, as the ledger keeps it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub sender: String,
    pub action: String,
    pub how: String,
    pub message_id: Option<i64>,
    pub created_at: jiff::Timestamp,
}

/// The ledger for a number, oldest first.
pub fn history(conn: &Connection, number: &str) -> anyhow::Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT sender, action, how, message_id, created_at FROM consent_events WHERE number = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([number], |r| {
        Ok(Event {
            sender: r.get(0)?,
            action: r.get(1)?,
            how: r.get(2)?,
            message_id: r.get(3)?,
            created_at: timestamp(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Which of `numbers` are on the do-not-contact list.
pub fn on_dnc(conn: &Connection, numbers: &[&str]) -> anyhow::Result<HashSet<String>> {
    let numbers = serde_json::to_string(numbers)?;
    let mut stmt = conn
        .prepare_cached("SELECT number FROM dnc_numbers WHERE number IN (SELECT value FROM json_each(?1))")?;
    let found = stmt.query_map([numbers], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(found)
}

/// Which of `numbers` opted out of texts from `sender`.
pub fn opted_out(conn: &Connection, sender: &str, numbers: &[&str]) -> anyhow::Result<HashSet<String>> {
    let numbers = serde_json::to_string(numbers)?;
    let mut stmt = conn.prepare_cached(
        "SELECT number FROM opt_outs WHERE sender = ?1 AND number IN (SELECT value FROM json_each(?2))",
    )?;
    let found = stmt.query_map(params![sender, numbers], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(found)
}

/// Puts numbers on the do-not-contact list; returns how many were not on it.
pub fn add_dnc(
    tx: &Connection,
    entries: &[(String, String)],
    added_by: i64,
    now: i64,
) -> anyhow::Result<usize> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO dnc_numbers (number, reason, added_by, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    )?;
    let mut added = 0;
    for (n, reason) in entries {
        added += stmt.execute(params![n, reason, added_by, now])?;
    }
    Ok(added)
}

/// Takes a number off the do-not-contact list; false when it was not on it.
pub fn remove_dnc(tx: &Connection, number: &str) -> anyhow::Result<bool> {
    Ok(tx.prepare_cached("DELETE FROM dnc_numbers WHERE number = ?1")?.execute([number])? == 1)
}

/// The do-not-contact list after `after`, in number order, `limit` at most.
pub fn dnc_page(c: &Connection, after: &str, limit: usize) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut stmt = c.prepare_cached(
        "SELECT number, reason, added_by, created_at FROM dnc_numbers WHERE number > ?1 ORDER BY number LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        Ok(json!({
            "number": r.get::<_, String>(0)?, "reason": r.get::<_, String>(1)?,
            "added_by": r.get::<_, Option<i64>>(2)?, "created_at": timestamp(r.get(3)?),
        }))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Whether one number is on the do-not-contact list.
pub fn is_dnc(conn: &Connection, number: &str) -> anyhow::Result<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM dnc_numbers WHERE number = ?1")?.exists([number])?)
}

/// Whether one number opted out of texts from `sender`.
pub fn has_opted_out(conn: &Connection, sender: &str, number: &str) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM opt_outs WHERE sender = ?1 AND number = ?2")?
        .exists([sender, number])?)
}
