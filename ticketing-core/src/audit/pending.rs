//! An audit entry that rides with its change: held while the change runs, completed with the
//! value the change writes, and written by the store inside the change's own transaction.
//!
//! The caller states who does what ([`Pending`]) and runs the change inside it
//! ([`Pending::record`]). Whoever writes the changed value says so just before the write
//! ([`writing`]): the engine for what it computes, a store for what only it knows (a job it
//! cancels). A change that tries again (a lost compare-and-set, a short code drawn twice) says so
//! again, and the entry follows the value of the try that commits. The store, in the transaction that makes the change, takes the entry that is due
//! ([`due`]), writes it beside the change, and says so once that transaction commits
//! ([`committed`]). So the entry and its change commit together or roll back together: a failed
//! entry fails the change, and a change that fails leaves no entry.
//!
//! The entry is held for the task running the change, as `tracing` holds its spans: the store
//! calls a change makes run in that task, so no signature of the engine or of the store carries it,
//! and a store called outside any [`Pending::record`] writes no entry.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::AuditEntry;

/// Completes an entry with a written value, if the value is of the awaited type (`None` if not);
/// whether the entry is to be recorded.
type Completion = Box<dyn FnMut(&dyn Any, &mut AuditEntry) -> Option<bool> + Send>;

/// An entry waiting for its change.
pub struct Pending {
    entry: AuditEntry,
    /// What completes the entry, for entries completed by a written value.
    completion: Option<Completion>,
    /// Whether the entry is complete.
    complete: bool,
    /// Whether the last value written said not to record the entry ([`Pending::on_write_if`]).
    skipped: bool,
    /// Whether the entry was committed with a change.
    committed: bool,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("entry", &self.entry)
            .field("complete", &self.complete)
            .field("skipped", &self.skipped)
            .field("committed", &self.committed)
            .finish()
    }
}

/// How a change's entry ended.
#[derive(Debug)]
pub enum Recorded {
    /// Written in the change's transaction.
    Committed,
    /// Complete but not written: the change failed, or succeeded without a store step that writes
    /// entries (it changed nothing). Here it is.
    Unwritten(AuditEntry),
    /// Not to be recorded: the value the change wrote said so ([`Pending::on_write_if`]).
    Skipped,
    /// Never complete: the change wrote no value of the awaited type. A change that succeeded
    /// this way wrote without saying so ([`writing`]): a path that loses its entry.
    Incomplete,
}

impl Pending {
    /// An entry complete now: what the change does is known before it is made (a deletion, or a
    /// value the caller made itself).
    pub fn ready(entry: AuditEntry) -> Self {
        Self { entry, completion: None, complete: true, skipped: false, committed: false }
    }

    /// An entry completed by `complete` with each value of type `T` the change is about to write
    /// (the event it creates, say: its id and its state after are only known then); the last one
    /// before the commit is the one recorded.
    pub fn on_write<T: Any>(entry: AuditEntry, mut complete: impl FnMut(&T, &mut AuditEntry) + Send + 'static) -> Self {
        Self::on_write_if(entry, move |value: &T, entry: &mut AuditEntry| {
            complete(value, entry);
            true
        })
    }

    /// [`Self::on_write`] for a change recorded only when the value it writes says so (a
    /// payment provider's notice that changes nothing worth a line): `complete` returns whether
    /// to record it.
    pub fn on_write_if<T: Any>(
        entry: AuditEntry,
        mut complete: impl FnMut(&T, &mut AuditEntry) -> bool + Send + 'static,
    ) -> Self {
        let completion: Completion =
            Box::new(move |value, entry| value.downcast_ref::<T>().map(|v| complete(v, entry)));
        Self { entry, completion: Some(completion), complete: false, skipped: false, committed: false }
    }

    /// Runs `change` with this entry pending; returns the change's output and what became of
    /// the entry.
    pub async fn record<F: Future>(self, change: F) -> (F::Output, Recorded) {
        let mut scoped = Scoped { change: Box::pin(change), held: Some(self) };
        let output = (&mut scoped).await;
        let pending = scoped.held.take().expect("a scope gives its entry back when its change ends");
        let recorded = match pending {
            Pending { committed: true, .. } => Recorded::Committed,
            Pending { complete: true, entry, .. } => Recorded::Unwritten(entry),
            Pending { skipped: true, .. } => Recorded::Skipped,
            Pending { .. } => Recorded::Incomplete,
        };
        (output, recorded)
    }
}

thread_local! {
    /// The entry of the change being polled on this thread, if any.
    static CURRENT: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

/// A change polled with its entry current.
struct Scoped<F: Future> {
    change: Pin<Box<F>>,
    /// The entry while the change is not being polled; the one it displaced while it is.
    held: Option<Pending>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        /// Swaps the entry back out when the poll ends, even by a panic.
        struct Swap<'a>(&'a mut Option<Pending>);
        impl Drop for Swap<'_> {
            fn drop(&mut self) {
                CURRENT.with(|current| std::mem::swap(&mut *current.borrow_mut(), self.0));
            }
        }
        let this = self.get_mut();
        CURRENT.with(|current| std::mem::swap(&mut *current.borrow_mut(), &mut this.held));
        let _swap = Swap(&mut this.held);
        this.change.as_mut().poll(cx)
    }
}

