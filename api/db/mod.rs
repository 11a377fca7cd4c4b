//! Storage: one diesel `MultiConnection` over PostgreSQL and SQLite, an r2d2 pool whose
//! manager picks the backend from the URL scheme, embedded migrations for both, and the
//! helpers every area uses to run queries off the actix workers.

pub mod arrays;
mod group_commit;
mod prepared;
pub mod schema;

pub use group_commit::{claim_once, Claims, GroupCommit, SetWrite};
pub use prepared::{prepared, Prepared};

use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use parking_lot::{FairMutex, FairMutexGuard};

use crate::error::ApiError;

/// The connection every query runs on: PostgreSQL in production, SQLite when embedded.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Pg(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// The connection pool. For SQLite it also holds the one writer's turn: writers queue on
/// it in order instead of polling SQLite's lock with sleeps (its busy handler), which under
/// many concurrent writers wastes most of the time asleep. The lock is fair, so that no
/// write waits behind more than one round of the others.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<ConnectionManager>,
    sqlite_writer: Option<Arc<FairMutex<()>>>,
    group_commit: Option<GroupCommit>,
}

impl Deref for Pool {
    type Target = r2d2::Pool<ConnectionManager>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Pool {
    /// True on SQLite, whose writes take turns on one lock (a long write stalls all others).
    pub fn has_one_writer(&self) -> bool {
        self.sqlite_writer.is_some()
    }

    /// Waits for the writer's turn (SQLite only; PostgreSQL has row locks).
    fn writer_turn(&self) -> Option<FairMutexGuard<'_, ()>> {
        self.sqlite_writer.as_ref().map(|m| m.lock())
    }
}

pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        })
    }
}

/// A parsed `DATABASE_URL`. Only `sqlite://<file>` and `postgres://…` (or `postgresql://…`)
/// are accepted: diesel's derived `establish` would otherwise try each backend in turn and
/// silently turn a mistyped PostgreSQL URL into a new SQLite file of that name.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() || path == ":memory:" {
                return Err("sqlite:// needs a file path, e.g. sqlite://data/pingyi.db".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        Err(format!(
            "unsupported database scheme {scheme:?}: use sqlite://<file path> or postgres://user@host/db"
        ))
    }
}

/// Shows the URL without its password, so it can be logged.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => {
                let redacted = match (url.find("://"), url.rfind('@')) {
                    (Some(start), Some(at)) if at > start => {
                        let userinfo = &url[start + 3..at];
                        match userinfo.split_once(':') {
                            Some((user, _)) => {
                                format!("{}{user}:***{}", &url[..start + 3], &url[at..])
                            }
                            None => url.clone(),
                        }
                    }
                    _ => url.clone(),
                };
                f.write_str(&redacted)
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// r2d2 manager that dispatches on the URL scheme and prepares each new connection.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    synchronous: Synchronous,
    cache_mib: usize,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            synchronous: Synchronous::default(),
            cache_mib: WriteTuning::default().cache_mib,
        }
    }

    /// SQLite's page cache for every connection this manager opens, in MiB.
    pub fn with_cache_mib(mut self, cache_mib: usize) -> Self {
        self.cache_mib = cache_mib;
        self
    }

    /// SQLite's durability setting for every connection this manager opens.
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    fn establish(&self) -> Result<DbConn, ConnectError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => Ok(DbConn::Pg(PgConnection::establish(url)?)),
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        ConnectError(format!("cannot create folder {}: {e}", dir.display()))
                    })?;
                }
                let path = path.to_str().ok_or_else(|| {
                    ConnectError("the SQLite file path is not valid UTF-8".into())
                })?;
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers run beside the one writer; busy_timeout makes writers
                // queue instead of failing; foreign keys are off by default in SQLite. The
                // cache is an upper bound (a negative size is KiB): SQLite's 2 MiB default
                // is smaller than what a batch of ballots dirties, so it would spill pages
                // to the log mid-transaction and read them back.
                conn.batch_execute(&format!(
                    "PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = {};
                     PRAGMA foreign_keys = ON;
                     PRAGMA busy_timeout = 10000;
                     PRAGMA wal_autocheckpoint = 10000;
                     PRAGMA cache_size = -{};",
                    self.synchronous.pragma(),
                    self.cache_mib * 1024
                ))?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

