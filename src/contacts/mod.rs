//! Contacts (R-CON): people an agent texts, their numbers, tags, custom fields; search and import.

pub mod api;
pub mod import;
pub mod model;
pub mod reparse;
pub mod store;

use rusqlite::Connection;

use crate::accounts::model::Country;
use crate::error::ApiError;
use model::NewContact;

/// The verdict of a prepared filter over a batch of contacts (true: keep), for the agent, now.
pub type Verdicts<'a> =
    Box<dyn Fn(&[model::Contact], &crate::accounts::model::Agent, jiff::Timestamp) -> Vec<bool> + 'a>;

/// Chooses contacts by an admin's filter script (R-SCR-2) for the filtered list. Implemented by
/// `scripts`, which sits above contacts (scripts read contacts' values): contacts names what it
/// needs, the edge hands it the engine.
pub trait Filter: Send + Sync {
    /// Loads and compiles filter script `id`; its problem (not found, not a filter, does not
    /// compile) when it cannot be used.
    fn prepare(&self, conn: &Connection, id: i64) -> anyhow::Result<Verdicts<'_>>;
}

/// How an import treats a row that matches one of the agent's contacts, by a valid number or
/// by email (R-CON-3): importing the same file twice adds nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Matching {
    /// Left as it is, and reported (the default).
    #[default]
    Skip,
    /// Updated: the row's names, email, address, time zone and fields where it has them; its
    /// numbers and tags added.
    Update,
    /// A new contact all the same.
    Create,
}

impl std::str::FromStr for Matching {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "skip" => Ok(Matching::Skip),
            "update" => Ok(Matching::Update),
            "create" => Ok(Matching::Create),
            _ => Err(format!("`{s}` is not skip, update or create")),
        }
    }
}

/// What an import is asked to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Import the good rows and report the bad ones, instead of refusing the file.
    pub skip_invalid: bool,
    pub matching: Matching,
}

/// A row that matched an existing contact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Matched {
    pub line: u64,
    pub contact_id: i64,
}

/// The most matched or rejected rows an answer lists (all are counted).
pub const MAX_LISTED: usize = 1_000;

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    /// New contacts.
    pub imported: usize,
    /// Existing contacts updated (`Matching::Update`).
    pub updated: usize,
    /// Rows that matched an existing contact and were left (`Matching::Skip`).
    pub skipped: usize,
    /// The first matched rows.
    pub matches: Vec<Matched>,
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
/// read and validated on a second thread while this one writes them, a batch at a time, so
/// memory stays bounded whatever the file's size. With rejected rows and not `skip_invalid`, it
/// fails with [`ImportError::Rejected`] (inside the `anyhow::Error`), and the caller's
/// transaction rolls back. `progress` hears (rows done, bytes of the file read).
pub fn import_csv(
    conn: &Connection,
    agent_id: i64,
    source: impl std::io::Read + Send,
    region: &Country,
    options: ImportOptions,
    now: jiff::Timestamp,
    mut progress: impl FnMut(usize, u64),
) -> anyhow::Result<Imported> {
    // A big import touches far more pages than the default 2 MB cache holds; without room they
    // spill to the WAL mid-transaction. The cache goes back to its default size afterwards.
    conn.pragma_update(None, "cache_size", -32 * 1024)?;
    let result = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        // Batches go back to the reading thread to be freed there: freed on this thread, each
        // allocation of the other took its malloc arena's lock, and the two threads contended
        // for it.
        let (spent_tx, spent_rx) = std::sync::mpsc::channel::<(import::Rows, Vec<String>)>();
        let reader = s.spawn(move || {
            import::stream(source, region, |batch| {
                while spent_rx.try_recv().is_ok() {}
                // Sort keys are made here, beside the writer rather than on its thread.
                let keys: Vec<String> = batch
                    .rows
                    .iter()
                    .map(|(_, r)| r.as_ref().map(NewContact::sort_key).unwrap_or_default())
                    .collect();
                let _ = tx.send((batch, keys));
            })
        });
        let trigger = store::bulk_begin(conn)?;
        let mut writer = store::Writer::new(conn)?;
        let mut done = 0;
        let mut out = Imported::default();
        let mut rejected = 0;
        for (batch, keys) in rx {
            // The ids this batch inserted, indexed for search at its end.
            let mut inserted: Option<(i64, i64)> = None;
            for ((line, row), key) in batch.rows.iter().zip(&keys) {
                let line = *line;
                match row {
                    // Once the file is refused, rows are only checked, so every bad one is reported.
                    Ok(c) if options.skip_invalid || rejected == 0 => {
                        let found = match options.matching {
                            Matching::Create => None,
                            _ => store::find_match(conn, agent_id, c)?,
                        };
                        match found {
                            None => {
                                let id = writer.insert_keyed(agent_id, c, key, now)?;
                                inserted = Some(inserted.map_or((id, id), |(from, _)| (from, id)));
                                out.imported += 1;
                            }
                            Some(id) => {
                                if options.matching == Matching::Update {
                                    store::merge_into(conn, agent_id, id, c.clone(), now)?;
                                    out.updated += 1;
                                } else {
                                    out.skipped += 1;
                                }
                                if out.matches.len() < MAX_LISTED {
                                    out.matches.push(Matched { line, contact_id: id });
                                }
                            }
                        }
                    }
                    Ok(_) => out.imported += 1,
                    Err(reason) => {
                        rejected += 1;
                        if out.rejected.len() < MAX_LISTED {
                            out.rejected.push(import::Rejected { line, reason: reason.clone() });
                        }
                    }
                }
                done += 1;
            }
            if let Some((from, to)) = inserted {
                store::bulk_index(conn, from, to)?;
            }
            progress(done, batch.bytes_read);
            let _ = spent_tx.send((batch, keys));
        }
        drop(writer);
        store::bulk_end(conn, trigger)?;
        match reader.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(ImportError::File(e).into()),
            Err(_) => anyhow::bail!("the CSV reader panicked"),
        }
        if rejected > 0 && !options.skip_invalid {
            return Err(ImportError::Rejected { rejected: out.rejected, accepted: out.imported }.into());
        }
        Ok(out)
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
