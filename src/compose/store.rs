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
