//! All SQL of idempotency keys.

use rusqlite::{Connection, OptionalExtension, params};

/// What is kept under a key: the request's hash and the answer.
pub struct Stored {
    pub hash: String,
    pub status: u16,
    pub response: String,
}

/// Lets an agent's keys older than `before` go.
pub fn forget_before(tx: &Connection, agent_id: i64, before: i64) -> anyhow::Result<()> {
    tx.prepare_cached("DELETE FROM idempotency_keys WHERE agent_id = ?1 AND created_at < ?2")?
        .execute(params![agent_id, before])?;
    Ok(())
}

/// Stores the answer under the key; false when another request holds the key already.
pub fn take(tx: &Connection, agent_id: i64, key: &str, s: &Stored, now: i64) -> anyhow::Result<bool> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO idempotency_keys (agent_id, key, request_hash, status, response, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        )?
        .execute(params![agent_id, key, s.hash, s.status, s.response, now])?
        == 1)
}

/// The answer kept under an agent's key since `since`.
pub fn get(c: &Connection, agent_id: i64, key: &str, since: i64) -> anyhow::Result<Option<Stored>> {
    Ok(c.prepare_cached(
        "SELECT request_hash, status, response FROM idempotency_keys
         WHERE agent_id = ?1 AND key = ?2 AND created_at >= ?3",
    )?
    .query_row(params![agent_id, key, since], |r| {
        Ok(Stored { hash: r.get(0)?, status: r.get(1)?, response: r.get(2)? })
    })
    .optional()?)
}
