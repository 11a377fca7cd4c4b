//! Group commit: writer threads take small writes (ballots) from one bounded queue and
//! commit as many as are waiting, up to a batch size, in one transaction. Each write runs
//! under its own `SAVEPOINT`, so one that fails rolls back alone and gets its own error;
//! every caller is answered only after the batch's `COMMIT` returned, that is once its write
//! is durable (SQLite at `synchronous = FULL` and PostgreSQL both sync the log on commit).
//!
//! SQLite runs one writer thread, which takes the pool's writer turn for each batch.
//! PostgreSQL runs a few, each on its own connection and with its own queue: while one waits
//! for its commit to reach the disk, another runs the next batch. A write names a key (a
//! ballot: its code) and always goes to the same writer, so two writes that lock the same
//! row (one code cast twice at once) meet in one writer, one after the other, and never in
//! two batches waiting on each other's locks, which PostgreSQL would end as a deadlock.
//!
//! There is no waiting window: while one batch commits, the next one gathers in the queue,
//! so a single client pays no delay and a burst shares its syncs.
//!
//! Writes of one kind that can run together ([`SetWrite`]: ballots, instant ratings) are
//! not run one by one: the writer hands all of a batch's writes of that kind to one call,
//! which writes them in a few set-based statements (one `UPDATE` for all their codes, one
//! `INSERT` for all their rows), so a batch costs a handful of statements instead of a
//! handful per write. If that call fails, its savepoint is rolled back and each of its
//! writes runs again alone under its own, so one bad write still fails alone.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection as _;
use parking_lot::FairMutex;
use tokio::sync::{mpsc, oneshot};

use super::{ConnectionManager, DbConn};
use crate::error::ApiError;
use diesel::r2d2::ManageConnection as _;

/// The sending side of every writer's queue; cloned into every pool handle. A writer thread
/// stops when the last one is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    queues: Vec<mpsc::Sender<Box<dyn Queued>>>,
}

/// A write waiting in the queue, with its answer once its batch is settled.
trait Queued: Send {
    /// Runs the write inside the batch's transaction, keeping its value for the answer.
    fn run(&mut self, conn: &mut DbConn) -> Result<(), ApiError>;
    /// The write failed and its savepoint was rolled back.
    fn fail(&mut self, error: ApiError);
    /// Answers the caller: its own outcome if the batch committed, else `lost`.
    fn answer(self: Box<Self>, lost: Option<ApiError>);
    /// A settle marker: answered once every write taken before it is settled.
    fn is_marker(&self) -> bool {
        false
    }
    /// For a set write: its kind, and what runs a batch's writes of that kind together.
    fn set_kind(&self) -> Option<(TypeId, RunTogether)> {
        None
    }
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Runs a batch's writes of one set kind together (see [`SetWrite`]).
type RunTogether = fn(&mut DbConn, &mut [Box<dyn Queued>]) -> Result<(), ApiError>;

/// Writes of one kind that a writer runs together in a few set-based statements.
pub trait SetWrite: Send + 'static {
    /// What one write answers (its refusals included: a refused write writes nothing).
    type Output: Send + 'static;

    /// Runs `writes` together inside the batch's transaction and answers one outcome per
    /// write, in their order. An error means none of them may be kept: the writer rolls the
    /// set back and runs each write alone (a slice of one), so a write whose own error
    /// should be its answer (a ballot that does not fit its form) fails alone.
    fn run_set(conn: &mut DbConn, writes: &[&Self]) -> Result<Vec<Self::Output>, ApiError>;
}

/// A batch's one-use credentials (voting codes, service tickets), consumed together: what
/// each write got, which credentials were consumed, and which were named but not consumed
/// (their refusals are to be read).
pub struct Claims<'a, V> {
    /// Per write, in order: what consuming its credential answered, for the first write
    /// that names a consumed credential only.
    pub claims: Vec<Option<V>>,
    pub consumed: HashSet<&'a str>,
    pub unconsumed: Vec<&'a str>,
}