#[derive(Debug)]
pub struct ConnectError(pub String);

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.trim())
    }
}

impl std::error::Error for ConnectError {}

impl From<ConnectionError> for ConnectError {
    fn from(e: ConnectionError) -> Self {
        // libpq's messages span lines; a start-up failure should read as one.
        ConnectError(
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )
    }
}

impl From<diesel::result::Error> for ConnectError {
    fn from(e: diesel::result::Error) -> Self {
        ConnectError(e.to_string())
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConn, ConnectError> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectError> {
        conn.batch_execute("SELECT 1").map_err(Into::into)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        // A connection left inside a transaction (a panic mid-query) must not be reused.
        let status = match conn {
            DbConn::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
            DbConn::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        };
        !matches!(status.transaction_depth(), Ok(None))
    }
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
    pub writes: WriteTuning,
    /// PostgreSQL: connections that commit waiting ballots together (0: none, each ballot
    /// is its own transaction on the pool).
    pub postgres_writers: usize,
}

/// PostgreSQL's ballot writers by default: four commit 107–131% of pgbench's rate at 64
/// clients (bench/README.md). Each has its own queue and a ballot goes to the writer of its
/// code, so two casts of one code never sit in two batches waiting on each other.
pub const DEFAULT_POSTGRES_WRITERS: usize = 4;

/// SQLite's `synchronous` setting in WAL mode: what a commit waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Synchronous {
    /// Every commit syncs the log to disk: an acknowledged write survives a power cut.
    #[default]
    Full,
    /// Commits only reach the operating system; the log is synced at checkpoints. Survives
    /// a crash of the server, but a power cut can lose the last acknowledged writes.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// How ballots are written: group commit's batch and queue (both databases), and SQLite's
/// durability and page cache.
#[derive(Debug, Clone)]
pub struct WriteTuning {
    pub synchronous: Synchronous,
    /// Most ballots committed in one transaction.
    pub batch_size: usize,
    /// Ballots that may wait for the writer; one more is answered 503.
    pub queue_capacity: usize,
    /// Page cache of each connection, in MiB (filled only as pages are used).
    pub cache_mib: usize,
}

impl Default for WriteTuning {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            batch_size: 64,
            queue_capacity: 1024,
            cache_mib: 64,
        }
    }
}

/// Connects once (so an unreachable database is reported with the driver's own message),
/// runs pending migrations, then builds the pool.
pub fn connect(url: &DatabaseUrl, options: &PoolOptions) -> Result<Pool, ConnectError> {
    let manager = ConnectionManager::new(url.clone())
        .with_synchronous(options.writes.synchronous)
        .with_cache_mib(options.writes.cache_mib);
    let mut first = manager.connect()?;
    run_migrations(&mut first)?;
    drop(first);
    let sqlite = url.backend() == Backend::Sqlite;
    let side_connections = manager.clone();
    let inner = r2d2::Pool::builder()
        .max_size(options.max_size)
        // Keep the pool full: a request should never wait for a connection to be opened.
        .min_idle(None)
        .connection_timeout(options.connection_timeout)
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| ConnectError(e.to_string()))?;
    let sqlite_writer = sqlite.then(|| Arc::new(FairMutex::new(())));
    // SQLite: one writer thread taking the writer's turn. PostgreSQL: `postgres_writers`
    // threads on connections of their own, or none (each ballot its own transaction).
    let writers = match &sqlite_writer {
        Some(turn) => Some((Some(turn.clone()), 1)),
        None => (options.postgres_writers > 0).then_some((None, options.postgres_writers)),
    };
    let group_commit = match writers {
        Some((turn, count)) => Some(
            GroupCommit::start(
                side_connections.clone(),
                turn,
                count,
                options.writes.queue_capacity,
                options.writes.batch_size,
            )
            .map_err(|e| ConnectError(format!("cannot start the writer threads: {e}")))?,
        ),
        None => None,
    };
    let pool = Pool {
        inner,
        sqlite_writer,
        group_commit,
    };
    if sqlite {
        spawn_checkpointer(&pool, side_connections);
    }
    Ok(pool)
}

