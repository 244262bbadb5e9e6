//! How Latchkey talks to SQLite: one writer thread that commits in groups, and a small pool
//! of read-only connections used in place.
//!
//! Why not an async driver: SQLite is a library, not a server. A driver that runs each
//! statement on a connection thread and hands every row back through a channel pays two
//! thread wake-ups per statement; profiled under load (`perf record` on `verify-totp`), those
//! context switches were over half of the server's CPU and SQLite itself about 1 %. Here a
//! whole unit of work (every statement of one store call) runs on the writer thread in one
//! hop, and reads run directly on the calling thread (they take microseconds: SQLite in WAL
//! mode lets readers proceed while the writer writes).
//!
//! Group commit: the writer takes every job that is waiting, runs each inside its own
//! savepoint within one transaction, commits once (one fsync for the batch under
//! `synchronous=FULL`), and only then answers each caller. Every answer still follows its
//! own durable commit, and a job that fails or declines rolls back its savepoint alone.

use crate::backend::Write;
use crate::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// At most this many jobs share one commit; more wait for the next.
const MAX_BATCH: usize = 512;

/// The outcome of the batch's commit, given to every job of the batch.
type Committed = std::result::Result<(), String>;
/// Answers a caller once its batch is committed (or not).
type Reply = Box<dyn FnOnce(&Committed) + Send>;
/// A unit of work for the writer: runs in its savepoint and returns how to answer, and
/// whether the batch's transaction is still sound (its savepoint could be undone or released).
type Job = Box<dyn FnOnce(&Connection) -> (Reply, bool) + Send>;

enum Msg {
    Job(Job),
    Stop(tokio::sync::oneshot::Sender<()>),
}

/// Connection settings shared by the writer and the readers.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub path: PathBuf,
    pub durable: bool,
    pub readers: usize,
}

fn configure(conn: &Connection, durable: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", if durable { "FULL" } else { "NORMAL" })?;
    // Statements are prepared once per connection and reused.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

/// Opens the writer's connection (creating the file) and switches the database to WAL.
fn open_writer(s: &Settings) -> Result<Connection> {
    if let Some(dir) = s.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?;
    }
    private_files(&s.path)?;
    let conn = Connection::open_with_flags(
        &s.path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open(format!(
            "cannot switch to WAL (journal_mode is {mode})"
        )));
    }
    configure(&conn, s.durable)?;
    // SQLite gives the WAL and shared-memory files the database file's mode, but files
    // from before this rule may be looser: tighten all three.
    private_files(&s.path)?;
    Ok(conn)
}

/// Makes the database file (creating it empty, mode 0600, if it does not exist) and its
/// `-wal` and `-shm` companions readable and writable by the owner only: they hold sealed
/// secrets, keyed hashes and the audit log (review item 9).
///
/// An existing database file is never opened here, only `chmod`ed by path: closing any
/// descriptor of a file drops every POSIX lock this process holds on it, SQLite's included,
/// and another process could then take itself for the last connection and delete the WAL
/// index under ours ("How To Corrupt An SQLite Database File", §2.2). A server that did so
/// stopped seeing the CLI's writes.
fn private_files(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let fail = |p: &Path, e: std::io::Error| StoreError::Open(format!("{}: {e}", p.display()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(path, e)),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = PathBuf::from(name);
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(fail(&file, e)),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn, true)?;
    Ok(conn)
}

/// The writer thread and the reader pool.
pub(super) struct Engine {
    settings: Settings,
    jobs: Mutex<Option<mpsc::Sender<Msg>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Read-only connections lent out right now.
    lent: Arc<AtomicUsize>,
}

