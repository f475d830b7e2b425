//! All SQL of the outbox: batches, messages, claims, outcomes, refunds.

pub mod scheduled;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::status::Status;
use crate::db::{millis, timestamp};
use crate::limits::Periods;

/// A text to queue.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub contact_id: i64,
    pub recipient: String,
    pub body: String,
    pub media_urls: Vec<String>,
    pub kind: &'static str,
    pub segments: u32,
    pub credits: u32,
    /// Automated texts: the sending window's close at the recipient's place, and when it opens
    /// again (R-QH-1). `None` for one-off texts.
    pub quiet: Option<(jiff::Timestamp, jiff::Timestamp)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    OneToOne = 0,
    Bulk = 1,
    Plan = 2,
}

impl Priority {
    pub fn kind(self) -> &'static str {
        match self {
            Priority::OneToOne => "one_to_one",
            Priority::Bulk => "bulk",
            Priority::Plan => "plan",
        }
    }
}

pub struct NewBatch<'a> {
    pub id: &'a str,
    pub agent_id: i64,
    pub quote_id: Option<&'a str>,
    pub priority: Priority,
    pub script: Option<(i64, i64)>,
    pub sender: &'a str,
    /// False for texts that count toward no limit (carrier-required answers, team notices).
    pub counted: bool,
}

/// Queues a batch inside the caller's transaction; returns the message ids.
pub fn queue(
    tx: &Connection,
    b: &NewBatch<'_>,
    messages: &[Outgoing],
    periods: &Periods,
    now: jiff::Timestamp,
) -> anyhow::Result<Vec<i64>> {
    tx.prepare_cached(
        "INSERT INTO batches (id, agent_id, quote_id, kind, script_id, script_version, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        b.id,
        b.agent_id,
        b.quote_id,
        b.priority.kind(),
        b.script.map(|s| s.0),
        b.script.map(|s| s.1),
        millis(now)
    ])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO messages (batch_id, agent_id, contact_id, sender, recipient, body, media_urls, kind, segments,
             credits, priority, status, next_attempt_at, usage_day, usage_month, counted, created_at, updated_at,
             not_after, reopens_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'queued', ?12, ?13, ?14, ?15, ?12, ?12, ?16, ?17)",
    )?;
    let mut ids = Vec::with_capacity(messages.len());
    for m in messages {
        ids.push(stmt.insert(params![
            b.id,
            b.agent_id,
            m.contact_id,
            b.sender,
            m.recipient,
            m.body,
            serde_json::to_string(&m.media_urls)?,
            m.kind,
            m.segments,
            m.credits,
            b.priority as i64,
            millis(now),
            periods.day,
            periods.month,
            b.counted,
            m.quiet.map(|q| millis(q.0)),
            m.quiet.map(|q| millis(q.1)),
        ])?);
    }
    Ok(ids)
}

/// A message the dispatcher took to send.
/// A text without limits or credits: a HELP answer, the team notice, the privacy text.
pub fn uncounted(contact_id: i64, recipient: &str, body: String) -> Outgoing {
    let seg = crate::domain::segments::segment(&body);
    Outgoing {
        contact_id,
        recipient: recipient.to_owned(),
        body,
        media_urls: vec![],
        kind: "sms",
        segments: seg.segments as u32,
        credits: 0,
        quiet: None,
    }
}

/// Queues `texts` from the agent's number as one uncounted batch, ahead of other traffic;
/// returns the batch id.
pub fn queue_uncounted(
    tx: &Connection,
    agent: &crate::accounts::model::Agent,
    sender: &str,
    texts: &[Outgoing],
    now: jiff::Timestamp,
) -> anyhow::Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let batch = NewBatch {
        id: &id,
        agent_id: agent.id,
        quote_id: None,
        priority: Priority::OneToOne,
        script: None,
        sender,
        counted: false,
    };
    queue(tx, &batch, texts, &crate::limits::agent_periods(agent, now), now)?;
    Ok(id)
}

