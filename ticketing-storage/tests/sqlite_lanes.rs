//! SQLite's scan lanes beside the pool's own writers: a scan step never fails because another
//! connection holds the write lock; it waits its turn, and reads go on meanwhile.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ticketing_core::scan::{Direction, ScanReason};
use ticketing_core::status::TicketStatus;
use ticketing_core::store::{ScanReads, Store};
use ticketing_storage::SqliteStore;
use ticketing_storage::testkit::{Backend, Options, World};

/// A world on a fresh database file, with the store itself kept for the pool's transactions.
async fn world(name: &str) -> (World, SqliteStore) {
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite-lanes");
    std::fs::create_dir_all(&folder).expect("a folder for the test databases");
    let path = folder.join(format!("{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    let kept = Arc::new(Mutex::new(None));
    let keep = kept.clone();
    let backend = Backend::new("sqlite", move |clock| {
        let (url, keep) = (url.clone(), keep.clone());
        async move {
            let store = SqliteStore::open(&url, clock).await.expect("a fresh SQLite database");
            *keep.lock().expect("the kept store") = Some(store.clone());
            Arc::new(store) as Arc<dyn Store>
        }
    });
    let world = World::new(&backend, Options::default()).await;
    let store = kept.lock().expect("the kept store").take().expect("the world's store");
    (world, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_waits_for_another_writer_then_applies() {
    let (world, store) = world("waits").await;
    let ticket = world.ticket(&world.standard, TicketStatus::Paid).await;
    let session = world.request(world.qr(&ticket), &world.main_gate, world.agent).await.session.unwrap();

    // The pool's own write transaction holds SQLite's write lock.
    let mut blocker = store.begin_write().await.unwrap();
    sqlx::query("UPDATE events SET description = 'held' WHERE 1 = 0").execute(&mut *blocker).await.unwrap();

    let world = Arc::new(world);
    let confirming = {
        let world = world.clone();
        tokio::spawn(async move { world.confirm(&session.token, Direction::In, &world.main_gate, world.agent).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!confirming.is_finished(), "the confirmation waits for the write lock");

    // Reads are not held up by the writer (WAL).
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        store.request_context(world.main_gate.id(), world.agent.id, Some(ticket.short_code())),
    );
    let (gate, view) = read.await.expect("a read while the lock is held").unwrap();
    assert_eq!(gate.unwrap().id(), world.main_gate.id());
    assert_eq!(view.unwrap().ticket.status(), TicketStatus::Paid, "the confirmation has not applied yet");

    blocker.commit().await.unwrap();
    let confirmed = tokio::time::timeout(Duration::from_secs(5), confirming).await.expect("applied").unwrap();
    assert_eq!(confirmed.reason, ScanReason::Ok);
    assert_eq!(confirmed.status, Some(TicketStatus::Inside));
    let (_, view) =
        store.request_context(world.main_gate.id(), world.agent.id, Some(ticket.short_code())).await.unwrap();
    assert_eq!(view.unwrap().ticket.entries_used(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_written_while_the_pool_writes_is_usable_once() {
    let (world, store) = world("session").await;
    let ticket = world.ticket(&world.standard, TicketStatus::Paid).await;
    let blocker = store.begin_write().await.unwrap();
    let world = Arc::new(world);
    let requesting = {
        let (world, ticket) = (world.clone(), ticket.clone());
        tokio::spawn(async move { world.request(world.qr(&ticket), &world.main_gate, world.agent).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(blocker);
    let session = requesting.await.unwrap().session.expect("a session once the lock is free");
    let first = world.confirm(&session.token, Direction::In, &world.main_gate, world.agent).await;
    let second = world.confirm(&session.token, Direction::In, &world.main_gate, world.agent).await;
    assert_eq!((first.reason, second.reason), (ScanReason::Ok, ScanReason::SessionUsed));
}
