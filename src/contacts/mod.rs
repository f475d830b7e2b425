//! Contacts (R-CON): people an agent texts, their numbers, tags, custom fields; search and import.

pub mod api;
pub mod import;
pub mod model;
pub mod phone;
pub mod reparse;
pub mod store;

use rusqlite::Connection;

use crate::accounts::model::Country;
use crate::error::ApiError;
use model::NewContact;

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    pub imported: usize,
    pub rejected: Vec<import::Rejected>,
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(import::FileError),
    #[error("{} row(s) cannot be imported", rejected.len())]
    Rejected { rejected: Vec<import::Rejected>, accepted: usize },
}

/// Reads, validates and stores a CSV file for an agent inside the caller's transaction: rows are
/// validated on a second thread while this one writes them. With rejected rows and not
/// `skip_invalid`, it fails with [`ImportError::Rejected`] (inside the `anyhow::Error`), and the
/// caller's transaction rolls back. `progress` hears (rows done, rows in all).
pub fn import_csv(
    conn: &Connection,
    agent_id: i64,
    bytes: &[u8],
    region: &Country,
    skip_invalid: bool,
    now: jiff::Timestamp,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<Imported> {
    // A big import touches far more pages than the default 2 MB cache holds; without room they
    // spill to the WAL mid-transaction. The cache goes back to its default size afterwards.
    conn.pragma_update(None, "cache_size", -64 * 1024)?;
    let result = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let reader = s.spawn(move || {
            import::stream(bytes, region, |event| {
                let _ = tx.send(event);
            })
        });
        let mut writer = store::Writer::new(conn)?;
        let (mut total, mut done, mut imported) = (0, 0, 0);
        let mut rejected = Vec::new();
        for event in rx {
            match event {
                import::Event::Total(n) => total = n,
                import::Event::Rows(rows) => {
                    for (line, row) in rows {
                        match row {
                            // Once the file is refused, rows are only checked, so every bad one is reported.
                            Ok(c) if skip_invalid || rejected.is_empty() => {
                                writer.insert(agent_id, &c, now)?;
                                imported += 1;
                            }
                            Ok(_) => imported += 1,
                            Err(reason) => rejected.push(import::Rejected { line, reason }),
                        }
                        done += 1;
                    }
                    progress(done, total);
                }
            }
        }
        match reader.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(ImportError::File(e).into()),
            Err(_) => anyhow::bail!("the CSV reader panicked"),
        }
        if !rejected.is_empty() && !skip_invalid {
            return Err(ImportError::Rejected { rejected, accepted: imported }.into());
        }
        Ok(Imported { imported, rejected })
    });
    conn.pragma_update(None, "cache_size", -2_000)?;
    result
}

/// Writes contacts inside the caller's transaction (the demo data).
pub fn write_all(
    conn: &Connection,
    agent_id: i64,
    contacts: &[NewContact],
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let mut writer = store::Writer::new(conn)?;
    for c in contacts {
        writer.insert(agent_id, c, now)?;
    }
    Ok(())
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::File(f) => f.into(),
            ImportError::Rejected { rejected, accepted } => ApiError::invalid(
                "csv_rejected_rows",
                format!(
                    "{} row(s) cannot be imported; nothing was imported. Fix them, or send ?skip_invalid=true \
                     to import the other rows.",
                    rejected.len()
                ),
            )
            .with("rejected", serde_json::to_value(&rejected).unwrap_or_default())
            .with("accepted", accepted),
        }
    }
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
