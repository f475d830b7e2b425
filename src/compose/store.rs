//! All SQL of compose: quotes kept for the send that follows them (R-COST-5).

use rusqlite::{Connection, params};

use super::quote::{Quote, QuoteRequest};
use crate::db::millis;

/// Keeps a quote until it expires, for the send that names it; expired ones are removed.
pub fn save_quote(
    tx: &Connection,
    agent_id: i64,
    request: &QuoteRequest,
    q: &Quote,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    tx.prepare_cached("DELETE FROM quotes WHERE expires_at < ?1")?.execute([millis(now)])?;
    tx.prepare_cached(
        "INSERT INTO quotes (id, agent_id, request, fingerprint, totals, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        q.quote_id,
        agent_id,
        serde_json::to_string(request)?,
        q.fingerprint,
        serde_json::to_string(&q.totals)?,
        millis(now),
        millis(q.expires_at)
    ])?;
    Ok(())
}

/// A quote as remembered: what was asked, and what it came to.
pub struct StoredQuote {
    pub id: String,
    pub request: String,
    pub fingerprint: String,
    pub expires_at: i64,
}

/// The agent's kept quote `id`.
pub fn stored_quote(c: &Connection, agent_id: i64, id: String) -> anyhow::Result<Option<StoredQuote>> {
    use rusqlite::OptionalExtension;
    Ok(c.prepare_cached(
        "SELECT request, fingerprint, expires_at FROM quotes WHERE id = ?1 AND agent_id = ?2",
    )?
    .query_row(params![id, agent_id], |r| {
        Ok(StoredQuote { id: id.clone(), request: r.get(0)?, fingerprint: r.get(1)?, expires_at: r.get(2)? })
    })
    .optional()?)
}
