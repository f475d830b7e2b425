//! Consent changes (R-IN-4): the current state in `opt_outs`, every change in the ledger. A
//! feature below compose and outbox, which check it, and replies, which change it by keyword.

use rusqlite::{Connection, params};

use crate::db::millis;

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
            created_at: crate::db::timestamp(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
