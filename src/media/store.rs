//! All SQL of media.

use rusqlite::{Connection, OptionalExtension, params};

/// An upload to keep.
pub struct NewMedia {
    pub id: String,
    pub agent_id: i64,
    pub content_type: &'static str,
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

pub fn insert(tx: &Connection, m: &NewMedia, now: i64) -> anyhow::Result<()> {
    tx.prepare_cached(
        "INSERT INTO media (id, agent_id, content_type, size, filename, bytes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        m.id,
        m.agent_id,
        m.content_type,
        m.bytes.len() as i64,
        m.filename,
        m.bytes,
        now
    ])?;
    Ok(())
}

/// A media item's type and bytes.
pub fn get(conn: &Connection, id: &str) -> anyhow::Result<Option<(String, Vec<u8>)>> {
    Ok(conn
        .prepare_cached("SELECT content_type, bytes FROM media WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// The first of `ids` the agent has no media for (the built-in ones aside).
pub fn first_unknown<'a>(
    conn: &Connection,
    agent_id: i64,
    ids: &'a [String],
) -> anyhow::Result<Option<&'a String>> {
    let mut known = conn.prepare_cached("SELECT 1 FROM media WHERE id = ?1 AND agent_id = ?2")?;
    for m in ids.iter().filter(|m| *m != super::CLEAR_PNG) {
        if !known.exists(params![m, agent_id])? {
            return Ok(Some(m));
        }
    }
    Ok(None)
}