/// Copies SQLite's write-ahead log back into the database file from a thread of its own,
/// twice a second. Left to SQLite, the checkpoint runs inside whichever write commits when
/// the log is full, and that request waits for megabytes of copying and an fsync. SQLite's
/// own checkpoint (at 10,000 pages) stays as a safety net.
fn spawn_checkpointer(pool: &Pool, manager: ConnectionManager) {
    let Some(alive) = pool.sqlite_writer.as_ref().map(Arc::downgrade) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let Ok(mut conn) = manager.connect() else {
                return;
            };
            // Every clone of the pool holds the writer's turn: when none is left, stop.
            while alive.upgrade().is_some() {
                std::thread::sleep(Duration::from_millis(500));
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::warn!(error = %e, "SQLite checkpoint failed");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no checkpoint thread: SQLite will checkpoint inside writes");
    }
}

/// Applies every pending embedded migration of the connection's backend.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, ConnectError> {
    let applied = match conn {
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| ConnectError(format!("migration failed: {e}")))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Runs `f` in a write transaction. On SQLite the transaction starts with
/// `BEGIN IMMEDIATE`, taking the write lock up front: a deferred transaction that reads
/// first and writes later fails with "database is locked" when another writer got in
/// between, whatever the busy timeout.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if let DbConn::Pg(_) = conn {
        return conn.transaction(f);
    }
    if let DbConn::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    let outcome = f(conn);
    let DbConn::Sqlite(c) = conn else {
        unreachable!("checked above")
    };
    match outcome {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(c)?;
            Ok(value)
        }
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(c)?;
            Err(e)
        }
    }
}

/// Serializes changes to the shape of the org tree (create under, archive, move, import)
/// for the rest of the transaction. On PostgreSQL two moves (A under B, B under A) each pass
/// their cycle check on rows the other does not touch; this lock makes the second see the
/// first. SQLite's writers are serialized already.
pub fn lock_tree(conn: &mut DbConn) -> diesel::QueryResult<()> {
    if let DbConn::Pg(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7355608)").execute(pg)?;
    }
    Ok(())
}

/// Rows per multi-row statement: well inside SQLite's 32,766 and PostgreSQL's 65,535 bound
/// parameters for rows of up to 30 columns, and large enough that a statement's round trip
/// is small beside its rows.
pub const ROWS_PER_STATEMENT: usize = 1000;

/// Loads the rows for many keys with `IN (…)` lists of at most [`ROWS_PER_STATEMENT`] keys
/// (both databases bound the parameters of one statement).
pub fn load_in_chunks<K, T>(
    keys: &[K],
    mut load: impl FnMut(&[K]) -> diesel::QueryResult<Vec<T>>,
) -> diesel::QueryResult<Vec<T>> {
    let mut found = Vec::new();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        found.extend(load(chunk)?);
    }
    Ok(found)
}

/// A multi-row INSERT. diesel's MultiConnection cannot express batch inserts, so this
/// runs the same statement on the backend's own connection (inside the caller's
/// transaction, which lives on that connection).
#[macro_export]
macro_rules! insert_batch {
    ($conn:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConn::Pg(c) => diesel::insert_into($table).values($rows).execute(c),
            $crate::db::DbConn::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c),
        }
    }};
}

/// A multi-row INSERT … RETURNING `$returning`, loaded as `$row` (as [`insert_batch!`]).
#[macro_export]
macro_rules! insert_batch_returning {
    ($conn:expr, $table:expr, $rows:expr, $returning:expr, $row:ty) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConn::Pg(c) => diesel::insert_into($table)
                .values($rows)
                .returning($returning)
                .get_results::<$row>(c),
            $crate::db::DbConn::Sqlite(c) => diesel::insert_into($table)
                .values($rows)
                .returning($returning)
                .get_results::<$row>(c),
        }
    }};
}

