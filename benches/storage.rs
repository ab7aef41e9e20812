//! Criterion benchmarks of the storage backends through the engine: a scan request + confirm pair,
//! a bulk insert of 100,000 tickets, the same generated as a job in chunks of 1,000, and 1,000
//! concurrent single-ticket reservations, on memory (the floor: the engine's own cost), SQLite,
//! and the servers when configured.
//!
//! ```sh
//! cargo bench --bench storage                     # SQLite only
//! DATABASE_URL=postgres://postgres@127.0.0.1/postgres REDIS_URL=redis://127.0.0.1 \
//!     cargo bench --bench storage                 # SQLite, Postgres, Postgres+Redis
//! ```
//!
//! Postgres runs in a schema `ticketing_bench` (dropped and made again at start); Redis keys go
//! under `ticketing_bench:` (deleted at start). SQLite uses a file in the target dir.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sqlx::{Connection, Executor};
use ticketing::chrono::Duration;
use ticketing::core::ids::{EventId, GateId, TicketTypeId, UserId};
use ticketing::core::job::JobStatus;
use ticketing::prelude::*;
use tokio::runtime::Runtime;

const BULK: u32 = 100_000;
const STORM: u32 = 1_000;

type Engine = Ticketing<dyn Store>;

fn keyring() -> Keyring {
    Keyring::new().with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![0x42; 32])).expect("a valid key")
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

/// The stores to measure, by name: memory and SQLite always, Postgres and Postgres+Redis when
/// configured.
fn stores(rt: &Runtime) -> Vec<(&'static str, Arc<dyn Store>)> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    rt.block_on(async {
        let dir = std::env::temp_dir().join("ticketing-bench-sqlite");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for the bench database");
        let url = format!("sqlite://{}", dir.join("bench.db").display());
        let mut stores: Vec<(&'static str, Arc<dyn Store>)> = vec![
            ("memory", Arc::new(MemoryStore::new(clock.clone()))),
            ("sqlite", Arc::new(SqliteStore::open(&url, clock.clone()).await.expect("SQLite"))),
        ];
        let Ok(url) = std::env::var("DATABASE_URL") else {
            eprintln!("DATABASE_URL is not set: Postgres not measured");
            return stores;
        };
        let mut admin = sqlx::PgConnection::connect(&url).await.expect("DATABASE_URL reaches Postgres");
        admin.execute("DROP SCHEMA IF EXISTS ticketing_bench CASCADE").await.expect("drop the bench schema");
        admin.execute("CREATE SCHEMA ticketing_bench").await.expect("create the bench schema");
        let options = sqlx::postgres::PgConnectOptions::from_str(&url)
            .expect("a Postgres URL")
            .options([("search_path", "ticketing_bench")]);
        let pg = PgStore::open_with(options, 16, clock.clone()).await.expect("Postgres");
        stores.push(("postgres", Arc::new(pg.clone())));
        let Ok(redis_url) = std::env::var("REDIS_URL") else {
            eprintln!("REDIS_URL is not set: Postgres+Redis not measured");
            return stores;
        };
        let layer = RedisLayer::connect(pg, &redis_url, "ticketing_bench:", clock).await.expect("Redis");
        let mut redis = layer.redis();
        let keys: Vec<String> =
            redis::cmd("KEYS").arg("ticketing_bench:*").query_async(&mut redis).await.expect("list bench keys");
        if !keys.is_empty() {
            redis::cmd("DEL").arg(keys).query_async::<()>(&mut redis).await.expect("delete bench keys");
        }
        stores.push(("postgres+redis", Arc::new(layer)));
        stores
    })
}

fn engine(store: Arc<dyn Store>) -> Engine {
    Ticketing::new(store, keyring(), Arc::new(SystemClock), Arc::new(OsRandomness), Config::default())
}

/// A published event with one gate and one unlimited-use type of `quota`.
async fn setup(engine: &Engine, agent: UserId, quota: u32) -> (EventId, TicketTypeId, GateId) {
    let now = SystemClock.now();
    let spec = EventSpec {
        title: "Bench".into(),
        description: String::new(),
        starts_at: now - Duration::hours(1),
        ends_at: now + Duration::days(30),
        time_zone: "UTC".into(),
        location: "Lyon".into(),
        capacity: quota,
        dress_code: None,
        allow_reentry: true,
        payment_url: None,
        doors_open_minutes: ticketing::core::event::DEFAULT_DOORS_OPEN_MINUTES,
        max_tickets_per_order: ticketing::core::event::DEFAULT_MAX_TICKETS_PER_ORDER,
        email_pdfs: true,
    };
    let event = engine.create_event(&spec).await.expect("event");
    engine.set_event_status(event.id(), EventStatus::Published).await.expect("publish");
    let type_spec = TicketTypeSpec {
        name: "Pass".into(),
        price_minor: 0,
        currency: "EUR".into(),
        quota,
        usage_limit: u32::MAX,
        daily_entry_limit: None,
        validity_from: None,
        validity_to: None,
        gates: None,
    };
    let ticket_type = engine.add_ticket_type(event.id(), &type_spec).await.expect("type");
    let gate =
        engine.add_gate(event.id(), &GateSpec { name: "G".into(), agents: vec![agent], ticket_types: None }).await;
    (event.id(), ticket_type.id(), gate.expect("gate").id())
}

