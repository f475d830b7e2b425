//! All SQL of plans, enrollments, scheduled jobs and team notices.

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::model::Step;
use crate::db::{millis, timestamp};

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub id: i64,
    pub agent_id: i64,
    pub name: String,
    pub steps: Vec<Step>,
    pub stop_on_reply: bool,
    pub paused: bool,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

const PLAN_COLUMNS: &str = "id, agent_id, name, steps, stop_on_reply, paused, created_at, updated_at";

fn plan_row(r: &rusqlite::Row) -> rusqlite::Result<Plan> {
    let steps: String = r.get(3)?;
    Ok(Plan {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        name: r.get(2)?,
        steps: serde_json::from_str(&steps).unwrap_or_default(),
        stop_on_reply: r.get(4)?,
        paused: r.get(5)?,
        created_at: timestamp(r.get(6)?),
        updated_at: timestamp(r.get(7)?),
    })
}

pub fn insert(
    tx: &Connection,
    agent_id: i64,
    name: &str,
    steps: &[Step],
    stop_on_reply: bool,
    now: jiff::Timestamp,
) -> anyhow::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO plans (agent_id, name, steps, stop_on_reply, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![agent_id, name, serde_json::to_string(steps)?, stop_on_reply, millis(now)])?;
    Ok(tx.last_insert_rowid())
}

pub fn update(
    tx: &Connection,
    id: i64,
    name: &str,
    steps: &[Step],
    stop_on_reply: bool,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    tx.prepare_cached(
        "UPDATE plans SET name = ?2, steps = ?3, stop_on_reply = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![id, name, serde_json::to_string(steps)?, stop_on_reply, millis(now)])?;
    Ok(())
}

pub fn set_paused(tx: &Connection, id: i64, paused: bool, now: jiff::Timestamp) -> anyhow::Result<()> {
    tx.prepare_cached("UPDATE plans SET paused = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![
        id,
        paused,
        millis(now)
    ])?;
    Ok(())
}

/// A plan of the agent (admins see every plan).
pub fn get(conn: &Connection, agent_id: Option<i64>, id: i64) -> anyhow::Result<Option<Plan>> {
    conn.prepare_cached(&format!(
        "SELECT {PLAN_COLUMNS} FROM plans WHERE id = ?1 AND (?2 IS NULL OR agent_id = ?2)"
    ))?
    .query_row(params![id, agent_id], plan_row)
    .optional()
    .context("reading a plan")
}