/// A hand-written read (aggregates and window functions diesel's DSL cannot express
/// portably), loaded into a `QueryableByName` row type on either backend. The SQL numbers
/// its parameters `$1`, `$2`…; SQLite gets them as `?1`, `?2`…, which bind the same way
/// (so one parameter may appear several times). Every value is bound, never spliced in.
#[macro_export]
macro_rules! load_sql {
    ($conn:expr, $row:ty, $sql:expr $(, $ty:ty => $value:expr)* $(,)?) => {{
        use diesel::RunQueryDsl as _;
        let sql: &str = $sql;
        match $conn {
            $crate::db::DbConn::Pg(c) => diesel::sql_query(sql)
                $(.bind::<$ty, _>($value))*
                .load::<$row>(c),
            $crate::db::DbConn::Sqlite(c) => diesel::sql_query(sql.replace('$', "?"))
                $(.bind::<$ty, _>($value))*
                .load::<$row>(c),
        }
    }};
}

/// Runs a read on a pooled connection, off the async workers.
pub async fn read<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(ApiError::pool)?;
        f(&mut conn)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Refreshes PostgreSQL's statistics of `tables` after a bulk write, so that plans fit the
/// new data at once rather than when autovacuum gets there (a committee's people list took
/// 115 ms instead of 4 ms after a city's roster was loaded). Nothing on SQLite, whose
/// `ANALYZE` would hold the one write lock while it reads every index. Best effort: the
/// write is committed already, so a failure is logged, never reported as the write's.
pub async fn analyze(pool: &Pool, tables: &'static [&'static str]) {
    if pool.has_one_writer() {
        return;
    }
    let outcome = read(pool, move |conn| {
        analyze_on(conn, tables);
        Ok(())
    });
    if let Err(e) = outcome.await {
        tracing::warn!(error = %e, "ANALYZE after a bulk write could not run");
    }
}

/// [`analyze`] on a connection of one's own (nothing on SQLite).
pub fn analyze_on(conn: &mut DbConn, tables: &[&str]) {
    if let DbConn::Pg(pg) = conn {
        if let Err(e) = pg.batch_execute(&format!("ANALYZE {}", tables.join(", "))) {
            tracing::warn!(error = %e, "ANALYZE after a bulk write failed");
        }
    }
}

/// Runs a write in one transaction on a pooled connection, off the async workers.
pub async fn write<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    on_writer_turn(pool, move |conn| write_transaction(conn, f)).await
}

/// Runs `f` on a pooled connection in the writer's turn (SQLite), off the async workers.
async fn on_writer_turn<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || in_writer_turn(&pool, f))
        .await
        .map_err(ApiError::internal)?
}

/// Runs `f` on a pooled connection in the writer's turn (SQLite) on this thread, for work
/// already off the async workers (a job writing slice after slice).
pub fn in_writer_turn<T>(
    pool: &Pool,
    f: impl FnOnce(&mut DbConn) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let _turn = pool.writer_turn();
    let mut conn = pool.get().map_err(ApiError::pool)?;
    f(&mut conn)
}

/// Runs a small write (a ballot, an instant rating) in one transaction, joining the group
/// commit: a writer thread runs it together with the other writes of its kind waiting (see
/// [`SetWrite`]), and this answers once its batch is durable; a full queue is 503 at once.
/// Without group commit it runs alone in a transaction of its own.
///
/// `key` names the rows the write locks exclusively (a ballot: its code): writes of one key
/// go to one writer, so on PostgreSQL, where several writers commit batches side by side,
/// two of them never wait on each other's rows. Writes that add to rows shared across keys
/// (instant ratings' counters) all take one key.
pub async fn write_set<W: SetWrite>(
    pool: &Pool,
    key: u64,
    write_one: W,
) -> Result<W::Output, ApiError> {
    match &pool.group_commit {
        Some(group) => group.write_set(key, write_one).await,
        None => {
            write(pool, move |conn| {
                W::run_set(conn, &[&write_one])?
                    .pop()
                    .ok_or_else(|| ApiError::internal("a set write answered nothing"))
            })
            .await
        }
    }
}

