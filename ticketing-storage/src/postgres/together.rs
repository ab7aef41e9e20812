//! Concurrent writes of one kind, written together: a purchase's placements, payments and audit
//! entries.
//!
//! Each of a purchase's writes is a statement and a commit of its own; under load most of what
//! Postgres spends on them is the statement and the commit, not the rows. And every sale of a type
//! updates the same two counter rows, so its sales queue on their row locks whatever else they do.
//! Here such writes queue in the process instead: one writer per key (a placement's ticket type,
//! say) takes every write waiting at that moment and applies them as one statement, then the ones
//! that arrived meanwhile. Under load a statement carries several writes for the price of a little
//! more than one; alone, a write goes through at once, as before.
//!
//! The statement applies all of its writes or none. When it is refused (the places ran out for one
//! of several placements, say), each write is told so and goes its own way through the shared
//! step, which says exactly what happened to it. The writer runs as a task of its own, so a caller
//! that stops waiting (its client went away) never leaves a statement half-answered or a queue
//! without its writer.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::PgPool;
use ticketing_core::store::StoreError;
use tokio::sync::oneshot;

use super::rows;
use crate::codec::{Param, db_error};

/// The most parameters one statement binds (Postgres takes up to 65,535).
const MAX_PARAMS: usize = 30_000;

/// How many statements of one key may be under way at once: while one waits for its commit (or,
/// for placements, for the counters' row locks), the next gathers what arrived and starts.
const WRITERS: usize = 2;

/// A write that can be applied with others of its key in one statement.
pub(super) trait Joinable: Send + Sized + 'static {
    /// What writes are joined by: only writes of one key go in one statement.
    type Key: Copy + Eq + Hash + Send + 'static;

    /// This write's key.
    fn key(&self) -> Self::Key;

    /// How many parameters its rows bind (a statement adds a few of its own).
    fn width(&self) -> usize;

    /// Writes of one key (at least one) as one statement that applies all of them or fails.
    fn statement(batch: &[Self]) -> (String, Vec<Param>);
}

/// What refuses a joined statement for the shared step to say why: a check of its own (a division
/// by zero), a unique key (a short code drawn twice, an idempotency key used before, a delivery
/// recorded already), a foreign key (a type or an event deleted meanwhile), a deadlock.
const REFUSALS: [&str; 4] = ["22012", "23505", "23503", "40P01"];

/// Whether the database refused a statement of several writes for one write's rows, so that each
/// should go its own way: a refusal, or any data exception or broken constraint (SQLSTATE classes
/// 22 and 23: one write's bad value must not fail the others). Anything else (a timeout, the
/// database out of resources) is the database's state, answered as it is rather than tried again
/// once a write.
fn of_the_rows(code: &str) -> bool {
    REFUSALS.contains(&code) || code.starts_with("22") || code.starts_with("23")
}

/// What a write's writer says: applied, refused (nothing of it written, for the shared step to
/// explain), or an error.
type Answer = Result<bool, StoreError>;

/// The writes waiting, by key; a key present here has a writer running.
pub(super) struct Together<T: Joinable> {
    waiting: Mutex<HashMap<T::Key, Queue<T>>>,
}

/// One key's writes waiting, and its writers.
struct Queue<T> {
    writes: Vec<(T, oneshot::Sender<Answer>)>,
    /// Writers running, at most [`WRITERS`].
    writers: usize,
    /// Writers running that are not writing a statement (gathering or about to stop).
    idle: usize,
}

impl<T: Joinable> Default for Together<T> {
    fn default() -> Self {
        Self { waiting: Mutex::default() }
    }
}

impl<T: Joinable> std::fmt::Debug for Together<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Together").finish_non_exhaustive()
    }
}

