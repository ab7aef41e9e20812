//! The conformance suite, once per backend. Postgres runs when `DATABASE_URL` is set, Postgres
//! with Redis when `REDIS_URL` is set too; each is skipped (saying so) otherwise.

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

/// A private in-memory database: the pool's one connection, scans through the pool.
mod sqlite_memory {
    use std::sync::Arc;

    use ticketing_core::store::Store;
    use ticketing_storage::SqliteStore;
    use ticketing_storage::testkit::Backend;

    fn backend() -> Backend {
        Backend::new("sqlite::memory:", |clock| async move {
            Arc::new(SqliteStore::open("sqlite::memory:", clock).await.expect("an in-memory SQLite database"))
                as Arc<dyn Store>
        })
    }

    ticketing_storage::conformance_suite!(backend, 40);
}

mod postgres {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use sqlx::PgPool;
    use ticketing_core::engine::IssueRequest;
    use ticketing_core::status::TicketStatus;
    use ticketing_core::store::Store;
    use ticketing_storage::PgStore;
    use ticketing_storage::testkit::{self, Backend, Options, World};

    use ticketing_storage::testkit::servers::{Schemas, database_url};

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

    /// The planner's statistics follow the tables as a sale fills them: analysed once the store
    /// has written 100 tickets, not before, and again when they have doubled.
    #[test]
    fn the_tables_are_analysed_each_time_the_tickets_written_double() {
        let Some(url) = database_url() else {
            assert!(backend().skipped());
            return;
        };
        let schemas = Schemas::default();
        let pool: Arc<Mutex<Option<PgPool>>> = Arc::default();
        let made = (schemas.clone(), url.clone(), pool.clone());
        let backend = Backend::new("postgres", move |clock| {
            let (schemas, url, pool) = made.clone();
            async move {
                let store = PgStore::open_with(schemas.fresh(&url).await, 16, clock).await.expect("a fresh schema");
                *pool.lock().unwrap() = Some(store.pool().clone());
                Arc::new(store) as Arc<dyn Store>
            }
        });
        testkit::run(async {
            let options = Options { quota: 3_000, capacity: 3_000, ..Options::default() };
            let w = World::new(&backend, options).await;
            let pool = pool.lock().unwrap().clone().expect("the store was made");
            let issue = |count| {
                let request = IssueRequest {
                    ticket_type_id: w.standard.id(),
                    count,
                    holders: vec![],
                    status: TicketStatus::Paid,
                };
                let engine = &w.engine;
                async move { engine.issue_tickets(&request).await.unwrap() }
            };
            // The analyses of `tickets` so far, as the server's statistics count them.
            let analysed = || async {
                sqlx::query_scalar::<_, i64>(
                    "SELECT analyze_count FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'tickets'",
                )
                .fetch_one(&pool)
                .await
                .unwrap()
            };
            let analysed_at_last = |times| async move {
                for _ in 0..100 {
                    if analysed().await == times {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                panic!("`tickets` was not analysed {times} times");
            };
            issue(99).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert_eq!(analysed().await, 0, "not before 100 tickets");
            issue(1).await;
            analysed_at_last(1).await;
            issue(99).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert_eq!(analysed().await, 1, "not again before 200");
            issue(1).await;
            analysed_at_last(2).await;
        });
        testkit::run(schemas.drop_all(&url));
    }
}

mod postgres_redis {
    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;
    use std::time::Duration;

    use ticketing_core::engine::Error;
    use ticketing_core::scan::{ConfirmRequest, Direction, ScanReason, ScanRequest};
    use ticketing_core::status::TicketStatus;
    use ticketing_core::store::{Store, StoreError};
    use ticketing_storage::testkit::{self, Backend, Options, World};
    use ticketing_storage::{PgStore, RedisLayer};

    use ticketing_storage::testkit::servers::{Prefixes, Schemas, database_url, redis_url};

    /// A fresh schema and a fresh key prefix per store, on the servers at `url` and `redis`.
    fn backend_on(url: String, redis: String, prefixes: Prefixes) -> Backend {
        let schemas = Schemas::default();
        let made = (schemas.clone(), prefixes.clone(), url.clone(), redis.clone());
        Backend::new("postgres+redis", move |clock| {
            let (schemas, prefixes, url, redis) = made.clone();
            async move {
                let options = schemas.fresh(&url).await;
                let db = PgStore::open_with(options, 16, clock.clone()).await.expect("a fresh Postgres schema");
                let layer = RedisLayer::connect(db, &redis, &prefixes.fresh(), clock).await.expect("Redis");
                Arc::new(layer) as Arc<dyn Store>
            }
        })
        .with_finish(move || {
            let (schemas, prefixes, url, redis) = (schemas.clone(), prefixes.clone(), url.clone(), redis.clone());
            async move {
                schemas.drop_all(&url).await;
                prefixes.delete_all(&redis).await;
            }
        })
    }

    fn backend() -> Backend {
        let (Some(url), Some(redis)) = (database_url(), redis_url()) else {
            return Backend::unavailable("postgres+redis", "DATABASE_URL or REDIS_URL is not set");
        };
        backend_on(url, redis, Prefixes::default())
    }

    ticketing_storage::conformance_suite!(backend, 40);

    fn confirm_request(w: &World, token: &str) -> ConfirmRequest {
        ConfirmRequest {
            token: token.into(),
            direction: Direction::In,
            gate_id: w.main_gate.id(),
            agent: w.agent,
            nonce: None,
        }
    }

    #[test]
    fn sessions_lost_with_redis_mean_scanning_again_and_nothing_else() {
        let (Some(url), Some(redis)) = (database_url(), redis_url()) else {
            assert!(backend().skipped());
            return;
        };
        let prefixes = Prefixes::default();
        let backend = backend_on(url, redis.clone(), prefixes.clone());
        testkit::run(async {
            let w = World::new(&backend, Options::default()).await;
            let ticket = w.ticket(&w.standard, TicketStatus::Paid).await;
            let session = w.request(w.qr(&ticket), &w.main_gate, w.agent).await.session.unwrap();
            prefixes.delete_all(&redis).await; // Redis restarts empty, or the key expired
            let outcome = w.engine.scan_confirm(&confirm_request(&w, &session.token)).await.unwrap();
            assert_eq!(outcome.reason, ScanReason::InvalidSession, "the session is unknown now");
            assert_eq!(w.engine.ticket(ticket.id()).await.unwrap(), ticket, "nothing applied");
            assert_eq!(w.pass(&ticket, Direction::In).await.reason(), ScanReason::Ok);
            let after = w.engine.ticket(ticket.id()).await.unwrap();
            assert_eq!((after.status(), after.entries_used()), (TicketStatus::Inside, 1));
            backend.finish().await;
        });
    }

    /// A private Redis server on a free port, stopped on drop.
    struct PrivateRedis {
        port: u16,
        child: Child,
    }

    impl PrivateRedis {
        fn start(port: u16) -> Self {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server is installed (the CI script installs it)");
            let server = Self { port, child }; // from here, dropping it stops the process
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("redis-server did not start on port {port}");
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }
    }

    impl Drop for PrivateRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[test]
    fn scanning_fails_closed_while_redis_is_down_and_admits_once_after() {
        let Some(url) = database_url() else {
            assert!(backend().skipped());
            return;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let first = PrivateRedis::start(port);
        let backend = backend_on(url, first.url(), Prefixes::default());
        let mut server = Some(first);
        testkit::run(async {
            let w = World::new(&backend, Options::default()).await;
            let ticket = w.ticket(&w.standard, TicketStatus::Paid).await;
            let session = w.request(w.qr(&ticket), &w.main_gate, w.agent).await.session.unwrap();

            server = None; // Redis goes down
            let down = w.engine.scan_confirm(&confirm_request(&w, &session.token)).await;
            assert!(matches!(down, Err(Error::Store(StoreError::Unavailable(_)))), "{down:?}");
            let request = ScanRequest { credential: w.qr(&ticket), gate_id: w.main_gate.id(), agent: w.agent };
            let down = w.engine.scan_request(&request).await;
            assert!(matches!(down, Err(Error::Store(StoreError::Unavailable(_)))), "{down:?}");
            assert_eq!(w.engine.ticket(ticket.id()).await.unwrap(), ticket, "nobody admitted while Redis is down");

            server = Some(PrivateRedis::start(port));
            // The session died with the server; the ticket enters once, by a new scan.
            let mut outcome = Err(Error::Contention);
            for _ in 0..50 {
                outcome = w.engine.scan_confirm(&confirm_request(&w, &session.token)).await;
                if outcome.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(outcome.unwrap().reason, ScanReason::InvalidSession, "the session is unknown now");
            assert_eq!(w.pass(&ticket, Direction::In).await.reason(), ScanReason::Ok);
            assert_eq!(w.pass(&ticket, Direction::In).await.reason(), ScanReason::AlreadyInside);
            assert_eq!(w.engine.ticket(ticket.id()).await.unwrap().entries_used(), 1);
            backend.finish().await;
        });
        drop(server);
    }
}
