//! The schema: the embedded forward-only migrations, some with Rust hooks of the features whose
//! data they rewrite, and opening a database brought up to date. Above the features (it names
//! their hooks), below the edge (ARCHITECTURE.md).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::db::Db;

/// Embedded migrations, applied in order, one transaction each; never edited once released.
fn migrations() -> Vec<M<'static>> {
    vec![
        M::up(include_str!("../migrations/0001_foundation.sql")),
        M::up(include_str!("../migrations/0002_scripts.sql")),
        M::up(include_str!("../migrations/0003_compose.sql")),
        M::up(include_str!("../migrations/0004_outbox.sql")),
        M::up(include_str!("../migrations/0005_media.sql")),
        M::up(include_str!("../migrations/0006_consent.sql")),
        M::up(include_str!("../migrations/0007_inbound.sql")),
        M::up(include_str!("../migrations/0008_push.sql")),
        M::up(include_str!("../migrations/0009_unread.sql")),
        M::up(include_str!("../migrations/0010_plans.sql")),
        M::up(include_str!("../migrations/0011_unread_counter.sql")),
        M::up_with_hook(
            include_str!("../migrations/0012_exactly_once.sql"),
            crate::contacts::reparse::migration_hook,
        ),
        M::up_with_hook(include_str!("../migrations/0013_search.sql"), crate::contacts::store::resort_hook),
        M::up(include_str!("../migrations/0014_search_triggers.sql")),
    ]
}

/// The schema version this binary writes.
pub fn version() -> usize {
    migrations().len()
}

/// Brings the schema up to date; refuses a database written by a newer binary.
/// Returns how many migrations ran.
pub fn migrate(conn: &mut Connection, path: &Path) -> anyhow::Result<usize> {
    let stored = crate::db::stored_version(conn)?;
    if stored > version() {
        bail!(
            "the database {} has schema version {stored}, written by a newer tidings; this binary knows \
             up to version {}. Run the newer tidings, or restore a backup taken before the upgrade.",
            path.display(),
            version()
        );
    }
    Migrations::new(migrations())
        .to_latest(conn)
        .with_context(|| format!("migrating the database {}", path.display()))?;
    Ok(version() - stored)
}

/// Opens the pool on `path`, creating its folder and running the migrations first.
pub async fn open(path: &Path, pool_size: usize, busy_timeout: Duration) -> anyhow::Result<Db> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database folder {}", dir.display()))?;
    }
    let owned = path.to_path_buf();
    let ran = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = crate::db::open(&owned, busy_timeout)?;
        migrate(&mut conn, &owned)
    })
    .await
    .context("migration task")??;
    if ran > 0 {
        tracing::info!(migrations = ran, version = version(), "database migrated");
    }
    Db::connect(path, pool_size, busy_timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{open, stored_version};

    #[test]
    fn migrations_are_valid_and_run_once() {
        Migrations::new(migrations()).validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = open(&path, Duration::from_secs(1)).unwrap();
        assert_eq!(migrate(&mut conn, &path).unwrap(), version());
        assert_eq!(migrate(&mut conn, &path).unwrap(), 0);
        assert_eq!(stored_version(&conn).unwrap(), version());
    }

    /// Migrations 13 and 14 on a database written before them: old sort keys are written anew
    /// and every contact is found by name, including by a later word.
    #[test]
    fn contacts_stored_before_migration_13_are_resorted_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = open(&path, Duration::from_secs(1)).unwrap();
        Migrations::new(migrations()).to_version(&mut conn, 12).unwrap();
        conn.execute_batch(
            "INSERT INTO agents (email, name, password_hash, role, country, time_zone, created_at, updated_at)
                 VALUES ('a@b.co', 'A', 'x', 'agent', 'US', 'UTC', 0, 0);
             INSERT INTO contacts (agent_id, first_name, last_name, email, source, fields, sort_key, created_at, updated_at)
                 VALUES (1, 'José', 'Ávila', 'jose.avila7@example.com', 'manual', '{}', 'Ávila josé jose.avila7@example.com', 0, 0),
                        (1, 'Ann', 'Baker', NULL, 'manual', '{}', 'baker ann', 0, 0);",
        )
        .unwrap();
        migrate(&mut conn, &path).unwrap();
        let key: String =
            conn.query_row("SELECT sort_key FROM contacts WHERE id = 1", [], |r| r.get(0)).unwrap();
        assert_eq!(key, "avila jose 7");
        let found = |words: &[&str]| {
            let search = crate::contacts::store::Search {
                words: words.iter().map(|w| w.to_string()).collect(),
                ..Default::default()
            };
            let (page, _) = crate::contacts::store::list(&conn, 1, &search, None, 10).unwrap();
            page.into_iter().map(|c| c.first_name).collect::<Vec<_>>()
        };
        assert_eq!(found(&["avi"]), ["José"]);
        assert_eq!(found(&["jos"]), ["José"], "a later word, through the full-text index");
        assert_eq!(found(&["ann"]), ["Ann"]);
        assert_eq!(found(&[]), ["José", "Ann"]);
        // The triggers keep the index in step from here on.
        conn.execute("UPDATE contacts SET first_name = 'Anna', sort_key = 'baker anna' WHERE id = 2", [])
            .unwrap();
        assert_eq!(found(&["anna"]), ["Anna"]);
        conn.execute("DELETE FROM contacts WHERE id = 1", []).unwrap();
        assert!(found(&["jos"]).is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = open(&path, Duration::from_secs(1)).unwrap();
        conn.pragma_update(None, "user_version", version() as i64 + 1).unwrap();
        let err = migrate(&mut conn, &path).unwrap_err().to_string();
        assert!(err.contains("newer tidings"), "{err}");
    }
}
