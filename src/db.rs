//! The database: a pool of SQLite connections with the PRAGMAs every connection needs, and the
//! two ways features touch it: `read` and `write` (a `BEGIN IMMEDIATE` transaction). Both run on
//! the blocking pool, never on an actix worker. The migrations are `schema`'s (they name feature
//! hooks, which this base module may not).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use deadpool_sqlite::{Config, Hook, HookError, Pool, PoolConfig, Runtime};
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 128;

/// Sets what every connection needs (see ENGINEERING.md, "SQLite").
pub fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The writer runs the statements of every feature in turn; rusqlite's default of 16 cached
    // statements made the push worker's claim be parsed again each round.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Opens one connection with the PRAGMAs set (CLI tools, migrations).
pub fn open(path: &Path, busy_timeout: Duration) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("opening the database {}", path.display()))?;
    configure(&conn, busy_timeout).with_context(|| format!("configuring the database {}", path.display()))?;
    Ok(conn)
}

/// The version stored in the database file (`PRAGMA user_version`).
pub fn stored_version(conn: &Connection) -> anyhow::Result<usize> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(usize::try_from(v).unwrap_or(0))
}

/// The shared pool. Cloning is cheap.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// One write transaction at a time in this process: writers queue here, in order, instead
    /// of in SQLite's busy handler, which sleeps in steps of milliseconds. The writer keeps its
    /// connection, so its page cache stays warm (a connection's cache is dropped whenever another
    /// connection has written).
    writer: std::sync::Arc<tokio::sync::Mutex<Option<deadpool_sqlite::Object>>>,
    /// When a write last failed for the disk's sake (full, I/O, read-only; milliseconds, 0 for
    /// never), cleared by the next write that commits a change: what `/readyz` reports.
    failing: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// The SQLite error codes in an error's chain.
fn sqlite_codes(e: &anyhow::Error) -> impl Iterator<Item = rusqlite::ErrorCode> + '_ {
    e.chain().filter_map(|cause| cause.downcast_ref::<rusqlite::Error>()?.sqlite_error_code())
}

/// A failure of the disk under the database (full, I/O, read-only, unreadable), not of contention.
fn is_disk_failure(e: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode::*;
    sqlite_codes(e).any(|code| {
        matches!(code, SystemIoFailure | DiskFull | CannotOpen | ReadOnly | DatabaseCorrupt | NotADatabase)
    })
}

/// How long `/readyz` reports a disk failure with no write succeeding since (an idle daemon
/// becomes ready again by itself once the disk is fixed).
const FAILING_MS: i64 = 30_000;

/// A failure of the storage itself (busy, locked, full, I/O, unreadable, no connection) rather
/// than of the request: answered `503 storage_unavailable`, and trying again later may work.
pub fn is_storage_failure(e: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode::*;
    is_disk_failure(e)
        || e.chain().any(|cause| cause.is::<deadpool_sqlite::PoolError>())
        || sqlite_codes(e).any(|code| matches!(code, DatabaseBusy | DatabaseLocked | OutOfMemory))
}

impl Db {
    /// Opens the pool on a database already migrated (`schema::open` migrates, then calls this).
    pub async fn connect(path: &Path, pool_size: usize, busy_timeout: Duration) -> anyhow::Result<Db> {
        let mut cfg = Config::new(path);
        cfg.pool = Some(PoolConfig::new(pool_size));
        let pool = cfg
            .builder(Runtime::Tokio1)
            .context("database pool config")?
            .post_create(Hook::async_fn(move |obj, _| {
                Box::pin(async move {
                    // Checkpoints run beside the writes (`Db::checkpoint`), never inside a commit.
                    obj.interact(move |c| {
                        configure(c, busy_timeout)?;
                        c.pragma_update(None, "wal_autocheckpoint", 0)
                    })
                    .await
                    .map_err(|e| HookError::message(e.to_string()))?
                    .map_err(HookError::Backend)
                })
            }))
            .build()
            .context("building the database pool")?;
        Ok(Db { pool, writer: Default::default(), failing: Default::default() })
    }

