//! Reading every stored number again from its as-entered form (R-CON-2): what `tidings contacts
//! reparse` shows and applies, and what migration 12 applied once. Consent, DNC matches and
//! threads are keyed on `e164` and follow by themselves: they are looked up by it, not copied.

use anyhow::Context;
use rusqlite::Connection;
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
    let mut out = Vec::new();
    super::store::each_number(conn, |n| {
        let region =
            crate::accounts::model::Country::parse(&n.country).map(|c| c.id()).unwrap_or(phone::Id::US);
        let now = phone::parse(&n.number, Label::Other, region);
        if now.e164 != n.e164 || now.extension != n.extension || now.valid != n.valid {
            out.push(Change {
                phone_id: n.phone_id,
                contact_id: n.contact_id,
                agent_id: n.agent_id,
                number: n.number,
                country: n.country,
                e164: n.e164,
                valid: n.valid,
                new_e164: now.e164,
                new_extension: now.extension,
                new_valid: now.valid,
            });
        }
        Ok(())
    })?;
    Ok(out)
}

/// Writes the changes, in the caller's transaction; a number changed since [`changes`] read it
/// is left as it is now.
pub fn apply(tx: &Connection, changes: &[Change]) -> anyhow::Result<()> {
    for c in changes {
        let reading = (c.new_e164.as_deref(), c.new_extension.as_deref(), c.new_valid);
        super::store::correct_number(tx, c.phone_id, (&c.number, c.e164.as_deref(), c.valid), reading)
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
