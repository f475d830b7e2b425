//! Reading every stored number again from its as-entered form (R-CON-2): what `tidings contacts
//! reparse` shows and applies, and what migration 12 applied once. Consent, DNC matches and
//! threads are keyed on `e164` and follow by themselves: they are looked up by it, not copied.

use anyhow::Context;
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::domain::phone::{self, Label};

/// A stored number whose reading changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub phone_id: i64,
    pub contact_id: i64,
    pub agent_id: i64,
    /// As entered.
    pub number: String,
    pub country: String,
    pub e164: Option<String>,
    pub valid: bool,
    pub new_e164: Option<String>,
    pub new_extension: Option<String>,
    pub new_valid: bool,
}

/// Every stored number whose reading with its agent's country differs from what is stored.
pub fn changes(conn: &Connection) -> anyhow::Result<Vec<Change>> {
    let mut stmt = conn.prepare(
        "SELECT p.id, p.contact_id, p.agent_id, p.number, a.country, p.e164, p.extension, p.valid
         FROM contact_phones p JOIN agents a ON a.id = p.agent_id ORDER BY p.id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().context("reading stored numbers")? {
        let country: String = r.get(4)?;
        let region =
            crate::accounts::model::Country::parse(&country).map(|c| c.id()).unwrap_or(phone::Id::US);
        let number: String = r.get(3)?;
        let now = phone::parse(&number, Label::Other, region);
        let (e164, extension, valid): (Option<String>, Option<String>, bool) =
            (r.get(5)?, r.get(6)?, r.get(7)?);
        if now.e164 != e164 || now.extension != extension || now.valid != valid {
            out.push(Change {
                phone_id: r.get(0)?,
                contact_id: r.get(1)?,
                agent_id: r.get(2)?,
                number,
                country,
                e164,
                valid,
                new_e164: now.e164,
                new_extension: now.extension,
                new_valid: now.valid,
            });
        }
    }
    Ok(out)
}

/// Writes the changes, in the caller's transaction; a number changed since [`changes`] read it
/// is left as it is now.
pub fn apply(tx: &Connection, changes: &[Change]) -> anyhow::Result<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE contact_phones SET e164 = ?2, extension = ?3, valid = ?4
         WHERE id = ?1 AND number = ?5 AND e164 IS ?6 AND valid = ?7",
    )?;
    for c in changes {
        stmt.execute(params![
            c.phone_id,
            c.new_e164,
            c.new_extension,
            c.new_valid,
            c.number,
            c.e164,
            c.valid
        ])
        .with_context(|| format!("correcting stored number {}", c.phone_id))?;
    }
    Ok(())
}

/// The migration hook: every number read again, in the migration's transaction.
pub fn migration_hook(tx: &rusqlite::Transaction) -> rusqlite_migration::HookResult {
    let found = changes(tx).map_err(|e| rusqlite_migration::HookError::Hook(format!("{e:#}")))?;
    apply(tx, &found).map_err(|e| rusqlite_migration::HookError::Hook(format!("{e:#}")))?;
    if !found.is_empty() {
        tracing::warn!(corrected = found.len(), "stored numbers read again from their as-entered form");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What migration 12 does to a number `phonenumber` 0.3.10 had stored wrongly for a US agent.
    #[test]
    fn the_migration_hook_corrects_what_the_old_parser_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = crate::db::open(&path, std::time::Duration::from_secs(1)).unwrap();
        crate::schema::migrate(&mut conn, &path).unwrap();
        conn.execute_batch(
            "INSERT INTO agents (email, name, password_hash, role, country, time_zone, created_at, updated_at)
                 VALUES ('a@b.co', 'A', 'x', 'agent', 'US', 'UTC', 0, 0);
             INSERT INTO contacts (agent_id, first_name, last_name, source, fields, sort_key, created_at, updated_at)
                 VALUES (1, 'Ann', '', 'manual', '{}', 'ann', 0, 0);
             INSERT INTO contact_phones (contact_id, agent_id, position, number, label, e164, valid)
                 VALUES (1, 1, 0, '+44 121 234 5678', 'mobile', '+44212345678', 1),
                        (1, 1, 1, '(312) 555-0199', 'home', '+13125550199', 1);",
        )
        .unwrap();
        let found = changes(&conn).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].new_e164.as_deref(), Some("+441212345678"));
        let tx = conn.transaction().unwrap();
        migration_hook(&tx).unwrap();
        tx.commit().unwrap();
        let e164: String =
            conn.query_row("SELECT e164 FROM contact_phones WHERE position = 0", [], |r| r.get(0)).unwrap();
        assert_eq!(e164, "+441212345678");
        assert!(changes(&conn).unwrap().is_empty());
    }
}
