//! All SQL of the sandbox provider: its record of what it "sent".

use rusqlite::{Connection, params};

/// One text the sandbox took: (sid, from, to, body, media URLs as JSON).
pub type Sent = (String, String, String, String, String);

pub fn record(tx: &Connection, m: &Sent, now: i64) -> anyhow::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sandbox_messages (sid, sender, recipient, body, media_urls, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![m.0, m.1, m.2, m.3, m.4, now])?;
    Ok(())
}

/// The (sid, body) of texts from `from` to `to` since `since`.
pub fn sent_since(c: &Connection, to: &str, from: &str, since: i64) -> anyhow::Result<Vec<(String, String)>> {
    let mut stmt = c.prepare_cached(
        "SELECT sid, body FROM sandbox_messages WHERE recipient = ?1 AND sender = ?2 AND created_at >= ?3",
    )?;
    let rows = stmt.query_map(params![to, from, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