pub fn list(conn: &Connection, agent_id: i64) -> anyhow::Result<Vec<(Plan, i64)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PLAN_COLUMNS}, (SELECT count(*) FROM enrollments e WHERE e.plan_id = p.id AND e.state = 'active')
         FROM plans p WHERE agent_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([agent_id], |r| Ok((plan_row(r)?, r.get(8)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deleting a plan ends its enrollments with it (their rows go too).
pub fn delete(tx: &Connection, id: i64) -> anyhow::Result<()> {
    tx.prepare_cached("DELETE FROM plans WHERE id = ?1")?.execute([id])?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct Enrollment {
    pub id: i64,
    pub plan_id: i64,
    pub contact_id: i64,
    pub contact_name: String,
    pub state: String,
    /// The next step, counted from 1; none once the enrollment ended.
    pub next_step: Option<i64>,
    pub next_at: Option<jiff::Timestamp>,
    pub waiting: Option<String>,
    pub reason: Option<String>,
    pub time_zone: String,
    pub zone_source: String,
    pub steps_sent: i64,
    pub enrolled_at: jiff::Timestamp,
}

pub struct NewEnrollment<'a> {
    pub contact_id: i64,
    pub due_at: jiff::Timestamp,
    pub time_zone: &'a str,
    pub zone_source: &'a str,
    pub enrolled_on: String,
}

/// Enrolls contacts; one already enrolled (active) in the plan is left as it is. Returns how many
/// were enrolled.
pub fn enroll(
    tx: &Connection,
    plan_id: i64,
    agent_id: i64,
    items: &[NewEnrollment<'_>],
    now: jiff::Timestamp,
) -> anyhow::Result<usize> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO enrollments (plan_id, agent_id, contact_id, state, step, due_at, time_zone, zone_source,
             enrolled_on, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'active', 0, ?4, ?5, ?6, ?7, ?8, ?8)
         ON CONFLICT (plan_id, contact_id) WHERE state = 'active' DO NOTHING",
    )?;
    let mut n = 0;
    for e in items {
        n += stmt.execute(params![
            plan_id,
            agent_id,
            e.contact_id,
            millis(e.due_at),
            e.time_zone,
            e.zone_source,
            e.enrolled_on,
            millis(now)
        ])?;
    }
    Ok(n)
}

const ENROLLMENT_COLUMNS: &str =
    "e.id, e.plan_id, e.contact_id, trim(c.first_name || ' ' || c.last_name), e.state,
    e.step, e.due_at, e.waiting, e.reason, e.time_zone, e.zone_source, e.sent, e.created_at";

fn enrollment_row(r: &rusqlite::Row) -> rusqlite::Result<Enrollment> {
    let state: String = r.get(4)?;
    let active = state == "active";
    Ok(Enrollment {
        id: r.get(0)?,
        plan_id: r.get(1)?,
        contact_id: r.get(2)?,
        contact_name: r.get(3)?,
        next_step: active.then(|| r.get::<_, i64>(5).map(|s| s + 1)).transpose()?,
        next_at: r.get::<_, Option<i64>>(6)?.filter(|_| active).map(timestamp),
        state,
        waiting: r.get(7)?,
        reason: r.get(8)?,
        time_zone: r.get(9)?,
        zone_source: r.get(10)?,
        steps_sent: r.get(11)?,
        enrolled_at: timestamp(r.get(12)?),
    })
}

/// A page of a plan's enrollments, by id after `after`.
pub fn enrollments(
    conn: &Connection,
    plan_id: i64,
    after: i64,
    limit: usize,
) -> anyhow::Result<Vec<Enrollment>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENROLLMENT_COLUMNS} FROM enrollments e JOIN contacts c ON c.id = e.contact_id
         WHERE e.plan_id = ?1 AND e.id > ?2 ORDER BY e.id LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![plan_id, after, limit as i64], enrollment_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn enrollment(conn: &Connection, plan_id: i64, id: i64) -> anyhow::Result<Option<Enrollment>> {
    conn.prepare_cached(&format!(
        "SELECT {ENROLLMENT_COLUMNS} FROM enrollments e JOIN contacts c ON c.id = e.contact_id
         WHERE e.plan_id = ?1 AND e.id = ?2"
    ))?
    .query_row(params![plan_id, id], enrollment_row)
    .optional()
    .context("reading an enrollment")
}

/// Ends an active enrollment with a reason; false when it was not active.
pub fn stop(tx: &Connection, id: i64, reason: &str, now: jiff::Timestamp) -> anyhow::Result<bool> {
    Ok(tx
        .prepare_cached(
            "UPDATE enrollments SET state = 'stopped', due_at = NULL, waiting = NULL, reason = ?2, updated_at = ?3
             WHERE id = ?1 AND state = 'active'",
        )?
        .execute(params![id, reason, millis(now)])?
        > 0)
}

/// A reply ends the contact's enrollments in plans that stop on reply (R-PLAN-3).
pub fn stop_on_reply(tx: &Connection, contact_id: i64, now: jiff::Timestamp) -> anyhow::Result<usize> {
    stop_enrollments(tx, contact_id, "replied", true, now)
}

/// An opt-out ends all of the contact's active enrollments (R-PLAN-3).
pub fn stop_contact(
    tx: &Connection,
    contact_id: i64,
    reason: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<usize> {
    stop_enrollments(tx, contact_id, reason, false, now)
}

fn stop_enrollments(
    tx: &Connection,
    contact_id: i64,
    reason: &str,
    only_stop_on_reply: bool,
    now: jiff::Timestamp,
) -> anyhow::Result<usize> {
    Ok(tx
        .prepare_cached(
            "UPDATE enrollments SET state = 'stopped', due_at = NULL, waiting = NULL, reason = ?2, updated_at = ?3
             WHERE contact_id = ?1 AND state = 'active'
               AND (?4 = 0 OR plan_id IN (SELECT id FROM plans WHERE stop_on_reply = 1))",
        )?
        .execute(params![contact_id, reason, millis(now), only_stop_on_reply])?)
}

/// An active enrollment, as the scheduler and plan edits need it.
#[derive(Debug, Clone)]
pub struct Live {
    pub id: i64,
    pub plan_id: i64,
    pub agent_id: i64,
    pub contact_id: i64,
    pub step: usize,
    pub time_zone: String,
    pub enrolled_on: String,
}

fn live_row(r: &rusqlite::Row) -> rusqlite::Result<Live> {
    Ok(Live {
        id: r.get(0)?,
        plan_id: r.get(1)?,
        agent_id: r.get(2)?,
        contact_id: r.get(3)?,
        step: r.get::<_, i64>(4)? as usize,
        time_zone: r.get(5)?,
        enrolled_on: r.get(6)?,
    })
}

/// Due active enrollments of plans not paused, oldest first.
pub fn due(conn: &Connection, now: jiff::Timestamp, limit: usize) -> anyhow::Result<Vec<Live>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.plan_id, e.agent_id, e.contact_id, e.step, e.time_zone, e.enrolled_on
         FROM enrollments e JOIN plans p ON p.id = e.plan_id
         WHERE e.state = 'active' AND e.due_at <= ?1 AND p.paused = 0
         ORDER BY e.due_at, e.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![millis(now), limit as i64], live_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn live_of_plan(conn: &Connection, plan_id: i64) -> anyhow::Result<Vec<Live>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, plan_id, agent_id, contact_id, step, time_zone, enrolled_on FROM enrollments
         WHERE plan_id = ?1 AND state = 'active'",
    )?;
    let rows = stmt.query_map([plan_id], live_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Moves an enrollment on: to its next step at `due_at`, or completed when there is none.
pub fn advance(
    tx: &Connection,
    id: i64,
    next: Option<(usize, jiff::Timestamp)>,
    sent: bool,
    reason: Option<&str>,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let (state, step, due) = match next {
        Some((step, at)) => ("active", Some(step as i64), Some(millis(at))),
        None => ("completed", None, None),
    };
    tx.prepare_cached(
        "UPDATE enrollments SET state = ?2, step = coalesce(?3, step + 1), due_at = ?4, waiting = NULL, reason = ?5,
             sent = sent + ?6, updated_at = ?7 WHERE id = ?1",
    )?
    .execute(params![id, state, step, due, reason, sent as i64, millis(now)])?;
    Ok(())
}

/// The next step waits: until `until`, saying why.
pub fn wait(
    tx: &Connection,
    id: i64,
    until: jiff::Timestamp,
    why: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    tx.prepare_cached("UPDATE enrollments SET due_at = ?2, waiting = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, millis(until), why, millis(now)])?;
    Ok(())
}