    /// Copies what the WAL holds into the database (PASSIVE checkpoints). The daemon runs it
    /// ten times a second instead of letting a commit run one; without it (CLI tools) the WAL is
    /// folded in when the last connection closes.
    ///
    /// The bulk is copied beside the writes. Under a steady write load that alone never catches
    /// up (each commit adds frames while it copies), and SQLite starts the WAL over only once
    /// every frame is copied, so the file would grow without end (300 MB in 40,000 replies). The
    /// few frames written meanwhile are therefore copied on the writer's turn (writes wait for
    /// that small copy and its fsyncs): the next write then starts the WAL from its beginning.
    pub async fn checkpoint(&self) -> anyhow::Result<()> {
        fn passive(c: &Connection) -> anyhow::Result<()> {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        }
        self.read(passive).await?;
        let turn = self.writer.lock().await;
        if let Some(conn) = turn.as_ref() {
            conn.interact(|c| passive(c))
                .await
                .map_err(|e| anyhow::anyhow!("database task failed: {e}"))??;
        }
        Ok(())
    }

    /// Runs `f` with a connection, off the async workers.
    pub async fn read<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let conn = self.pool.get().await.context("getting a database connection")?;
        conn.interact(move |c| f(c)).await.map_err(|e| anyhow::anyhow!("database task failed: {e}"))?
    }

    /// Runs `f` inside a `BEGIN IMMEDIATE` transaction, committed when `f` returns `Ok`.
    pub async fn write<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(&Transaction) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let mut turn = self.writer.lock().await;
        let conn = match turn.take() {
            Some(conn) => conn,
            None => self.pool.get().await.context("getting a database connection")?,
        };
        let done = conn
            .interact(move |c| {
                let before = c.total_changes();
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.commit().context("committing")?;
                Ok((out, c.total_changes() != before))
            })
            .await;
        // A connection whose task panicked is not kept.
        let out = done.map_err(|e| anyhow::anyhow!("database task failed: {e}"))?;
        *turn = Some(conn);
        // Only a commit that wrote rows shows the storage works again: the workers' rounds that
        // find nothing to do commit empty transactions, which write nothing.
        match &out {
            Ok((_, true)) => self.failing.store(0, std::sync::atomic::Ordering::Relaxed),
            Err(e) if is_disk_failure(e) => self
                .failing
                .store(millis(jiff::Timestamp::now()).max(1), std::sync::atomic::Ordering::Relaxed),
            _ => {}
        }
        out.map(|(value, _)| value)
    }

    /// Whether a write failed for the disk's sake in the last 30 seconds, with none succeeding
    /// since.
    pub fn writes_failing(&self) -> bool {
        let at = self.failing.load(std::sync::atomic::Ordering::Relaxed);
        at != 0 && millis(jiff::Timestamp::now()) - at < FAILING_MS
    }
}

/// Milliseconds since the epoch, as stored.
pub fn millis(ts: jiff::Timestamp) -> i64 {
    ts.as_millisecond()
}

/// Back from stored milliseconds.
pub fn timestamp(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Runs `f` inside a savepoint of the caller's transaction: its writes are kept when it returns
/// `Ok` and undone when it returns an error (the rest of the transaction stays).
pub fn savepoint<T>(tx: &Connection, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    tx.execute_batch("SAVEPOINT part").context("opening a savepoint")?;
    match f() {
        Ok(v) => {
            tx.execute_batch("RELEASE part").context("releasing a savepoint")?;
            Ok(v)
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO part; RELEASE part").context("rolling back a savepoint")?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under a steady write load the WAL starts over after each checkpoint instead of growing:
    /// 20 rounds of 200 writes of 4 KB (16 MB in all), each round checkpointed while it writes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_a_steady_write_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = Db::connect(&path, 4, Duration::from_secs(5)).await.unwrap();
        db.write(|tx| Ok(tx.execute_batch("CREATE TABLE blobs (b BLOB)")?)).await.unwrap();
        let write = |db: Db| async move {
            for _ in 0..200 {
                db.write(|tx| Ok(tx.execute("INSERT INTO blobs VALUES (zeroblob(4096))", [])?))
                    .await
                    .unwrap();
            }
        };
        let mut largest = 0;
        for _ in 0..20 {
            let (_, checkpointed) = tokio::join!(write(db.clone()), db.checkpoint());
            checkpointed.unwrap();
            largest = largest.max(std::fs::metadata(dir.path().join("t.db-wal")).unwrap().len());
        }
        assert!(largest < 8 << 20, "the WAL grew to {largest} bytes for 16 MB written");
    }
}