impl<T: Joinable> Together<T> {
    /// Applies `write` with the other writes of its key waiting at the time: `true` when it
    /// applied, `false` when it was refused (nothing of it written).
    pub(super) async fn apply(self: &Arc<Self>, pool: &PgPool, write: T) -> Result<bool, StoreError> {
        let key = write.key();
        let (reply, answer) = oneshot::channel();
        let start = match self.waiting.lock().unwrap_or_else(PoisonError::into_inner).entry(key) {
            Entry::Occupied(mut queue) => {
                let queue = queue.get_mut();
                queue.writes.push((write, reply));
                let start = queue.idle == 0 && queue.writers < WRITERS;
                queue.writers += usize::from(start);
                queue.idle += usize::from(start);
                start
            }
            Entry::Vacant(queue) => {
                queue.insert(Queue { writes: vec![(write, reply)], writers: 1, idle: 1 });
                true
            }
        };
        if start {
            tokio::spawn(Writer { together: Arc::clone(self), key, idle: true, done: false }.write(pool.clone()));
        }
        match answer.await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError::Unavailable("the writer of joined writes stopped".into())),
        }
    }
}

/// The writer of one key's writes.
struct Writer<T: Joinable> {
    together: Arc<Together<T>>,
    key: T::Key,
    /// Whether it is counted idle (not writing a statement).
    idle: bool,
    /// Whether it stopped by itself (nothing left to write), its counts already taken back.
    done: bool,
}

impl<T: Joinable> Writer<T> {
    /// Writes what waits until nothing does, then stops (the key's last writer removes it).
    async fn write(mut self, pool: PgPool) {
        loop {
            let batch = {
                let mut waiting = self.together.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(queue) = waiting.get_mut(&self.key) else { return };
                if queue.writes.is_empty() {
                    queue.writers -= 1;
                    queue.idle -= 1;
                    if queue.writers == 0 {
                        waiting.remove(&self.key);
                    }
                    self.done = true;
                    return;
                }
                let mut params = 0;
                let take = queue
                    .writes
                    .iter()
                    .take_while(|(write, _)| {
                        params += write.width();
                        params <= MAX_PARAMS
                    })
                    .count()
                    .max(1);
                queue.idle -= 1;
                self.idle = false;
                queue.writes.drain(..take).collect::<Vec<_>>()
            };
            let (writes, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let (sql, params) = T::statement(&writes);
            let done = rows::bind(sqlx::query(sqlx::AssertSqlSafe(sql)), params).execute(&pool).await;
            let several = replies.len() > 1;
            let answer = match done {
                Ok(_) => Ok(true),
                // The database refused the statement, so nothing of it stays: a refusal the
                // shared step explains or, for several writes, one write's rows (`of_the_rows`).
                // Each write goes its own way.
                Err(sqlx::Error::Database(e))
                    if e.code().is_some_and(|c| REFUSALS.contains(&&*c) || (several && of_the_rows(&c))) =>
                {
                    Ok(false)
                }
                Err(e) => Err(e),
            };
            if several {
                for reply in replies {
                    // The database out of reach, say (whether the statement applied is unknown),
                    // or out of resources: each write is told.
                    let answer = answer.as_ref().map(|applied| *applied);
                    let _ = reply.send(answer.map_err(|e| StoreError::Unavailable(e.to_string().into())));
                }
            } else if let Some(reply) = replies.into_iter().next() {
                // A caller that stopped waiting no longer needs its answer.
                let _ = reply.send(answer.map_err(db_error));
            }
            if let Some(queue) = self.together.waiting.lock().unwrap_or_else(PoisonError::into_inner).get_mut(&self.key)
            {
                queue.idle += 1;
            }
        }
    }
}

impl<T: Joinable> Drop for Writer<T> {
    /// A writer that did not stop by itself (it panicked, or its runtime shut down) takes its
    /// counts back; when it was its key's last writer, the writes still waiting are answered with
    /// an error as their replies drop, and the key is left free for the next write to start one.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut waiting = self.together.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = waiting.get_mut(&self.key) {
            queue.writers -= 1;
            queue.idle -= usize::from(self.idle);
            if queue.writers == 0 {
                waiting.remove(&self.key);
            }
        }
    }
}
