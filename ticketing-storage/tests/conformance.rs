//! The conformance suite, once per backend. Postgres runs when `DATABASE_URL` is set, and is
//! skipped (saying so) when it is not.

mod servers;

mod memory {
    use std::sync::Arc;

    use ticketing_core::memory::MemoryStore;
    use ticketing_core::store::Store;
    use ticketing_storage::testkit::Backend;

    fn backend() -> Backend {
        Backend::new("memory", |clock| async move { Arc::new(MemoryStore::new(clock)) as Arc<dyn Store> })
    }

    ticketing_storage::conformance_suite!(backend, 200);
}

mod sqlite {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, OnceLock};

    use ticketing_core::store::Store;
    use ticketing_storage::SqliteStore;
    use ticketing_storage::testkit::Backend;

    /// This run's folder of database files. Earlier runs' folders are removed when it is made,
    /// so at most one run's files stay behind (under the target dir).
    fn folder() -> &'static PathBuf {
        static FOLDER: OnceLock<PathBuf> = OnceLock::new();
        FOLDER.get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite-conformance");
            let _ = std::fs::remove_dir_all(&root);
            let folder = root.join(std::process::id().to_string());
            std::fs::create_dir_all(&folder).expect("a folder for the test databases");
            folder
        })
    }

    /// A fresh database file per store: WAL and a pool of connections, as in production.
    fn backend() -> Backend {
        Backend::new("sqlite", |clock| async move {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let path = folder().join(format!("{}.db", NEXT.fetch_add(1, Ordering::Relaxed)));
            let url = format!("sqlite://{}", path.display());
            Arc::new(SqliteStore::open(&url, clock).await.expect("a fresh SQLite database")) as Arc<dyn Store>
        })
    }

    ticketing_storage::conformance_suite!(backend, 40);
}

mod postgres {
    use std::sync::Arc;

    use ticketing_core::store::Store;
    use ticketing_storage::PgStore;
    use ticketing_storage::testkit::Backend;

    use crate::servers::{Schemas, database_url};

    /// A fresh schema per store, in a database of this run's own.
    fn backend() -> Backend {
        let Some(url) = database_url() else { return Backend::unavailable("postgres", "DATABASE_URL is not set") };
        let schemas = Schemas::default();
        let (make_schemas, make_url) = (schemas.clone(), url.clone());
        Backend::new("postgres", move |clock| {
            let (schemas, url) = (make_schemas.clone(), make_url.clone());
            async move {
                let options = schemas.fresh(&url).await;
                Arc::new(PgStore::open_with(options, 16, clock).await.expect("a fresh Postgres schema"))
                    as Arc<dyn Store>
            }
        })
        .with_finish(move || {
            let (schemas, url) = (schemas.clone(), url.clone());
            async move { schemas.drop_all(&url).await }
        })
    }

    ticketing_storage::conformance_suite!(backend, 40);
}
