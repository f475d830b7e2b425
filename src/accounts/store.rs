//! All SQL of accounts: teams, agents, sessions.

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::model::{Agent, Country, LimitOverrides, Role, TeamRef, TimeZoneName};
use crate::db::{millis, timestamp};

const AGENT_COLUMNS: &str = "a.id, a.email, a.name, a.role, a.team_id, t.name, a.country, a.time_zone, \
     a.sending_number, a.daily_unique_recipients, a.daily_segments, a.monthly_credits, a.created_at, a.updated_at";

fn agent_from_row(r: &Row) -> rusqlite::Result<Agent> {
    let role: String = r.get(3)?;
    let team_id: Option<i64> = r.get(4)?;
    let team_name: Option<String> = r.get(5)?;
    let country: String = r.get(6)?;
    let tz: String = r.get(7)?;
    Ok(Agent {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Agent),
        team: team_id.zip(team_name).map(|(id, name)| TeamRef { id, name }),
        country: Country::parse(&country).unwrap_or_else(|_| Country::parse("US").expect("US is a country")),
        time_zone: TimeZoneName::parse(&tz)
            .unwrap_or_else(|_| TimeZoneName::parse("UTC").expect("UTC is a time zone")),
        sending_number: r.get(8)?,
        limits: LimitOverrides {
            daily_unique_recipients: r.get(9)?,
            daily_segments: r.get(10)?,
            monthly_credits: r.get(11)?,
        },
        created_at: timestamp(r.get(12)?),
        updated_at: timestamp(r.get(13)?),
    })
}

fn select_agent(
    conn: &Connection,
    filter: &str,
    param: &dyn rusqlite::ToSql,
) -> anyhow::Result<Option<Agent>> {
    let sql =
        format!("SELECT {AGENT_COLUMNS} FROM agents a LEFT JOIN teams t ON t.id = a.team_id WHERE {filter}");
    conn.prepare_cached(&sql)?.query_row([param], agent_from_row).optional().context("reading an agent")
}

pub fn agent_by_id(conn: &Connection, id: i64) -> anyhow::Result<Option<Agent>> {
    select_agent(conn, "a.id = ?1", &id)
}

pub fn agent_by_email(conn: &Connection, email: &str) -> anyhow::Result<Option<Agent>> {
    select_agent(conn, "a.email = ?1", &email)
}

pub fn list_agents(conn: &Connection) -> anyhow::Result<Vec<Agent>> {
    let sql =
        format!("SELECT {AGENT_COLUMNS} FROM agents a LEFT JOIN teams t ON t.id = a.team_id ORDER BY a.id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], agent_from_row)?;
    rows.collect::<Result<_, _>>().context("listing agents")
}

/// The stored password hash for a login, with the agent id.
pub fn credentials(conn: &Connection, email: &str) -> anyhow::Result<Option<(i64, String)>> {
    conn.prepare_cached("SELECT id, password_hash FROM agents WHERE email = ?1")?
        .query_row([email], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .context("reading credentials")
}

pub struct NewAgent {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub team_id: Option<i64>,
    pub country: Country,
    pub time_zone: TimeZoneName,
    pub limits: LimitOverrides,
}

/// Inserts an agent; `Ok(None)` when the email is taken.
pub fn insert_agent(conn: &Connection, a: &NewAgent, now: jiff::Timestamp) -> anyhow::Result<Option<i64>> {
    let res = conn
        .prepare_cached(
            "INSERT INTO agents (email, name, password_hash, role, team_id, country, time_zone,
             daily_unique_recipients, daily_segments, monthly_credits, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
         ON CONFLICT (email) DO NOTHING",
        )?
        .execute(params![
            a.email,
            a.name,
            a.password_hash,
            a.role.as_str(),
            a.team_id,
            a.country.as_str(),
            a.time_zone.as_str(),
            a.limits.daily_unique_recipients,
            a.limits.daily_segments,
            a.limits.monthly_credits,
            millis(now)
        ])
        .context("inserting an agent")?;
    Ok((res == 1).then(|| conn.last_insert_rowid()))
}

/// One column update of an agent; the column name comes from code, never from input.
pub fn set_agent_column(
    conn: &Connection,
    id: i64,
    column: &'static str,
    value: &dyn rusqlite::ToSql,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let sql = format!("UPDATE agents SET {column} = ?1, updated_at = ?2 WHERE id = ?3");
    conn.prepare_cached(&sql)?
        .execute(params![value, millis(now), id])
        .with_context(|| format!("updating agents.{column}"))?;
    Ok(())
}

/// Is this email used by an agent other than `except`?
pub fn email_taken(conn: &Connection, email: &str, except: i64) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM agents WHERE email = ?1 AND id <> ?2")?
        .exists(params![email, except])?)
}