#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub agent_id: i64,
    pub sender: String,
    pub recipient: String,
    pub body: String,
    pub media_urls: Vec<String>,
    pub segments: u32,
    /// POSTs to Twilio, this claim's included (a claim that does not POST gives its count back).
    pub attempts: u32,
    /// The last attempt's answer was lost: ask Twilio before sending again.
    pub reconcile: bool,
    /// Reconciliation lookups that failed in a row (they back off without using tries).
    pub lookups: u32,
    pub sending_since: Option<jiff::Timestamp>,
    /// See [`Outgoing::quiet`].
    pub quiet: Option<(jiff::Timestamp, jiff::Timestamp)>,
}

/// Takes up to `limit` due messages, replies first, and marks them `sending` (before any POST).
/// The senders that have texts due.
pub fn due_senders(conn: &Connection, now: jiff::Timestamp) -> anyhow::Result<Vec<String>> {
    // A skip scan over the queue's index, one step per sender, then one probe per sender: a
    // plain DISTINCT would read every queued row (100,000 after a plan's catch-up) each loop.
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE s(sender) AS (
             SELECT min(sender) FROM messages WHERE status = 'queued'
             UNION ALL
             SELECT (SELECT min(m.sender) FROM messages m WHERE m.status = 'queued' AND m.sender > s.sender)
             FROM s WHERE s.sender IS NOT NULL)
         SELECT sender FROM s WHERE sender IS NOT NULL AND EXISTS (
             SELECT 1 FROM messages m WHERE m.status = 'queued' AND m.sender = s.sender AND m.next_attempt_at <= ?1)",
    )?;
    let senders = stmt.query_map([millis(now)], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(senders)
}

/// Takes up to `room` due messages of `sender`, replies first, and marks them `sending` (before
/// any POST).
pub fn claim_due(
    tx: &Connection,
    now: jiff::Timestamp,
    sender: &str,
    room: usize,
) -> anyhow::Result<Vec<Claimed>> {
    let mut stmt = tx.prepare_cached(
        "UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = ?1,
             sending_since = CASE WHEN reconcile = 1 THEN sending_since ELSE ?1 END
         WHERE id IN (SELECT id FROM messages WHERE status = 'queued' AND sender = ?2 AND next_attempt_at <= ?1
                      ORDER BY priority, next_attempt_at, id LIMIT ?3)
         RETURNING id, agent_id, sender, recipient, body, media_urls, segments, attempts, reconcile, sending_since,
             not_after, reopens_at, lookups",
    )?;
    let rows = stmt.query_map(params![millis(now), sender, room as i64], |r| {
        let media: String = r.get(5)?;
        Ok(Claimed {
            id: r.get(0)?,
            agent_id: r.get(1)?,
            sender: r.get(2)?,
            recipient: r.get(3)?,
            body: r.get(4)?,
            media_urls: serde_json::from_str(&media).unwrap_or_default(),
            segments: r.get(6)?,
            attempts: r.get(7)?,
            reconcile: r.get(8)?,
            lookups: r.get(12)?,
            sending_since: r.get::<_, Option<i64>>(9)?.map(timestamp),
            quiet: match (r.get::<_, Option<i64>>(10)?, r.get::<_, Option<i64>>(11)?) {
                (Some(close), Some(open)) => Some((timestamp(close), timestamp(open))),
                _ => None,
            },
        })
    })?;
    let mut claimed: Vec<Claimed> = rows.collect::<Result<_, _>>().context("claiming messages")?;
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// At start: rows left `sending` by a crash go back to the queue, to be reconciled before any
/// resend (R-SND-5).
pub fn recover(conn: &Connection, now: jiff::Timestamp) -> anyhow::Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE messages SET status = 'queued', reconcile = 1, next_attempt_at = ?1, updated_at = ?1
             WHERE status = 'sending'",
        )?
        .execute([millis(now)])?)
}