/// Consumes the distinct credentials that `keys` name (one per write, `None`: the write
/// takes none) with one call of `consume`, which answers those it consumed; each consumed
/// credential goes to the first write that names it, so a credential sent twice in one batch
/// counts once.
pub fn claim_once<'a, V>(
    keys: &[Option<&'a str>],
    consume: impl FnOnce(&[&'a str]) -> Result<HashMap<String, V>, ApiError>,
) -> Result<Claims<'a, V>, ApiError> {
    let mut seen = HashSet::with_capacity(keys.len());
    let distinct: Vec<&str> = keys
        .iter()
        .flatten()
        .copied()
        .filter(|key| seen.insert(*key))
        .collect();
    let mut got = match distinct.is_empty() {
        true => HashMap::new(),
        false => consume(&distinct)?,
    };
    let claims: Vec<Option<V>> = keys
        .iter()
        .map(|key| key.and_then(|key| got.remove(key)))
        .collect();
    let consumed: HashSet<&str> = keys
        .iter()
        .zip(&claims)
        .filter(|(_, claim)| claim.is_some())
        .filter_map(|(key, _)| *key)
        .collect();
    let unconsumed = distinct
        .into_iter()
        .filter(|key| !consumed.contains(key))
        .collect();
    Ok(Claims {
        claims,
        consumed,
        unconsumed,
    })
}

struct SetEntry<W: SetWrite> {
    write: W,
    pending: Pending<W::Output>,
}

struct Entry<T, F> {
    write: Option<F>,
    pending: Pending<T>,
}

/// A queued write's outcome once run, and where its caller waits for it.
struct Pending<T> {
    outcome: Option<Result<T, ApiError>>,
    reply: oneshot::Sender<Result<T, ApiError>>,
}

impl<T> Pending<T> {
    fn new(reply: oneshot::Sender<Result<T, ApiError>>) -> Self {
        Pending {
            outcome: None,
            reply,
        }
    }

    /// Answers the caller: its own outcome if the batch committed, else `lost`.
    fn answer(self, lost: Option<ApiError>) {
        let outcome = match (lost, self.outcome) {
            (Some(e), _) => Err(e),
            (None, Some(outcome)) => outcome,
            (None, None) => Err(ApiError::internal("a queued write was not run")),
        };
        // The caller may have gone (client disconnected): nothing to tell.
        let _ = self.reply.send(outcome);
    }
}

/// What `settle` queues: it writes nothing.
struct Marker {
    reply: oneshot::Sender<Result<(), ApiError>>,
}

impl Queued for Marker {
    fn run(&mut self, _: &mut DbConn) -> Result<(), ApiError> {
        Ok(())
    }

    fn fail(&mut self, _: ApiError) {}

    fn answer(self: Box<Self>, _: Option<ApiError>) {
        let _ = self.reply.send(Ok(()));
    }

    fn is_marker(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl<T, F> Queued for Entry<T, F>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    fn run(&mut self, conn: &mut DbConn) -> Result<(), ApiError> {
        let write = self
            .write
            .take()
            .ok_or_else(|| ApiError::internal("a queued write ran twice"))?;
        let value = unwind_safe(|| write(conn))?;
        self.pending.outcome = Some(Ok(value));
        Ok(())
    }

    fn fail(&mut self, error: ApiError) {
        self.pending.outcome = Some(Err(error));
    }

    fn answer(self: Box<Self>, lost: Option<ApiError>) {
        self.pending.answer(lost);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl<W: SetWrite> Queued for SetEntry<W> {
    fn run(&mut self, conn: &mut DbConn) -> Result<(), ApiError> {
        let write = &self.write;
        let mut outputs = unwind_safe(|| W::run_set(conn, &[write]))?;
        let output = outputs
            .pop()
            .filter(|_| outputs.is_empty())
            .ok_or_else(|| ApiError::internal("a set write answered other than once"))?;
        self.pending.outcome = Some(Ok(output));
        Ok(())
    }

    fn fail(&mut self, error: ApiError) {
        self.pending.outcome = Some(Err(error));
    }

    fn answer(self: Box<Self>, lost: Option<ApiError>) {
        self.pending.answer(lost);
    }

    fn set_kind(&self) -> Option<(TypeId, RunTogether)> {
        Some((TypeId::of::<W>(), run_together::<W>))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Runs `entries`, every one a `SetEntry<W>`, in one `run_set` and keeps each outcome.
fn run_together<W: SetWrite>(
    conn: &mut DbConn,
    entries: &mut [Box<dyn Queued>],
) -> Result<(), ApiError> {
    let not_of_kind = || ApiError::internal("a set of writes mixed two kinds");
    let writes = entries
        .iter()
        .map(|entry| {
            entry
                .as_any()
                .downcast_ref::<SetEntry<W>>()
                .map(|entry| &entry.write)
                .ok_or_else(not_of_kind)
        })
        .collect::<Result<Vec<&W>, _>>()?;
    let outputs = unwind_safe(|| W::run_set(conn, &writes))?;
    if outputs.len() != entries.len() {
        return Err(ApiError::internal("a set write answered other than once"));
    }
    for (entry, output) in entries.iter_mut().zip(outputs) {
        let entry = entry
            .as_any_mut()
            .downcast_mut::<SetEntry<W>>()
            .ok_or_else(not_of_kind)?;
        entry.pending.outcome = Some(Ok(output));
    }
    Ok(())
}

/// Runs a write, turning a panic into an error: a bug in one write must not take the writer
/// thread (and every later write) with it.
fn unwind_safe<T>(f: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(ApiError::internal(panic_message(&panic))))
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("a queued write panicked: {text}")
}

impl GroupCommit {
    /// Starts `writers` writer threads, each on a connection of its own with a queue of its
    /// own (`capacity` shared among them). With a writer turn (SQLite), a thread takes it for
    /// each batch, so other writes interleave between batches in fair order.
    pub fn start(
        manager: ConnectionManager,
        writer_turn: Option<Arc<FairMutex<()>>>,
        writers: usize,
        capacity: usize,
        batch_size: usize,
    ) -> std::io::Result<Self> {
        let writers = writers.max(1);
        let mut queues = Vec::with_capacity(writers);
        for n in 0..writers {
            let (queue, incoming) =
                mpsc::channel::<Box<dyn Queued>>(capacity.div_ceil(writers).max(1));
            let writer = Writer {
                incoming,
                manager: manager.clone(),
                writer_turn: writer_turn.clone(),
                batch_size: batch_size.max(1),
            };
            std::thread::Builder::new()
                .name(format!("group-commit-{n}"))
                .spawn(move || writer.run())?;
            queues.push(queue);
        }
        Ok(Self { queues })
    }

    /// Queues a write on the writer of `key` and waits for its batch to be committed. Writes
    /// that may lock the same row must give the same key. A full queue answers 503 with
    /// `Retry-After` at once instead of waiting without bound.
    pub async fn write<T, F>(&self, key: u64, write: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let entry = Box::new(Entry {
            write: Some(write),
            pending: Pending::new(reply),
        });
        self.queue(key, entry)?;
        answer
            .await
            .map_err(|_| ApiError::pool("the writer thread stopped"))?
    }

    /// [`write`](Self::write) for a set write: the batch runs it together with the other
    /// writes of its kind taken with it.
    pub async fn write_set<W: SetWrite>(&self, key: u64, write: W) -> Result<W::Output, ApiError> {
        let (reply, answer) = oneshot::channel();
        let entry = Box::new(SetEntry {
            write,
            pending: Pending::new(reply),
        });
        self.queue(key, entry)?;
        answer
            .await
            .map_err(|_| ApiError::pool("the writer thread stopped"))?
    }

    /// Queues on the writer of `key`, or refuses at once when its queue is full.
    fn queue(&self, key: u64, entry: Box<dyn Queued>) -> Result<(), ApiError> {
        self.queue_of(key).try_send(entry).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ApiError::queue_full(),
            mpsc::error::TrySendError::Closed(_) => ApiError::pool("the writer thread stopped"),
        })
    }

    fn queue_of(&self, key: u64) -> &mpsc::Sender<Box<dyn Queued>> {
        // `len` is at least one, and a usize holds any index below it.
        &self.queues[(key % self.queues.len() as u64) as usize]
    }

    /// Waits until every write queued before this call is committed or refused: a change
    /// that must come after them (closing a session after the ballots already cast) calls
    /// this first. A marker goes through every writer's queue, each answered once the
    /// writes ahead of it are settled; it waits for room in a full queue rather than fail.
    pub async fn settle(&self) -> Result<(), ApiError> {
        let mut answers = Vec::with_capacity(self.queues.len());
        for queue in &self.queues {
            let (reply, answer) = oneshot::channel();
            queue
                .send(Box::new(Marker { reply }))
                .await
                .map_err(|_| ApiError::pool("the writer thread stopped"))?;
            answers.push(answer);
        }
        for answer in answers {
            answer
                .await
                .map_err(|_| ApiError::pool("the writer thread stopped"))??;
        }
        Ok(())
    }
}

/// One writer thread: its queue's receiving end and what it needs to commit.
struct Writer {
    incoming: mpsc::Receiver<Box<dyn Queued>>,
    manager: ConnectionManager,
    writer_turn: Option<Arc<FairMutex<()>>>,
    batch_size: usize,
}

impl Writer {
    /// The thread's loop; it ends when every sender is gone. Markers are answered after the
    /// batch they came with, so after every write queued ahead of them.
    fn run(mut self) {
        let mut conn = None;
        let mut batch = Vec::with_capacity(self.batch_size);
        while let Some(first) = self.incoming.blocking_recv() {
            batch.push(first);
            while batch.len() < self.batch_size {
                match self.incoming.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let (markers, writes): (Vec<_>, Vec<_>) =
                batch.drain(..).partition(|entry| entry.is_marker());
            batch.extend(writes);
            if !batch.is_empty() {
                let _turn = self.writer_turn.as_ref().map(|turn| turn.lock());
                commit_batch(&self.manager, &mut conn, &mut batch);
            }
            for marker in markers {
                marker.answer(None);
            }
        }
    }
}

/// Runs one batch in one transaction, each write under its own savepoint, and answers
/// every caller once the outcome is known.
fn commit_batch(
    manager: &ConnectionManager,
    slot: &mut Option<DbConn>,
    batch: &mut Vec<Box<dyn Queued>>,
) {
    let lost = match run_batch(manager, slot, batch) {
        Ok(()) => None,
        Err(cause) => {
            tracing::error!(error = %cause, writes = batch.len(), "a batch of writes was lost");
            // The connection may be left inside a transaction: open a new one next time.
            *slot = None;
            Some(cause)
        }
    };
    for entry in batch.drain(..) {
        entry.answer(
            lost.as_ref()
                .map(|_| ApiError::pool("the write could not be committed")),
        );
    }
}

/// Only a savepoint may have ended; if the batch's own transaction is gone too, nothing of
/// the batch can be trusted.
fn ensure_batch_open(conn: &mut DbConn, cause: &str) -> Result<(), String> {
    let depth = with_manager(conn, |status| status.depth()).map_err(|e| e.to_string())?;
    match depth {
        Some(1) => Ok(()),
        _ => Err(format!("the batch's transaction ended early: {cause}")),
    }
}

fn run_batch(
    manager: &ConnectionManager,
    slot: &mut Option<DbConn>,
    batch: &mut [Box<dyn Queued>],
) -> Result<(), String> {
    let conn = match slot {
        Some(conn) => conn,
        None => slot.insert(manager.connect().map_err(|e| e.to_string())?),
    };
    // SQLite: take the write lock at once rather than at the first write.
    let begin = match conn {
        DbConn::Sqlite(_) => "BEGIN IMMEDIATE",
        DbConn::Pg(_) => "BEGIN",
    };
    with_manager(conn, |status| status.begin(begin)).map_err(|e| e.to_string())?;
    // A write alone (one client at a time) needs no savepoint: if it fails, the whole
    // transaction is its own to roll back, two round trips fewer on PostgreSQL.
    if let [only] = batch {
        return match only.run(conn) {
            Ok(()) => commit(conn),
            Err(e) => {
                only.fail(e);
                with_manager(conn, |status| status.rollback()).map_err(|e| e.to_string())
            }
        };
    }
    // Writes of one set kind side by side, in the order they came (the sort is stable).
    batch.sort_by_key(|entry| kind_of(entry.as_ref()));
    // The whole batch one set (a burst of ballots): no savepoint around it, which SQLite
    // pays for by copying every page the set changes to a sub-journal first. If the set
    // fails, the transaction is begun again and each write runs alone.
    let mut sets = true;
    if let Some((kind, together)) = batch[0].set_kind() {
        if batch
            .iter()
            .all(|entry| kind_of(entry.as_ref()) == Some(kind))
        {
            if together(conn, batch).is_ok() {
                return commit(conn);
            }
            with_manager(conn, |status| status.rollback()).map_err(|e| e.to_string())?;
            with_manager(conn, |status| status.begin(begin)).map_err(|e| e.to_string())?;
            sets = false;
        }
    }
    for group in batch.chunk_by_mut(|a, b| kind_of(a.as_ref()) == kind_of(b.as_ref())) {
        let together = group[0].set_kind().filter(|_| sets && group.len() > 1);
        if let Some((_, together)) = together {
            // Under a savepoint: if the set fails, each of its writes runs alone below.
            if conn.transaction(|conn| together(conn, group)).is_ok() {
                continue;
            }
            ensure_batch_open(conn, "a set of writes failed")?;
        }
        for entry in group.iter_mut() {
            // A nested transaction is a savepoint: a failing write rolls back alone.
            if let Err(e) = conn.transaction(|conn| entry.run(conn)) {
                ensure_batch_open(conn, &e.to_string())?;
                entry.fail(e);
            }
        }
    }
    commit(conn)
}

/// The set kind of a queued write, if it is a set write.
fn kind_of(entry: &dyn Queued) -> Option<TypeId> {
    entry.set_kind().map(|(kind, _)| kind)
}

/// Commits the batch's transaction, or rolls it back if the commit fails.
fn commit(conn: &mut DbConn) -> Result<(), String> {
    if let Err(e) = with_manager(conn, |status| status.commit()) {
        let _ = with_manager(conn, |status| status.rollback());
        return Err(e.to_string());
    }
    Ok(())
}

/// The outermost transaction of a batch, on either backend's own connection.
enum Outer<'a> {
    Sqlite(&'a mut diesel::SqliteConnection),
    Pg(&'a mut diesel::PgConnection),
}

impl Outer<'_> {
    fn begin(&mut self, sql: &str) -> diesel::QueryResult<()> {
        match self {
            Outer::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(*c, sql),
            Outer::Pg(c) => AnsiTransactionManager::begin_transaction_sql(*c, sql),
        }
    }

    fn depth(&mut self) -> diesel::QueryResult<Option<u32>> {
        let status = match self {
            Outer::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(*c),
            Outer::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(*c),
        };
        Ok(status.transaction_depth()?.map(u32::from))
    }

    fn commit(&mut self) -> diesel::QueryResult<()> {
        match self {
            Outer::Sqlite(c) => AnsiTransactionManager::commit_transaction(*c),
            Outer::Pg(c) => AnsiTransactionManager::commit_transaction(*c),
        }
    }

    fn rollback(&mut self) -> diesel::QueryResult<()> {
        match self {
            Outer::Sqlite(c) => AnsiTransactionManager::rollback_transaction(*c),
            Outer::Pg(c) => AnsiTransactionManager::rollback_transaction(*c),
        }
    }
}

fn with_manager<T>(conn: &mut DbConn, f: impl FnOnce(&mut Outer<'_>) -> T) -> T {
    match conn {
        DbConn::Sqlite(c) => f(&mut Outer::Sqlite(c)),
        DbConn::Pg(c) => f(&mut Outer::Pg(c)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;

    use actix_web::http::StatusCode;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use super::*;
    use crate::db::DatabaseUrl;

    /// A writer on a fresh SQLite file with a one-column table, and a connection to read it.
    fn writer(capacity: usize, batch_size: usize) -> (GroupCommit, DbConn, tempfile::TempDir) {
        writers(Some(Arc::new(FairMutex::new(()))), 1, capacity, batch_size)
    }

    /// `count` writer threads, taking `turn` for each batch if there is one.
    fn writers(
        turn: Option<Arc<FairMutex<()>>>,
        count: usize,
        capacity: usize,
        batch_size: usize,
    ) -> (GroupCommit, DbConn, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let manager = ConnectionManager::new(DatabaseUrl::Sqlite(dir.path().join("t.db")));
        let mut reader = manager.connect().unwrap();
        reader
            .batch_execute("CREATE TABLE t (x INTEGER NOT NULL)")
            .unwrap();
        let group = GroupCommit::start(manager, turn, count, capacity, batch_size).unwrap();
        (group, reader, dir)
    }

    fn insert(x: i64) -> impl FnOnce(&mut DbConn) -> Result<i64, ApiError> + Send + 'static {
        move |conn| {
            diesel::sql_query(format!("INSERT INTO t (x) VALUES ({x})")).execute(conn)?;
            Ok(x)
        }
    }

    fn stored(conn: &mut DbConn) -> Vec<i64> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            x: i64,
        }
        diesel::sql_query("SELECT x FROM t ORDER BY x")
            .load::<Row>(conn)
            .unwrap()
            .into_iter()
            .map(|r| r.x)
            .collect()
    }

    /// Occupies the writer thread inside a batch until the returned sender is dropped, so
    /// that the writes queued meanwhile form the next batch together.
    async fn hold_the_writer(group: &GroupCommit) -> std_mpsc::Sender<()> {
        let (release, held) = std_mpsc::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        let blocker = group.clone();
        actix_web::rt::spawn(async move {
            blocker
                .write(0, move |_| {
                    let _ = started.send(());
                    let _ = held.recv();
                    Ok(())
                })
                .await
        });
        running.await.unwrap();
        release
    }

    /// A set write on `t`: all its values in one statement; a negative one fails the set
    /// after writing. It answers the size of the set it ran in.
    struct Put(i64);

    impl SetWrite for Put {
        type Output = usize;

        fn run_set(conn: &mut DbConn, writes: &[&Self]) -> Result<Vec<usize>, ApiError> {
            let values: Vec<String> = writes.iter().map(|w| format!("({})", w.0)).collect();
            diesel::sql_query(format!("INSERT INTO t (x) VALUES {}", values.join(", ")))
                .execute(conn)?;
            if writes.iter().any(|w| w.0 < 0) {
                return Err(ApiError::conflict(
                    crate::error::ErrorCode::CodeUsed,
                    "refused after writing",
                ));
            }
            Ok(vec![writes.len(); writes.len()])
        }
    }

    #[test]
    fn a_credential_named_twice_goes_to_its_first_write_only() {
        let keys = [Some("a"), None, Some("b"), Some("a"), Some("c")];
        let mut asked = Vec::new();
        let claimed = claim_once(&keys, |distinct| {
            asked = distinct.to_vec();
            Ok(HashMap::from([("a".to_owned(), 1), ("c".to_owned(), 3)]))
        })
        .unwrap();
        assert_eq!(asked, ["a", "b", "c"], "each credential consumed once");
        assert_eq!(claimed.claims, [Some(1), None, None, None, Some(3)]);
        assert_eq!(claimed.consumed, HashSet::from(["a", "c"]));
        assert_eq!(claimed.unconsumed, ["b"]);
        // Nothing to consume: no call.
        let none = claim_once::<i32>(&[None], |_| panic!("called")).unwrap();
        assert_eq!(none.claims, [None]);
    }

    #[actix_web::test]
    async fn set_writes_of_one_batch_run_together_beside_other_writes() {
        let (group, mut reader, _dir) = writer(16, 16);
        let release = hold_the_writer(&group).await;
        let answers = actix_web::rt::spawn({
            let group = group.clone();
            async move {
                tokio::join!(
                    group.write_set(0, Put(1)),
                    group.write(0, insert(2)),
                    group.write_set(0, Put(3)),
                    group.write_set(0, Put(4))
                )
            }
        });
        // Let all four reach the queue before the writer takes its next batch.
        while group.queues[0].capacity() > 16 - 4 {
            actix_web::rt::task::yield_now().await;
        }
        drop(release);
        let (a, b, c, d) = answers.await.unwrap();
        assert_eq!(
            (a.unwrap(), c.unwrap(), d.unwrap()),
            (3, 3, 3),
            "one set of three"
        );
        assert_eq!(b.unwrap(), 2);
        assert_eq!(stored(&mut reader), vec![1, 2, 3, 4]);
    }

    #[actix_web::test]
    async fn a_failing_set_runs_again_one_write_at_a_time_and_only_the_bad_one_fails() {
        let (group, mut reader, _dir) = writer(16, 16);
        let release = hold_the_writer(&group).await;
        let answers = actix_web::rt::spawn({
            let group = group.clone();
            async move {
                tokio::join!(
                    group.write_set(0, Put(1)),
                    group.write_set(0, Put(-2)),
                    group.write_set(0, Put(3))
                )
            }
        });
        drop(release);
        let (a, b, c) = answers.await.unwrap();
        assert_eq!(
            (a.unwrap(), c.unwrap()),
            (1, 1),
            "each alone after the set failed"
        );
        assert_eq!(b.unwrap_err().status, StatusCode::CONFLICT);
        assert_eq!(stored(&mut reader), vec![1, 3]);
        // A set write alone that fails rolls back too, and the writer goes on.
        assert!(group.write_set(0, Put(-5)).await.is_err());
        assert_eq!(group.write_set(0, Put(6)).await.unwrap(), 1);
        assert_eq!(stored(&mut reader), vec![1, 3, 6]);
    }

    #[actix_web::test]
    async fn a_failing_write_rolls_back_alone_and_the_rest_of_its_batch_commits() {
        let (group, mut reader, _dir) = writer(16, 16);
        let release = hold_the_writer(&group).await;
        let failing = |conn: &mut DbConn| -> Result<i64, ApiError> {
            diesel::sql_query("INSERT INTO t (x) VALUES (2)").execute(conn)?;
            Err(ApiError::conflict(
                crate::error::ErrorCode::CodeUsed,
                "refused after writing",
            ))
        };
        let answers = actix_web::rt::spawn({
            let group = group.clone();
            async move {
                tokio::join!(
                    group.write(0, insert(1)),
                    group.write(0, failing),
                    group.write(0, insert(3))
                )
            }
        });
        drop(release);
        let (a, b, c) = answers.await.unwrap();
        assert_eq!(a.unwrap(), 1);
        assert_eq!(b.unwrap_err().status, StatusCode::CONFLICT);
        assert_eq!(c.unwrap(), 3);
        assert_eq!(stored(&mut reader), vec![1, 3]);
    }

    #[actix_web::test]
    async fn a_write_alone_that_fails_rolls_back_and_the_writer_goes_on() {
        let (group, mut reader, _dir) = writer(16, 16);
        let failing = |conn: &mut DbConn| -> Result<i64, ApiError> {
            diesel::sql_query("INSERT INTO t (x) VALUES (2)").execute(conn)?;
            Err(ApiError::conflict(
                crate::error::ErrorCode::CodeUsed,
                "refused after writing",
            ))
        };
        let refused = group.write(0, failing).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(group.write(0, insert(1)).await.unwrap(), 1);
        assert_eq!(stored(&mut reader), vec![1]);
    }

    #[actix_web::test]
    async fn a_panicking_write_fails_alone() {
        let (group, mut reader, _dir) = writer(16, 16);
        let release = hold_the_writer(&group).await;
        let panicking = |conn: &mut DbConn| -> Result<i64, ApiError> {
            diesel::sql_query("INSERT INTO t (x) VALUES (2)").execute(conn)?;
            panic!("a bug in a write")
        };
        let answers = actix_web::rt::spawn({
            let group = group.clone();
            async move {
                tokio::join!(
                    group.write(0, insert(1)),
                    group.write(0, panicking),
                    group.write(0, insert(3))
                )
            }
        });
        drop(release);
        let (a, b, c) = answers.await.unwrap();
        assert_eq!((a.unwrap(), c.unwrap()), (1, 3));
        assert_eq!(b.unwrap_err().status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(stored(&mut reader), vec![1, 3]);
        // The writer thread lives on.
        assert_eq!(group.write(0, insert(4)).await.unwrap(), 4);
    }

    #[actix_web::test]
    async fn a_full_queue_answers_503_with_retry_after_at_once() {
        let (group, mut reader, _dir) = writer(2, 1);
        let release = hold_the_writer(&group).await;
        let waiting = actix_web::rt::spawn({
            let group = group.clone();
            async move { tokio::join!(group.write(0, insert(1)), group.write(0, insert(2))) }
        });
        // Let the two waiting writes reach the queue.
        while group.queues[0].capacity() > 0 {
            actix_web::rt::task::yield_now().await;
        }
        let refused = group.write(0, insert(3)).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.extra.and_then(|e| e.retry_after), Some(1));
        drop(release);
        let (a, b) = waiting.await.unwrap();
        assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
        assert_eq!(stored(&mut reader), vec![1, 2]);
    }

    #[actix_web::test]
    async fn settling_waits_for_every_write_queued_before() {
        let (group, mut reader, _dir) = writer(16, 16);
        let release = hold_the_writer(&group).await;
        let queued = actix_web::rt::spawn({
            let group = group.clone();
            async move { group.write(0, insert(7)).await }
        });
        while group.queues[0].capacity() == 16 {
            actix_web::rt::task::yield_now().await;
        }
        let settled = actix_web::rt::spawn({
            let group = group.clone();
            async move { group.settle().await }
        });
        drop(release);
        settled.await.unwrap().unwrap();
        assert_eq!(stored(&mut reader), vec![7]);
        assert_eq!(queued.await.unwrap().unwrap(), 7);
    }

    #[actix_web::test]
    async fn with_several_writers_settling_waits_for_the_other_writers_batches() {
        // No writer turn, as on PostgreSQL: three threads on three connections.
        let (group, mut reader, _dir) = writers(None, 3, 16, 1);
        // Writer 0 holds SQLite's write lock inside a batch; writer 1 takes the next write
        // and waits for that lock.
        let release = hold_the_writer(&group).await;
        let queued = actix_web::rt::spawn({
            let group = group.clone();
            async move { group.write(1, insert(7)).await }
        });
        while group.queues[1].capacity() < group.queues[1].max_capacity() {
            actix_web::rt::task::yield_now().await;
        }
        let settled = actix_web::rt::spawn({
            let group = group.clone();
            async move { group.settle().await }
        });
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(
            !settled.is_finished(),
            "settled while a writer still held a write taken before"
        );
        drop(release);
        settled.await.unwrap().unwrap();
        assert_eq!(stored(&mut reader), vec![7]);
        assert_eq!(queued.await.unwrap().unwrap(), 7);
    }

    #[actix_web::test]
    async fn writes_of_one_key_always_go_to_one_writer() {
        let (group, _reader, _dir) = writers(None, 3, 64, 4);
        let thread_of = |key: u64| {
            let group = group.clone();
            async move {
                group
                    .write(key, |_| {
                        Ok(std::thread::current().name().map(str::to_owned))
                    })
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        let mut threads = std::collections::HashMap::new();
        for round in 0..5 {
            for key in [3_u64, 4, 5, 1_000_003] {
                let thread = thread_of(key).await;
                let first = threads.entry(key).or_insert_with(|| thread.clone());
                assert_eq!(*first, thread, "key {key}, round {round}");
            }
        }
        let distinct: std::collections::HashSet<_> = threads.values().collect();
        assert_eq!(
            distinct.len(),
            3,
            "three keys in a row spread over three writers"
        );
    }
}