impl Engine {
    /// Opens the database (creating it) and starts the writer thread.
    pub(super) fn start(settings: Settings) -> Result<Self> {
        let conn = open_writer(&settings)?;
        let (tx, rx) = mpsc::channel::<Msg>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Open(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            settings,
            jobs: Mutex::new(Some(tx)),
            readers: Arc::new(Mutex::new(Vec::new())),
            lent: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Runs `f` on the writer inside the next group commit; answers after the commit.
    pub(super) async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        self.write_or_undo(move |c| f(c).map(Write::Keep)).await
    }

    /// Like [`Engine::write`], but `f` may ask for its own writes to be undone.
    pub(super) async fn write_or_undo<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<Write<R>> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<R>>();
        let job: Job = Box::new(move |conn: &Connection| {
            let (outcome, sound) = in_savepoint(conn, f);
            let reply: Reply = Box::new(move |committed: &Committed| {
                let answer = match (outcome, committed) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(StoreError::Commit(e.clone())),
                    (Ok(v), Ok(())) => Ok(v),
                };
                let _ = tx.send(answer);
            });
            (reply, sound)
        });
        self.send(Msg::Job(job))?;
        rx.await.map_err(|_| {
            StoreError::Commit("the write was abandoned (writer stopped or job panicked)".into())
        })?
    }

    fn send(&self, msg: Msg) -> Result<()> {
        let guard = self.jobs.lock().map_err(|_| StoreError::Closed)?;
        guard
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(msg)
            .map_err(|_| StoreError::Closed)
    }

    /// Runs `f` on a read-only connection, on the calling thread. Sees every committed write.
    /// For the short reads of the request path, where a thread hop would cost more than
    /// the read.
    pub(super) fn read<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        read_pooled(&self.readers, &self.lent, &self.settings, f)
    }

    /// The read-only connections lent out and pooled, and the most pooled.
    pub(super) fn pool_usage(&self) -> crate::PoolUsage {
        let idle = self.readers.lock().map_or(0, |p| p.len());
        crate::PoolUsage {
            in_use: u32::try_from(self.lent.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: u32::try_from(self.settings.readers).unwrap_or(u32::MAX),
        }
    }

    /// Like [`Engine::read`], on the blocking pool: for reads that may take long (admin
    /// listings, counts over a whole tenant), which must not hold an async worker.
    pub(super) async fn read_blocking<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let (readers, lent, settings) = (self.readers.clone(), self.lent.clone(), self.settings.clone());
        tokio::task::spawn_blocking(move || read_pooled(&readers, &lent, &settings, f))
            .await
            .map_err(|e| StoreError::Open(format!("read task failed: {e}")))?
    }

    /// Stops the writer after the jobs already queued; later writes fail with `Closed`.
    pub(super) async fn close(&self) {
        let sender = self.jobs.lock().ok().and_then(|mut g| g.take());
        if let Some(sender) = sender {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if sender.send(Msg::Stop(tx)).is_ok() {
                let _ = rx.await;
            }
        }
        if let Ok(mut pool) = self.readers.lock() {
            pool.clear();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Dropping the sender ends the writer loop once the queue is drained.
        if let Ok(mut g) = self.jobs.lock() {
            g.take();
        }
    }
}

fn read_pooled<R>(
    readers: &Mutex<Vec<Connection>>,
    lent: &AtomicUsize,
    settings: &Settings,
    f: impl FnOnce(&Connection) -> Result<R>,
) -> Result<R> {
    let pooled = readers.lock().map_err(|_| StoreError::Closed)?.pop();
    let conn = match pooled {
        Some(c) => c,
        None => open_reader(&settings.path)?,
    };
    lent.fetch_add(1, Ordering::Relaxed);
    let out = f(&conn);
    lent.fetch_sub(1, Ordering::Relaxed);
    if let Ok(mut pool) = readers.lock() {
        if pool.len() < settings.readers {
            pool.push(conn);
        }
    }
    out
}

/// Runs one job in a savepoint of its own; catches a panic so the writer survives it.
/// The flag is `false` if the savepoint could not be rolled back or released: the batch's
/// transaction may then hold writes nobody asked for, and must not commit.
fn in_savepoint<R>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<Write<R>>) -> (Result<R>, bool) {
    if let Err(e) = exec(conn, "SAVEPOINT job") {
        return (Err(e.into()), false);
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| f(conn)));
    let (keep, result) = match outcome {
        Ok(Ok(Write::Keep(v))) => (true, Ok(v)),
        Ok(Ok(Write::Undo(v))) => (false, Ok(v)),
        Ok(Err(e)) => (false, Err(e)),
        Err(_) => (false, Err(StoreError::Commit("a store job panicked".into()))),
    };
    if !keep {
        if let Err(e) = exec(conn, "ROLLBACK TO job") {
            return (Err(e.into()), false);
        }
    }
    if let Err(e) = exec(conn, "RELEASE job") {
        return (Err(e.into()), false);
    }
    (result, true)
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Msg>) {
    let mut stop: Option<tokio::sync::oneshot::Sender<()>> = None;
    while stop.is_none() {
        let Ok(first) = rx.recv() else { break };
        let mut batch = Vec::new();
        match first {
            Msg::Job(job) => batch.push(job),
            Msg::Stop(done) => stop = Some(done),
        }
        while stop.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => batch.push(job),
                Ok(Msg::Stop(done)) => stop = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            run_batch(&conn, batch);
        }
    }
    drop(conn);
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

fn run_batch(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        // Dropping the jobs drops their answer channels: each caller gets an error.
        tracing::error!(error = %e, "sqlite writer could not begin a transaction");
        return;
    }
    let mut sound = true;
    let replies: Vec<Reply> = batch
        .into_iter()
        .map(|job| {
            let (reply, ok) = job(conn);
            sound &= ok;
            reply
        })
        .collect();
    let committed: Committed = if !sound {
        let _ = exec(conn, "ROLLBACK");
        tracing::error!("a write could not be undone on its own; its whole group was rolled back");
        Err("the group commit was rolled back".into())
    } else {
        match exec(conn, "COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = exec(conn, "ROLLBACK");
                tracing::error!(error = %e, "sqlite group commit failed");
                Err(e.to_string())
            }
        }
    };
    for reply in replies {
        reply(&committed);
    }
}
