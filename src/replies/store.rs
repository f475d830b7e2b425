//! All SQL of replies: threads, notifications and stored replies.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use crate::db::timestamp;

/// The number a contact last texted the agent from, if any: where a thread reply goes by default.
pub fn last_texted_from(conn: &Connection, agent_id: i64, contact_id: i64) -> anyhow::Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT sender FROM inbound_messages WHERE contact_id = ?1 AND agent_id = ?2
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )?
        .query_row(params![contact_id, agent_id], |r| r.get(0))
        .optional()?)
}

/// Where a thread page starts: texts before (time, direction, id), newest first.
pub struct Before {
    pub at: i64,
    pub direction: String,
    pub id: i64,
}

/// A page of a contact's texts both ways, `limit + 1` read to tell whether more follow; each
/// with its key for the next cursor.
pub fn thread_page(
    c: &Connection,
    agent: i64,
    contact_id: i64,
    before: &Before,
    limit: usize,
) -> anyhow::Result<Vec<(i64, String, i64, Value)>> {
    let mut stmt = c.prepare_cached(
        "SELECT * FROM (
             SELECT created_at AS at, 'outbound' AS direction, id, body, media_urls AS media, status,
                    error_code, NULL AS read_at, sender, recipient
             FROM messages WHERE contact_id = ?1 AND agent_id = ?2
             UNION ALL
             SELECT created_at, 'inbound', id, body, media, 'received', NULL, read_at, sender, recipient
             FROM inbound_messages WHERE contact_id = ?1 AND agent_id = ?2)
         WHERE (at, direction, id) < (?3, ?4, ?5)
         ORDER BY at DESC, direction DESC, id DESC LIMIT ?6",
    )?;
    let direction = if before.direction.is_empty() { "zzzz" } else { &before.direction };
    let rows = stmt.query_map(
        params![contact_id, agent, before.at, direction, before.id, limit as i64 + 1],
        |r| {
            let media: String = r.get(4)?;
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                json!({
                    "direction": r.get::<_, String>(1)?, "id": r.get::<_, i64>(2)?, "body": r.get::<_, String>(3)?,
                    "media": serde_json::from_str::<Value>(&media).unwrap_or_default(),
                    "status": r.get::<_, String>(5)?, "error_code": r.get::<_, Option<i64>>(6)?,
                    "read": r.get::<_, Option<i64>>(7)?.is_some() || r.get::<_, String>(1)? == "outbound",
                    "from": r.get::<_, String>(8)?, "to": r.get::<_, String>(9)?,
                    "at": timestamp(r.get(0)?),
                }),
            ))
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A contact's unread replies.
pub fn unread_of_contact(c: &Connection, agent: i64, contact_id: i64) -> anyhow::Result<i64> {
    Ok(c.prepare_cached(
        "SELECT count(*) FROM inbound_messages WHERE contact_id = ?1 AND agent_id = ?2 AND read_at IS NULL",
    )?
    .query_row(params![contact_id, agent], |r| r.get(0))?)
}

/// Marks a contact's replies and their notifications read.
pub fn mark_contact_read(tx: &Connection, agent: i64, contact_id: i64, now: i64) -> anyhow::Result<()> {
    tx.prepare_cached("UPDATE inbound_messages SET read_at = ?3 WHERE contact_id = ?1 AND agent_id = ?2 AND read_at IS NULL")?
        .execute(params![contact_id, agent, now])?;
    tx.prepare_cached(
        "UPDATE notifications SET read_at = ?3 WHERE contact_id = ?1 AND agent_id = ?2 AND read_at IS NULL",
    )?
    .execute(params![contact_id, agent, now])?;
    Ok(())
}

/// An agent's notifications, newest first (only the unread with `unread`).
pub fn notifications(c: &Connection, agent: i64, unread: bool, limit: usize) -> anyhow::Result<Vec<Value>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, contact_id, message_id, title, preview, read_at, created_at FROM notifications
         WHERE agent_id = ?1 AND (?2 = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![agent, unread, limit as i64], |r| {
        Ok(json!({
            "id": r.get::<_, i64>(0)?, "contact_id": r.get::<_, Option<i64>>(1)?, "message_id": r.get::<_, i64>(2)?,
            "contact_name": r.get::<_, String>(3)?, "preview": r.get::<_, String>(4)?,
            "read": r.get::<_, Option<i64>>(5)?.is_some(), "created_at": timestamp(r.get(6)?),
        }))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Marks one notification read; false when the agent has no such notification.
pub fn read_notification(tx: &Connection, agent: i64, id: i64, now: i64) -> anyhow::Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE notifications SET read_at = coalesce(read_at, ?3) WHERE id = ?1 AND agent_id = ?2",
        )?
        .execute(params![id, agent, now])?;
    Ok(n == 1)
}

/// Marks all of an agent's notifications read.
pub fn read_all_notifications(tx: &Connection, agent: i64, now: i64) -> anyhow::Result<()> {
    tx.prepare_cached("UPDATE notifications SET read_at = ?2 WHERE agent_id = ?1 AND read_at IS NULL")?
        .execute(params![agent, now])?;
    Ok(())
}

/// The agent holding a sending number.
pub fn agent_holding(conn: &Connection, number: &str) -> anyhow::Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM agents WHERE sending_number = ?1")?
        .query_row([number], |r| r.get(0))
        .optional()?)
}

/// Whether a reply with this MessageSid is stored already.
pub fn is_stored(conn: &Connection, sid: &str) -> anyhow::Result<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM inbound_messages WHERE twilio_sid = ?1")?.exists([sid])?)
}

/// The agent's contact with this number, in any format it was entered (R-IN-2), and its name.
pub fn contact_with_number(
    conn: &Connection,
    agent_id: i64,
    e164: &str,
) -> anyhow::Result<Option<(i64, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT p.contact_id, trim(c.first_name || ' ' || c.last_name) FROM contact_phones p
             JOIN contacts c ON c.id = p.contact_id
             WHERE p.agent_id = ?1 AND p.e164 = ?2 ORDER BY p.contact_id LIMIT 1",
        )?
        .query_row(params![agent_id, e164], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// A reply to store.
pub struct Inbound<'a> {
    pub sid: &'a str,
    pub agent_id: i64,
    pub contact_id: i64,
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    pub media: String,
    pub geo: String,
    pub intent: Option<&'a str>,
}

pub fn insert_inbound(tx: &Connection, r: &Inbound<'_>, now: i64) -> anyhow::Result<i64> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO inbound_messages (twilio_sid, agent_id, contact_id, sender, recipient, body, media, geo, intent, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .insert(params![r.sid, r.agent_id, r.contact_id, r.from, r.to, r.body, r.media, r.geo, r.intent, now])?)
}

/// The notification of a reply (R-IN-3).
pub fn notify(
    tx: &Connection,
    agent_id: i64,
    contact_id: i64,
    message_id: i64,
    title: &str,
    preview: &str,
    now: i64,
) -> anyhow::Result<i64> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO notifications (agent_id, contact_id, message_id, title, preview, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .insert(params![agent_id, contact_id, message_id, title, preview, now])?)
}

/// An agent's unread notifications, as the triggers on `notifications` keep them.
pub fn unread_notifications(conn: &Connection, agent_id: i64) -> anyhow::Result<u32> {
    Ok(conn
        .prepare_cached("SELECT unread_notifications FROM agents WHERE id = ?1")?
        .query_row([agent_id], |r| r.get(0))?)
}