/// Says that `value` is about to be written by the change running: a pending entry completed by
/// values of its type is completed with it. Nothing happens outside [`Pending::record`], nor once
/// the entry is committed.
pub fn writing<T: Any>(value: &T) {
    CURRENT.with(|current| {
        if let Some(pending) = current.borrow_mut().as_mut()
            && !pending.committed
            && let Some(completion) = pending.completion.as_mut()
            && let Some(recorded) = completion(value, &mut pending.entry)
        {
            pending.complete = recorded;
            pending.skipped = !recorded;
        }
    });
}

/// For a store, in the transaction that makes a change: the entry to write beside it, if one is
/// complete and not yet committed. Call [`committed`] once the transaction has committed.
pub fn due() -> Option<AuditEntry> {
    CURRENT.with(|current| match current.borrow().as_ref() {
        Some(pending) if pending.complete && !pending.committed => Some(pending.entry.clone()),
        _ => None,
    })
}

/// Whether an entry waits for a change here, complete or not: a store whose write completes the
/// entry itself ([`writing`] before its commit) writes in a transaction then.
pub fn pending() -> bool {
    CURRENT.with(|current| current.borrow().as_ref().is_some_and(|pending| !pending.committed))
}

/// For a store: the entry [`due`] gave was committed with its change.
pub fn committed() {
    CURRENT.with(|current| {
        if let Some(pending) = current.borrow_mut().as_mut() {
            pending.committed = true;
        }
    });
}

/// For a store whose step carried its entry (an order's placement or change, a refund: the
/// engine hands those their entry, from [`due`]): the step committed, with `entry` if it had one.
pub fn carried(entry: Option<&AuditEntry>) {
    if entry.is_some() {
        committed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Actor;
    use crate::ids::AuditId;

    fn entry() -> AuditEntry {
        AuditEntry {
            id: AuditId::from_uuid(uuid::Uuid::from_u128(1)),
            at: chrono::DateTime::UNIX_EPOCH,
            actor: Actor::System,
            action: "thing.make".into(),
            target: "thing:?".into(),
            event_id: None,
            before: None,
            after: None,
        }
    }

    /// Polls `future` to its end (none of these futures waits).
    fn run<F: Future>(future: F) -> F::Output {
        let mut future = Box::pin(future);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    #[test]
    fn an_entry_is_due_once_complete_follows_the_last_try_and_is_committed_once() {
        let pending = Pending::on_write(entry(), |n: &u32, e: &mut AuditEntry| e.target = format!("thing:{n}"));
        let ((), recorded) = run(pending.record(async {
            assert!(due().is_none(), "not complete yet");
            writing(&"not the awaited type");
            assert!(due().is_none());
            writing(&7_u32);
            assert_eq!(due().expect("complete").target, "thing:7");
            writing(&8_u32);
            assert_eq!(due().expect("complete").target, "thing:8", "a try again completes it again");
            committed();
            assert!(due().is_none(), "committed once");
            writing(&9_u32);
        }));
        assert!(matches!(recorded, Recorded::Committed));
    }

    #[test]
    fn a_value_that_says_not_to_record_leaves_the_entry_incomplete() {
        let pending = Pending::on_write_if(entry(), |n: &u32, e: &mut AuditEntry| {
            e.target = format!("thing:{n}");
            *n > 1
        });
        let ((), recorded) = run(pending.record(async {
            writing(&2_u32);
            assert!(due().is_some());
            writing(&1_u32);
            assert!(due().is_none(), "the last try says not to record");
        }));
        assert!(matches!(recorded, Recorded::Skipped));
        let pending = Pending::on_write(entry(), |_: &u32, _: &mut AuditEntry| {});
        let ((), recorded) = run(pending.record(async { writing(&"another type") }));
        assert!(matches!(recorded, Recorded::Incomplete), "nothing of its type was written");
    }

    #[test]
    fn an_entry_never_committed_comes_back_and_nothing_leaks_out_of_its_scope() {
        let ((), recorded) = run(Pending::ready(entry()).record(async {
            assert!(due().is_some());
        }));
        assert!(matches!(recorded, Recorded::Unwritten(e) if e.target == "thing:?"));
        assert!(due().is_none(), "no entry outside a scope");
        writing(&1_u32);
        committed();
    }

    #[test]
    fn a_nested_scope_holds_its_own_entry_and_gives_the_outer_one_back() {
        let ((), outer) = run(Pending::ready(entry()).record(async {
            let mut inner_entry = entry();
            inner_entry.action = "inner.make".into();
            let ((), inner) = Pending::ready(inner_entry)
                .record(async {
                    assert_eq!(due().expect("inner").action, "inner.make");
                    committed();
                })
                .await;
            assert!(matches!(inner, Recorded::Committed));
            assert_eq!(due().expect("outer, untouched").action, "thing.make");
        }));
        assert!(matches!(outer, Recorded::Unwritten(_)));
    }
}