/// Twilio accepted the text.
pub fn mark_sent(
    conn: &Connection,
    id: i64,
    sid: &str,
    twilio_status: &str,
    segments: Option<u32>,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        // OR IGNORE: a sid already on another row (a reconcile that picked the wrong text) must not
        // fail the batch it is recorded with; the row stays `sending` until the next start reconciles it.
        "UPDATE OR IGNORE messages SET status = 'sent', twilio_sid = ?2, twilio_status = ?3, segments = coalesce(?4, segments),
             reconcile = 0, sent_at = ?5, updated_at = ?5, error_code = NULL, error_message = NULL
         WHERE id = ?1 AND status = 'sending'",
    )?
    .execute(params![id, sid, twilio_status, segments, millis(now)])?;
    Ok(())
}

/// Reconciling failed (Twilio's list did not answer): back to the queue for `at`, still to be
/// reconciled, without using a try (R-SND-5).
pub fn lookup_failed(
    conn: &Connection,
    id: i64,
    at: jiff::Timestamp,
    error: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "UPDATE messages SET status = 'queued', next_attempt_at = ?2, attempts = max(0, attempts - 1),
             lookups = lookups + 1, error_message = ?3, updated_at = ?4
         WHERE id = ?1 AND status = 'sending'",
    )?
    .execute(params![id, millis(at), error, millis(now)])?;
    Ok(())
}

/// A passing failure: back to the queue for `at`.
pub fn requeue(
    conn: &Connection,
    id: i64,
    at: jiff::Timestamp,
    reconcile: bool,
    error: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "UPDATE messages SET status = 'queued', next_attempt_at = ?2, reconcile = ?3, lookups = 0, error_message = ?4,
             updated_at = ?5
         WHERE id = ?1 AND status = 'sending'",
    )?
    .execute(params![id, millis(at), reconcile, error, millis(now)])?;
    Ok(())
}

/// Whether an earlier text from `sender` to `recipient` is still queued or sending: texts to one
/// number go out in the order they were queued (the team notice before the text it precedes).
pub fn earlier_pending(conn: &Connection, sender: &str, recipient: &str, id: i64) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM messages WHERE recipient = ?2 AND id < ?3 AND status IN ('queued', 'sending') AND sender = ?1",
        )?
        .exists(params![sender, recipient, id])?)
}

/// A claimed automated text past its window's close waits until `at`, with its next close and
/// opening (R-QH-1); the claim is not counted as a try.
pub fn hold_quiet(
    conn: &Connection,
    id: i64,
    (at, close, open): (jiff::Timestamp, jiff::Timestamp, jiff::Timestamp),
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "UPDATE messages SET status = 'queued', next_attempt_at = ?2, attempts = max(0, attempts - 1),
             not_after = ?3, reopens_at = ?4, error_message = 'quiet_hours: waits for the sending window', updated_at = ?5
         WHERE id = ?1 AND status = 'sending'",
    )?
    .execute(params![id, millis(at), millis(close), millis(open), millis(now)])?;
    Ok(())
}

/// Puts a claimed text back without counting the claim as a try.
pub fn hold(conn: &Connection, id: i64, until: jiff::Timestamp, now: jiff::Timestamp) -> anyhow::Result<()> {
    conn.prepare_cached(
        "UPDATE messages SET status = 'queued', next_attempt_at = ?2, attempts = max(0, attempts - 1), updated_at = ?3
         WHERE id = ?1 AND status = 'sending'",
    )?
    .execute(params![id, millis(until), millis(now)])?;
    Ok(())
}