fn issue(ticket_type_id: TicketTypeId, count: u32) -> IssueRequest {
    IssueRequest { ticket_type_id, count, holders: vec![], status: TicketStatus::Paid }
}

fn scan_pair(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("storage/scan request+confirm pair");
    for (name, store) in stores(&rt) {
        let engine = engine(store);
        let agent = ScanAgent { id: UserId::generate(&SystemClock, &OsRandomness), any_gate: false };
        let (payload, gate) = rt.block_on(async {
            let (_, ticket_type, gate) = setup(&engine, agent.id, 10).await;
            let ticket = engine.issue_tickets(&issue(ticket_type, 1)).await.expect("ticket").remove(0);
            (engine.qr_payload(&ticket, None).expect("payload"), gate)
        });
        // Alternate in and out so every pair is an accepted, state-changing scan.
        let mut direction = Direction::In;
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let request = ScanRequest { credential: Credential::Qr(payload.clone()), gate_id: gate, agent };
                    let token = engine.scan_request(&request).await.expect("request").session.expect("accepted").token;
                    let confirm = ConfirmRequest { token, direction, gate_id: gate, agent, nonce: None };
                    assert!(engine.scan_confirm(&confirm).await.expect("confirm").reason.is_ok());
                });
                direction = if direction == Direction::In { Direction::Out } else { Direction::In };
            })
        });
    }
    group.finish();
}

/// A group that times `make` on a fresh ticket type of quota [`BULK`] on every store; `make` must
/// create all [`BULK`] tickets.
fn bulk_group(c: &mut Criterion, title: &str, make: impl Fn(&Runtime, &Engine, TicketTypeId)) {
    let rt = runtime();
    let mut group = c.benchmark_group(title);
    group.sample_size(10).measurement_time(StdDuration::from_secs(30)).throughput(Throughput::Elements(BULK.into()));
    for (name, store) in stores(&rt) {
        let engine = engine(store);
        let agent = UserId::generate(&SystemClock, &OsRandomness);
        group.bench_function(name, |b| {
            b.iter_batched(
                || rt.block_on(setup(&engine, agent, BULK)).1,
                |ticket_type| make(&rt, &engine, ticket_type),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn bulk_insert(c: &mut Criterion) {
    bulk_group(c, "storage/issue 100k tickets in one batch", |rt, engine, ticket_type| {
        let made = rt.block_on(engine.issue_tickets(&issue(ticket_type, BULK))).expect("100k tickets");
        assert_eq!(made.len(), BULK as usize);
    });
}

fn generation_job(c: &mut Criterion) {
    bulk_group(c, "storage/generate 100k tickets as a job, chunks of 1000", |rt, engine, ticket_type| {
        let ran = rt.block_on(async {
            let request = GenerationRequest {
                ticket_type_id: ticket_type,
                count: BULK,
                status: TicketStatus::Issued,
                priority: 0,
                holders: vec![],
                template: None,
                notify: false,
            };
            let job = engine.start_generation(&request).await.expect("a queued generation");
            let ran = engine.run_next_job("bench").await.expect("a run").expect("a due job").job;
            assert_eq!(ran.id, job.id);
            ran
        });
        assert_eq!((ran.status, ran.progress.done), (JobStatus::Succeeded, u64::from(BULK)));
    });
}

fn reservation_storm(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("storage/1000 concurrent single-ticket reservations");
    group.sample_size(10).throughput(Throughput::Elements(STORM.into()));
    for (name, store) in stores(&rt) {
        let engine = Arc::new(engine(store));
        let agent = UserId::generate(&SystemClock, &OsRandomness);
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let mut total = StdDuration::ZERO;
                for _ in 0..iterations {
                    let ticket_type = rt.block_on(setup(&engine, agent, STORM)).1;
                    let started = Instant::now();
                    let sold = rt.block_on(async {
                        let tasks: Vec<_> = (0..STORM)
                            .map(|_| {
                                let engine = engine.clone();
                                tokio::spawn(async move { engine.issue_tickets(&issue(ticket_type, 1)).await.is_ok() })
                            })
                            .collect();
                        let mut sold = 0;
                        for task in tasks {
                            sold += u32::from(task.await.expect("a reservation task"));
                        }
                        sold
                    });
                    total += started.elapsed();
                    assert_eq!(sold, STORM);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, scan_pair, bulk_insert, generation_job, reservation_storm);
criterion_main!(benches);
