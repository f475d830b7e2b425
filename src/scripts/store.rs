//! All SQL of stored scripts and their versions.

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::Kind;
use crate::db::{millis, timestamp};

/// A stored script at its current version.
#[derive(Debug, Clone, Serialize)]
pub struct Script {
    pub id: i64,
    pub name: String,
    pub kind: Kind,
    pub description: String,
    pub version: i64,
    pub source: String,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub version: i64,
    pub source: String,
    pub description: String,
    pub created_by: Option<i64>,
    pub created_at: jiff::Timestamp,
}

const SELECT: &str =
    "SELECT s.id, s.name, s.kind, s.description, s.version, v.source, s.created_at, s.updated_at
     FROM scripts s JOIN script_versions v ON v.script_id = s.id AND v.version = s.version
     WHERE s.deleted_at IS NULL";

fn from_row(r: &Row) -> rusqlite::Result<Script> {
    let kind: String = r.get(2)?;
    Ok(Script {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: Kind::parse(&kind).unwrap_or(Kind::Template),
        description: r.get(3)?,
        version: r.get(4)?,
        source: r.get(5)?,
        created_at: timestamp(r.get(6)?),
        updated_at: timestamp(r.get(7)?),
    })
}

pub fn get(conn: &Connection, id: i64) -> anyhow::Result<Option<Script>> {
    conn.prepare_cached(&format!("{SELECT} AND s.id = ?1"))?
        .query_row([id], from_row)
        .optional()
        .context("reading a script")
}

pub fn list(conn: &Connection) -> anyhow::Result<Vec<Script>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY s.kind, s.name"))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect::<Result<_, _>>().context("listing scripts")
}

fn name_taken(conn: &Connection, name: &str, except: i64) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM scripts WHERE name = ?1 AND id <> ?2 AND deleted_at IS NULL")?
        .exists(params![name, except])?)
}

fn add_version(
    conn: &Connection,
    id: i64,
    version: i64,
    source: &str,
    description: &str,
    by: i64,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO script_versions (script_id, version, source, description, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, version, source, description, by, millis(now)])?;
    Ok(())
}

/// Inserts a script at version 1; `Ok(None)` when the name is taken.
pub fn insert(
    conn: &Connection,
    name: &str,
    kind: Kind,
    description: &str,
    source: &str,
    by: i64,
    now: jiff::Timestamp,
) -> anyhow::Result<Option<i64>> {
    if name_taken(conn, name, 0)? {
        return Ok(None);
    }
    conn.prepare_cached(
        "INSERT INTO scripts (name, kind, description, version, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5)",
    )?
    .execute(params![name, kind.as_str(), description, by, millis(now)])?;
    let id = conn.last_insert_rowid();
    add_version(conn, id, 1, source, description, by, now)?;
    Ok(Some(id))
}

/// Saves a new version; `Ok(false)` when the new name is taken.
pub fn save(
    conn: &Connection,
    current: &Script,
    name: &str,
    description: &str,
    source: &str,
    by: i64,
    now: jiff::Timestamp,
) -> anyhow::Result<bool> {
    if name_taken(conn, name, current.id)? {
        return Ok(false);
    }
    let version = current.version + 1;
    add_version(conn, current.id, version, source, description, by, now)?;
    conn.prepare_cached(
        "UPDATE scripts SET name = ?2, description = ?3, version = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![current.id, name, description, version, millis(now)])?;
    Ok(true)
}

/// Hides a script; its versions stay. `Ok(false)` when there is no such live script.
pub fn delete(conn: &Connection, id: i64, now: jiff::Timestamp) -> anyhow::Result<bool> {
    let n = conn
        .prepare_cached("UPDATE scripts SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL")?
        .execute(params![id, millis(now)])?;
    Ok(n == 1)
}

pub fn versions(conn: &Connection, id: i64) -> anyhow::Result<Vec<Version>> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, source, description, created_by, created_at FROM script_versions
         WHERE script_id = ?1 ORDER BY version DESC",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Version {
            version: r.get(0)?,
            source: r.get(1)?,
            description: r.get(2)?,
            created_by: r.get(3)?,
            created_at: timestamp(r.get(4)?),
        })
    })?;
    rows.collect::<Result<_, _>>().context("listing script versions")
}
