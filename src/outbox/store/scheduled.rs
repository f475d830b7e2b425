//! All SQL of scheduled one-off jobs (sends for later, next-day privacy texts) and team notices.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{millis, timestamp};

/// A scheduled one-off job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub agent_id: i64,
    pub contact_id: Option<i64>,
    pub number: Option<String>,
    pub request: Option<String>,
}

/// A job to schedule.
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub agent_id: i64,
    pub contact_id: Option<i64>,
    pub number: Option<&'a str>,
    pub request: Option<&'a str>,
    pub due_at: jiff::Timestamp,
}

pub fn schedule(tx: &Connection, j: &NewJob<'_>, now: jiff::Timestamp) -> anyhow::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO scheduled (kind, agent_id, contact_id, number, request, due_at, state, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)",
    )?
    .execute(params![j.kind, j.agent_id, j.contact_id, j.number, j.request, millis(j.due_at), millis(now)])?;
    Ok(tx.last_insert_rowid())
}

pub fn due_jobs(conn: &Connection, now: jiff::Timestamp, limit: usize) -> anyhow::Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, agent_id, contact_id, number, request FROM scheduled
         WHERE state = 'pending' AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![millis(now), limit as i64], |r| {
        Ok(Job {
            id: r.get(0)?,
            kind: r.get(1)?,
            agent_id: r.get(2)?,
            contact_id: r.get(3)?,
            number: r.get(4)?,
            request: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn finish_job(
    tx: &Connection,
    id: i64,
    state: &str,
    reason: Option<&str>,
    batch_id: Option<&str>,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    tx.prepare_cached(
        "UPDATE scheduled SET state = ?2, reason = ?3, batch_id = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![id, state, reason, batch_id, millis(now)])?;
    Ok(())
}

pub fn postpone_job(
    tx: &Connection,
    id: i64,
    until: jiff::Timestamp,
    why: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    tx.prepare_cached("UPDATE scheduled SET due_at = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, millis(until), why, millis(now)])?;
    Ok(())
}

/// Records the team notice for an agent and number; false when it was given before (R-TEAM-2).
pub fn first_notice(
    tx: &Connection,
    agent_id: i64,
    number: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<bool> {
    Ok(tx
        .prepare_cached("INSERT INTO team_notices (agent_id, number, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")?
        .execute(params![agent_id, number, millis(now)])?
        > 0)
}

/// An agent's scheduled sends, soonest first.
pub fn scheduled_sends(conn: &Connection, agent_id: i64) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, due_at, state, reason, batch_id, request, created_at FROM scheduled
         WHERE agent_id = ?1 AND kind = 'send' ORDER BY due_at, id LIMIT 500",
    )?;
    let rows = stmt.query_map([agent_id], |r| {
        let request: Option<String> = r.get(5)?;
        Ok(serde_json::json!({
            "id": r.get::<_, i64>(0)?,
            "send_at": timestamp(r.get(1)?),
            "state": r.get::<_, String>(2)?,
            "reason": r.get::<_, Option<String>>(3)?,
            "batch_id": r.get::<_, Option<String>>(4)?,
            "request": request.and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()),
            "created_at": timestamp(r.get(6)?),
        }))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Cancels a pending scheduled send: `None` when there is no such send of the agent, `Some(false)`
/// when it is no longer pending.
pub fn cancel_send(
    tx: &Connection,
    agent_id: i64,
    id: i64,
    now: jiff::Timestamp,
) -> anyhow::Result<Option<bool>> {
    let state: Option<String> = tx
        .prepare_cached("SELECT state FROM scheduled WHERE id = ?1 AND agent_id = ?2 AND kind = 'send'")?
        .query_row(params![id, agent_id], |r| r.get(0))
        .optional()?;
    match state.as_deref() {
        None => Ok(None),
        Some("pending") => {
            finish_job(tx, id, "cancelled", Some("canceled by the sender"), None, now)?;
            Ok(Some(true))
        }
        Some(_) => Ok(Some(false)),
    }
}
