//! The real servers for tests (the conformance suite, the HTTP server's tests): a database per test run on Postgres, a schema per
//! store inside it, dropped when its case ends. Databases left by earlier runs whose process is
//! gone (a crash, an interrupted run) are dropped when a run starts.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection, Executor};
use tokio::sync::OnceCell;

const PREFIX: &str = "ticketing_test_";

/// `DATABASE_URL`, if set.
pub fn database_url() -> Option<String> {
    std::env::var("DATABASE_URL").ok().filter(|url| !url.is_empty())
}

async fn admin(options: &PgConnectOptions) -> PgConnection {
    PgConnection::connect_with(options).await.expect("DATABASE_URL reaches a Postgres server")
}

/// This run's database, created on first use.
async fn run_database(url: &str) -> PgConnectOptions {
    static READY: OnceCell<()> = OnceCell::const_new();
    let base = PgConnectOptions::from_str(url).expect("DATABASE_URL is a Postgres URL");
    let name = format!("{PREFIX}{}", std::process::id());
    READY
        .get_or_init(|| async {
            let mut conn = admin(&base).await;
            let existing: Vec<String> =
                sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
                    .bind(PREFIX)
                    .fetch_all(&mut conn)
                    .await
                    .expect("list test databases");
            for db in existing {
                let pid = &db[PREFIX.len()..];
                if db == name || !Path::new("/proc").join(pid).exists() {
                    let drop = format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)");
                    conn.execute(AssertSqlSafe(drop)).await.expect("drop a stale test database");
                }
            }
            conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .await
                .expect("create the run's database");
        })
        .await;
    base.database(&name)
}

/// Fresh schemas in this run's database, remembered so [`Schemas::drop_all`] removes them.
#[derive(Clone, Default)]
pub struct Schemas(Arc<Mutex<Vec<String>>>);

impl Schemas {
    /// Options for a new, empty schema (as the connections' `search_path`).
    pub async fn fresh(&self, url: &str) -> PgConnectOptions {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let options = run_database(url).await;
        let schema = format!("store_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        admin(&options).await.execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).await.expect("create a schema");
        self.0.lock().expect("schemas").push(schema.clone());
        options.options([("search_path", schema)])
    }

    /// Drops the schemas made so far.
    pub async fn drop_all(&self, url: &str) {
        let schemas: Vec<String> = std::mem::take(&mut *self.0.lock().expect("schemas"));
        if schemas.is_empty() {
            return;
        }
        let mut conn = admin(&run_database(url).await).await;
        for schema in schemas {
            conn.execute(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).await.expect("drop a schema");
        }
    }
}

/// `REDIS_URL`, if set.
pub fn redis_url() -> Option<String> {
    std::env::var("REDIS_URL").ok().filter(|url| !url.is_empty())
}

/// Key prefixes unique to this run and store, remembered so [`Prefixes::delete_all`] removes
/// their keys.
#[derive(Clone, Default)]
pub struct Prefixes(Arc<Mutex<Vec<String>>>);

impl Prefixes {
    /// A new prefix: `ticketing_test:<pid>:<n>:`.
    pub fn fresh(&self) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let prefix = format!("ticketing_test:{}:{}:", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        self.0.lock().expect("prefixes").push(prefix.clone());
        prefix
    }

    /// Deletes every key under the prefixes made so far (as a Redis restart without persistence
    /// would).
    pub async fn delete_all(&self, url: &str) {
        let prefixes: Vec<String> = self.0.lock().expect("prefixes").clone();
        let client = redis::Client::open(url).expect("REDIS_URL is a Redis URL");
        let mut conn = client.get_multiplexed_async_connection().await.expect("REDIS_URL reaches a Redis server");
        for prefix in prefixes {
            let keys: Vec<String> = {
                let mut iter: redis::AsyncIter<String> =
                    redis::AsyncCommands::scan_match(&mut conn, format!("{prefix}*")).await.expect("scan keys");
                let mut keys = Vec::new();
                while let Some(key) = iter.next_item().await {
                    keys.push(key.expect("a key name"));
                }
                keys
            };
            if !keys.is_empty() {
                redis::AsyncCommands::del::<_, ()>(&mut conn, keys).await.expect("delete test keys");
            }
        }
    }
}