/// [`write`], after every grouped write queued before it is settled: closing a session
/// comes after the ballots already cast, not before them.
pub async fn write_after_grouped<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    if let Some(group) = &pool.group_commit {
        group.settle().await?;
    }
    write(pool, f).await
}

/// Runs `f` in a write transaction that is always rolled back: a dry run that reports
/// what the change would do and leaves nothing behind.
pub async fn rehearse<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    on_writer_turn(pool, move |conn| rehearse_on(conn, f)).await
}

/// [`rehearse`] on a connection of one's own (the command line).
pub fn rehearse_on<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    settled_transaction(conn, |conn| f(conn).map(Settle::RollBack))
}

/// How a transaction that succeeded ends.
pub enum Settle<T> {
    Commit(T),
    /// Nothing is kept, but the value is the answer (a rehearsal, or a slice of an import
    /// that only looks for further errors).
    RollBack(T),
}

/// Runs `f` in a write transaction that commits or rolls back as `f` decides (and rolls
/// back on its error).
pub fn settled_transaction<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<Settle<T>, ApiError>,
) -> Result<T, ApiError> {
    enum Outcome<T> {
        RolledBack(T),
        Failed(ApiError),
    }
    impl<T> From<diesel::result::Error> for Outcome<T> {
        fn from(e: diesel::result::Error) -> Self {
            Outcome::Failed(e.into())
        }
    }
    let result: Result<T, Outcome<T>> = write_transaction(conn, |conn| match f(conn) {
        Ok(Settle::Commit(value)) => Ok(value),
        Ok(Settle::RollBack(value)) => Err(Outcome::RolledBack(value)),
        Err(e) => Err(Outcome::Failed(e)),
    });
    match result {
        Ok(value) | Err(Outcome::RolledBack(value)) => Ok(value),
        Err(Outcome::Failed(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_connections_get_the_settings_they_were_given() {
        #[derive(diesel::QueryableByName)]
        struct Pragma {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            value: i64,
        }
        let pragma = |conn: &mut DbConn, name: &str| -> i64 {
            diesel::sql_query(format!("SELECT {name} AS value FROM pragma_{name}"))
                .get_result::<Pragma>(conn)
                .unwrap()
                .value
        };
        let dir = tempfile::tempdir().unwrap();
        let mut conn = ConnectionManager::new(DatabaseUrl::Sqlite(dir.path().join("t.db")))
            .with_cache_mib(8)
            .with_synchronous(Synchronous::Full)
            .connect()
            .unwrap();
        // A negative cache size is in KiB; FULL is 2.
        assert_eq!(pragma(&mut conn, "cache_size"), -8 * 1024);
        assert_eq!(pragma(&mut conn, "synchronous"), 2);
        assert_eq!(pragma(&mut conn, "foreign_keys"), 1);
    }

    #[test]
    fn accepts_the_two_schemes() {
        assert_eq!(
            "sqlite://data/pingyi.db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite("data/pingyi.db".into())
        );
        assert_eq!(
            "sqlite:///var/lib/pingyi.db"
                .parse::<DatabaseUrl>()
                .unwrap(),
            DatabaseUrl::Sqlite("/var/lib/pingyi.db".into())
        );
        assert_eq!(
            "postgresql://u@h/db"
                .parse::<DatabaseUrl>()
                .unwrap()
                .backend(),
            Backend::Postgres
        );
    }

    #[test]
    fn refuses_other_schemes_with_a_clear_message() {
        let err = "mysql://root@localhost/db"
            .parse::<DatabaseUrl>()
            .unwrap_err();
        assert!(err.contains("\"mysql\""), "{err}");
        assert!("data/pingyi.db".parse::<DatabaseUrl>().is_err());
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn display_hides_the_password() {
        let url: DatabaseUrl = "postgres://app:s3cret@db:5432/pingyi".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/pingyi");
    }
}
