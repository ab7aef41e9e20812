//! Opening a store by URL, and the errors when it cannot be opened.

use std::sync::Arc;

use ticketing_core::env::SystemClock;
use ticketing_core::store::EventFilter;
use ticketing_storage::OpenError;

#[tokio::test]
async fn a_sqlite_url_opens_a_migrated_store_with_zero_setup() {
    let store = ticketing_storage::open("sqlite::memory:", None, Arc::new(SystemClock)).await.unwrap();
    assert_eq!(store.list_events(&EventFilter::default()).await.unwrap(), vec![]);
    let folder = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("open-test");
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let url = format!("sqlite://{}", folder.join("new.db").display());
    let store = ticketing_storage::open(&url, None, Arc::new(SystemClock)).await.unwrap();
    assert!(store.event(ticketing_core::ids::EventId::from_uuid(uuid::Uuid::from_u128(1))).await.unwrap().is_none());
    assert!(folder.join("new.db").exists(), "the file is created");
}

#[tokio::test]
async fn unknown_schemes_and_unreachable_servers_are_clear_errors() {
    let clock = Arc::new(SystemClock);
    let err = ticketing_storage::open("mysql://localhost/x", None, clock.clone()).await.err().unwrap();
    assert!(matches!(err, OpenError::Scheme(ref s) if s == "mysql"), "{err}");
    // Port 1 on loopback: nothing listens there.
    let err = ticketing_storage::open("postgres://postgres@127.0.0.1:1/x", None, clock.clone()).await.err().unwrap();
    assert!(matches!(err, OpenError::Connect(_)), "{err}");
    let err =
        ticketing_storage::open("sqlite::memory:", Some("redis://127.0.0.1:1"), clock.clone()).await.err().unwrap();
    assert!(matches!(err, OpenError::Redis(_)), "{err}");
    let err = ticketing_storage::open("sqlite::memory:", Some("not a url"), clock).await.err().unwrap();
    assert!(matches!(err, OpenError::Redis(_)), "{err}");
}