/// Who holds a sending number, if anyone.
pub fn number_holder(conn: &Connection, number: &str) -> anyhow::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM agents WHERE sending_number = ?1")?
        .query_row([number], |r| r.get(0))
        .optional()
        .context("reading a number's holder")
}

/// All numbers held, with their holders.
pub fn held_numbers(conn: &Connection) -> anyhow::Result<Vec<(String, i64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT sending_number, id FROM agents WHERE sending_number IS NOT NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect::<Result<_, _>>().context("listing held numbers")
}

pub fn team_by_id(conn: &Connection, id: i64) -> anyhow::Result<Option<TeamRef>> {
    conn.prepare_cached("SELECT id, name FROM teams WHERE id = ?1")?
        .query_row([id], |r| Ok(TeamRef { id: r.get(0)?, name: r.get(1)? }))
        .optional()
        .context("reading a team")
}

pub fn team_by_name(conn: &Connection, name: &str) -> anyhow::Result<Option<TeamRef>> {
    conn.prepare_cached("SELECT id, name FROM teams WHERE name = ?1")?
        .query_row([name], |r| Ok(TeamRef { id: r.get(0)?, name: r.get(1)? }))
        .optional()
        .context("reading a team")
}

/// Teams with their member counts.
pub fn list_teams(conn: &Connection) -> anyhow::Result<Vec<(TeamRef, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.name, (SELECT count(*) FROM agents a WHERE a.team_id = t.id) FROM teams t ORDER BY t.name",
    )?;
    let rows = stmt.query_map([], |r| Ok((TeamRef { id: r.get(0)?, name: r.get(1)? }, r.get(2)?)))?;
    rows.collect::<Result<_, _>>().context("listing teams")
}

/// Inserts a team; `Ok(None)` when the name is taken.
pub fn insert_team(conn: &Connection, name: &str, now: jiff::Timestamp) -> anyhow::Result<Option<i64>> {
    let n = conn
        .prepare_cached("INSERT INTO teams (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")?
        .execute(params![name, millis(now)])?;
    Ok((n == 1).then(|| conn.last_insert_rowid()))
}

/// Renames a team; `Ok(false)` when another team has that name.
pub fn rename_team(conn: &Connection, id: i64, name: &str) -> anyhow::Result<bool> {
    if conn.prepare_cached("SELECT 1 FROM teams WHERE name = ?1 AND id <> ?2")?.exists(params![name, id])? {
        return Ok(false);
    }
    conn.prepare_cached("UPDATE teams SET name = ?1 WHERE id = ?2")?.execute(params![name, id])?;
    Ok(true)
}

pub fn insert_session(
    conn: &Connection,
    hash: &[u8; 32],
    agent_id: i64,
    now: jiff::Timestamp,
    expires: jiff::Timestamp,
) -> anyhow::Result<()> {
    // Expired sessions are swept as new ones are made, so the table does not grow forever.
    conn.prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?.execute([millis(now)])?;
    conn.prepare_cached(
        "INSERT INTO sessions (token_hash, agent_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![&hash[..], agent_id, millis(now), millis(expires)])
    .context("inserting a session")?;
    Ok(())
}

/// The session for a token hash: (stored hash, agent id, expiry).
pub fn session(
    conn: &Connection,
    hash: &[u8; 32],
) -> anyhow::Result<Option<(Vec<u8>, i64, jiff::Timestamp)>> {
    conn.prepare_cached("SELECT token_hash, agent_id, expires_at FROM sessions WHERE token_hash = ?1")?
        .query_row([&hash[..]], |r| Ok((r.get(0)?, r.get(1)?, timestamp(r.get(2)?))))
        .optional()
        .context("reading a session")
}

pub fn delete_session(conn: &Connection, hash: &[u8; 32]) -> anyhow::Result<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?.execute([&hash[..]])?;
    Ok(())
}

pub fn delete_sessions_of(conn: &Connection, agent_id: i64) -> anyhow::Result<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE agent_id = ?1")?.execute([agent_id])?;
    Ok(())
}