/// Ends a message that Twilio never accepted (`failed`, or `canceled` before sending), and gives
/// its reservation back (R-LIM-3). `from` is the state it must still be in.
pub fn end_unsent(
    conn: &Connection,
    id: i64,
    from: Status,
    to: Status,
    code: Option<i64>,
    message: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<bool> {
    let row = conn
        .prepare_cached(
            "UPDATE messages SET status = ?3, error_code = ?4, error_message = ?5, updated_at = ?6, refunded = counted
             WHERE id = ?1 AND status = ?2
             RETURNING agent_id, usage_day, usage_month, segments, credits, counted, recipient",
        )?
        .query_row(params![id, from.as_str(), to.as_str(), code, message, millis(now)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .optional()?;
    let Some((agent, day, month, segments, credits, counted, recipient)) = row else { return Ok(false) };
    if counted {
        crate::limits::store::release(conn, agent, &day, &month, segments, credits)?;
        // The day's distinct number too, when no other counted text of the day went to it.
        let other = conn
            .prepare_cached(
                "SELECT 1 FROM messages WHERE agent_id = ?1 AND recipient = ?2 AND usage_day = ?3 AND counted = 1
                     AND refunded = 0 AND id <> ?4",
            )?
            .exists(params![agent, recipient, day, id])?;
        if !other {
            crate::limits::store::release_number(conn, agent, &day, &recipient)?;
        }
    }
    Ok(true)
}

/// A status callback: moves the message forward only; `Ok(false)` when it did not move.
pub fn apply_status(
    conn: &Connection,
    sid: &str,
    to: Option<Status>,
    twilio_status: &str,
    error_code: Option<i64>,
    now: jiff::Timestamp,
) -> anyhow::Result<bool> {
    let current: Option<String> = conn
        .prepare_cached("SELECT status FROM messages WHERE twilio_sid = ?1")?
        .query_row([sid], |r| r.get(0))
        .optional()?;
    let Some(current) = current.as_deref().and_then(Status::parse) else { return Ok(false) };
    match to {
        // A late or repeated callback writes nothing: no status, no error code.
        Some(t) if t.rank() <= current.rank() => Ok(false),
        Some(t) => {
            conn.prepare_cached(
                "UPDATE messages SET status = ?2, twilio_status = ?3, error_code = coalesce(?4, error_code),
                     updated_at = ?5
                 WHERE twilio_sid = ?1",
            )?
            .execute(params![sid, t.as_str(), twilio_status, error_code, millis(now)])?;
            Ok(true)
        }
        // A status this version does not know is kept as written; it moves nothing.
        None => {
            conn.prepare_cached(
                "UPDATE messages SET twilio_status = ?2, updated_at = ?3 WHERE twilio_sid = ?1",
            )?
            .execute(params![sid, twilio_status, millis(now)])?;
            Ok(false)
        }
    }
}

/// A message as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub batch_id: String,
    pub contact_id: Option<i64>,
    pub direction: &'static str,
    pub from: String,
    pub to: String,
    pub body: String,
    pub media_urls: Vec<String>,
    pub kind: String,
    pub segments: u32,
    pub credits: u32,
    pub status: String,
    pub twilio_status: Option<String>,
    pub twilio_sid: Option<String>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub attempts: u32,
    pub created_at: jiff::Timestamp,
    pub sent_at: Option<jiff::Timestamp>,
}

fn view(r: &Row) -> rusqlite::Result<MessageView> {
    let media: String = r.get(7)?;
    Ok(MessageView {
        id: r.get(0)?,
        batch_id: r.get(1)?,
        contact_id: r.get(2)?,
        direction: "outbound",
        from: r.get(3)?,
        to: r.get(4)?,
        body: r.get(5)?,
        kind: r.get(6)?,
        media_urls: serde_json::from_str(&media).unwrap_or_default(),
        segments: r.get(8)?,
        credits: r.get(9)?,
        status: r.get(10)?,
        twilio_status: r.get(11)?,
        twilio_sid: r.get(12)?,
        error_code: r.get(13)?,
        error_message: r.get(14)?,
        attempts: r.get(15)?,
        created_at: timestamp(r.get(16)?),
        sent_at: r.get::<_, Option<i64>>(17)?.map(timestamp),
    })
}

const VIEW: &str =
    "SELECT id, batch_id, contact_id, sender, recipient, body, kind, media_urls, segments, credits, status,
     twilio_status, twilio_sid, error_code, error_message, attempts, created_at, sent_at FROM messages";

pub fn get(conn: &Connection, agent_id: i64, id: i64) -> anyhow::Result<Option<MessageView>> {
    conn.prepare_cached(&format!("{VIEW} WHERE id = ?1 AND agent_id = ?2"))?
        .query_row([id, agent_id], view)
        .optional()
        .context("reading a message")
}

pub fn of_batch(conn: &Connection, batch_id: &str) -> anyhow::Result<Vec<MessageView>> {
    let mut stmt = conn.prepare_cached(&format!("{VIEW} WHERE batch_id = ?1 ORDER BY id"))?;
    let rows = stmt.query_map([batch_id], view)?;
    rows.collect::<Result<_, _>>().context("reading a batch's messages")
}

/// A batch's kind, creation time, and per state: how many messages and the credits they hold.
pub struct Progress {
    pub kind: String,
    pub created_at: jiff::Timestamp,
    pub counts: Vec<(String, i64, i64)>,
}

pub fn batch_progress(conn: &Connection, agent_id: i64, batch_id: &str) -> anyhow::Result<Option<Progress>> {
    let head: Option<(String, i64)> = conn
        .prepare_cached("SELECT kind, created_at FROM batches WHERE id = ?1 AND agent_id = ?2")?
        .query_row(params![batch_id, agent_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((kind, created)) = head else { return Ok(None) };
    let mut stmt = conn.prepare_cached(
        "SELECT status, count(*), sum(CASE WHEN refunded = 1 THEN 0 ELSE credits END) FROM messages
         WHERE batch_id = ?1 GROUP BY status",
    )?;
    let counts =
        stmt.query_map([batch_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
    Ok(Some(Progress { kind, created_at: timestamp(created), counts }))
}

/// Whether a Twilio sid is already recorded on a message.
pub fn known_sids(conn: &Connection, sids: &[String]) -> anyhow::Result<std::collections::HashSet<String>> {
    let list = serde_json::to_string(sids)?;
    let mut stmt = conn.prepare_cached(
        "SELECT twilio_sid FROM messages WHERE twilio_sid IN (SELECT value FROM json_each(?1))",
    )?;
    let known = stmt.query_map([list], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(known)
}

/// Marks what a carrier error says about a number.
pub fn flag_number(
    conn: &Connection,
    number: &str,
    code: i64,
    reason: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO number_flags (number, error_code, reason, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (number) DO UPDATE SET error_code = excluded.error_code, reason = excluded.reason,
             updated_at = excluded.updated_at",
    )?
    .execute(params![number, code, reason, millis(now)])?;
    Ok(())
}

/// The sandbox's record of an agent's own texts, newest first.
pub fn sandbox_record(c: &Connection, agent_id: i64) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut stmt = c.prepare_cached(
        "SELECT s.sid, s.sender, s.recipient, s.body, s.media_urls, s.created_at
         FROM sandbox_messages s JOIN messages m ON m.twilio_sid = s.sid
         WHERE m.agent_id = ?1
         ORDER BY s.created_at DESC, s.sid LIMIT 500",
    )?;
    let rows = stmt.query_map([agent_id], |r| {
        let media: String = r.get(4)?;
        Ok(serde_json::json!({
            "sid": r.get::<_, String>(0)?, "from": r.get::<_, String>(1)?, "to": r.get::<_, String>(2)?,
            "body": r.get::<_, String>(3)?,
            "media_urls": serde_json::from_str::<serde_json::Value>(&media).unwrap_or_default(),
            "created_at": crate::db::timestamp(r.get(5)?),
        }))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
