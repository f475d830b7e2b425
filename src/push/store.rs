//! All SQL of push: devices and the push outbox.

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::payload::Payload;
use crate::db::{millis, timestamp};

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub id: i64,
    pub platform: String,
    pub token: String,
    pub environment: String,
    pub created_at: jiff::Timestamp,
}

fn device_row(r: &rusqlite::Row) -> rusqlite::Result<Device> {
    Ok(Device {
        id: r.get(0)?,
        platform: r.get(1)?,
        token: r.get(2)?,
        environment: r.get(3)?,
        created_at: timestamp(r.get(4)?),
    })
}

/// Registers a token for an agent; a token registered again moves to the caller (R-PUSH-1).
pub fn register(
    conn: &Connection,
    agent_id: i64,
    platform: &str,
    token: &str,
    environment: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<Device> {
    conn.prepare_cached(
        "INSERT INTO devices (agent_id, platform, token, environment, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (platform, token) DO UPDATE SET agent_id = excluded.agent_id, environment = excluded.environment,
             updated_at = excluded.updated_at",
    )?
    .execute(params![agent_id, platform, token, environment, millis(now)])?;
    conn.prepare_cached(
        "SELECT id, platform, token, environment, created_at FROM devices WHERE platform = ?1 AND token = ?2",
    )?
    .query_row(params![platform, token], device_row)
    .context("reading a device")
}

pub fn list(conn: &Connection, agent_id: i64) -> anyhow::Result<Vec<Device>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, platform, token, environment, created_at FROM devices WHERE agent_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([agent_id], device_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes one of the agent's devices; `Ok(false)` when it has no such device.
pub fn remove(conn: &Connection, agent_id: i64, id: i64) -> anyhow::Result<bool> {
    Ok(conn.prepare_cached("DELETE FROM devices WHERE id = ?1 AND agent_id = ?2")?.execute([id, agent_id])?
        == 1)
}

/// Queues one push per device of the agent for a notification (R-PUSH-2).
pub fn queue(
    conn: &Connection,
    agent_id: i64,
    notification_id: i64,
    payload: &Payload,
    now: jiff::Timestamp,
) -> anyhow::Result<usize> {
    let body = serde_json::to_string(payload)?;
    Ok(conn
        .prepare_cached(
            "INSERT INTO pushes (device_id, notification_id, payload, status, next_attempt_at, created_at, updated_at)
             SELECT id, ?2, ?3, 'queued', ?4, ?4, ?4 FROM devices WHERE agent_id = ?1",
        )?
        .execute(params![agent_id, notification_id, body, millis(now)])?)
}

/// A push taken to send.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub device_id: i64,
    pub platform: String,
    pub token: String,
    pub environment: String,
    pub payload: Payload,
    pub attempts: u32,
}

impl Claimed {
    /// What the provider needs of it.
    pub fn delivery(&self) -> super::payload::Delivery<'_> {
        super::payload::Delivery {
            token: &self.token,
            environment: &self.environment,
            payload: &self.payload,
        }
    }
}

/// Takes up to `limit` due pushes.
pub fn claim(conn: &Connection, now: jiff::Timestamp, limit: usize) -> anyhow::Result<Vec<Claimed>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE pushes SET status = 'sending', attempts = attempts + 1, updated_at = ?1
         WHERE id IN (SELECT id FROM pushes WHERE status = 'queued' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2)
         RETURNING id, device_id, payload, attempts",
    )?;
    let rows: Vec<(i64, i64, String, u32)> = stmt
        .query_map(params![millis(now), limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut device = conn.prepare_cached("SELECT platform, token, environment FROM devices WHERE id = ?1")?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, device_id, payload, attempts) in rows {
        let Some((platform, token, environment)) = device
            .query_row([device_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })
            .optional()?
        else {
            continue;
        };
        let payload: Payload = serde_json::from_str(&payload)?;
        out.push(Claimed { id, device_id, platform, token, environment, payload, attempts });
    }
    Ok(out)
}

/// At start: pushes left `sending` go back to the queue (a push sent twice is a small harm; one
/// lost is not).
pub fn recover(conn: &Connection, now: jiff::Timestamp) -> anyhow::Result<usize> {
    Ok(conn
        .prepare_cached("UPDATE pushes SET status = 'queued', next_attempt_at = ?1 WHERE status = 'sending'")?
        .execute([millis(now)])?)
}

pub fn finish(
    conn: &Connection,
    id: i64,
    status: &str,
    error: Option<&str>,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached("UPDATE pushes SET status = ?2, error = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, status, error, millis(now)])?;
    Ok(())
}

/// Marks pushes sent, in one statement.
pub fn finish_sent(conn: &Connection, ids: &[i64], now: jiff::Timestamp) -> anyhow::Result<()> {
    if !ids.is_empty() {
        conn.prepare_cached(
            "UPDATE pushes SET status = 'sent', error = NULL, updated_at = ?2 WHERE id IN (SELECT value FROM json_each(?1))",
        )?
        .execute(params![serde_json::to_string(ids)?, millis(now)])?;
    }
    Ok(())
}

pub fn retry(
    conn: &Connection,
    id: i64,
    at: jiff::Timestamp,
    error: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached("UPDATE pushes SET status = 'queued', next_attempt_at = ?2, error = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, millis(at), error, millis(now)])?;
    Ok(())
}

/// A token the provider says is dead: the device goes (and its queued pushes with it).
pub fn forget_device(conn: &Connection, device_id: i64) -> anyhow::Result<()> {
    conn.prepare_cached("DELETE FROM devices WHERE id = ?1")?.execute([device_id])?;
    Ok(())
}
/// The sandbox provider's delivery: the push is recorded, for `GET /v1/sandbox/pushes`.
pub fn record_sandbox_push(
    tx: &Connection,
    platform: &str,
    token: &str,
    payload: &Payload,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sandbox_pushes (platform, token, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![platform, token, serde_json::to_string(payload)?, millis(now)])
    .context("recording a sandbox push")?;
    Ok(())
}

/// The sandbox's record of the pushes to the agent's devices, newest first (at most 200).
pub fn sandbox_pushes(conn: &Connection, agent_id: i64) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.platform, s.token, s.payload, s.created_at FROM sandbox_pushes s
         JOIN devices d ON d.platform = s.platform AND d.token = s.token
         WHERE d.agent_id = ?1 ORDER BY s.id DESC LIMIT 200",
    )?;
    let rows = stmt.query_map([agent_id], |r| {
        let payload: String = r.get(2)?;
        Ok(serde_json::json!({
            "platform": r.get::<_, String>(0)?, "token": r.get::<_, String>(1)?,
            "payload": serde_json::from_str::<serde_json::Value>(&payload).unwrap_or_default(),
            "created_at": timestamp(r.get(3)?),
        }))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
