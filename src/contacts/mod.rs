//! Contacts (R-CON): people an agent texts, their numbers, tags, custom fields; search and import.

pub mod api;
pub mod import;
pub mod model;
pub mod phone;
pub mod store;

use rusqlite::Connection;

use crate::error::ApiError;
use model::NewContact;

/// Writes imported contacts inside the caller's transaction; `progress` hears each 1,000.
pub fn write_imported(
    conn: &Connection,
    agent_id: i64,
    contacts: &[NewContact],
    now: jiff::Timestamp,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<usize> {
    for (i, c) in contacts.iter().enumerate() {
        store::insert(conn, agent_id, c, now)?;
        if (i + 1) % 1_000 == 0 {
            progress(i + 1);
        }
    }
    progress(contacts.len());
    Ok(contacts.len())
}

impl From<import::FileError> for ApiError {
    fn from(e: import::FileError) -> Self {
        let mut err = ApiError::invalid(e.code(), e.to_string());
        match &e {
            import::FileError::NotUtf8 { line } | import::FileError::Unreadable { line, .. } => {
                err = err.with("line", *line);
            }
            import::FileError::UnknownColumns(cols) => err = err.with("columns", cols.clone()),
            _ => {}
        }
        err
    }
}

impl From<model::Invalid> for ApiError {
    fn from(e: model::Invalid) -> Self {
        ApiError::invalid_field(&e.field, format!("{}.", e.reason))
    }
}
