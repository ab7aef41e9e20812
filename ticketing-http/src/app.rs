//! Assembling and running the server: open the store (migrations applied), seed the roles and
//! the first superadmin, load or make the QR keys, prepare the renderer, build the router with
//! its layers, and serve until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use ticketing_core::engine::{Config as EngineConfig, SeedConfig, SuperadminSeed, Ticketing};
use ticketing_core::env::{Clock, OsRandomness, Randomness, SystemClock};
use ticketing_core::fleet::{Coordinator, KeyKind, Revoked};
use ticketing_core::job::{JobStatus, JobTask};
use ticketing_core::signing::Algorithm;
use ticketing_core::store::Store;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Instrument as _, Level};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::caller::CallerCache;
use crate::auth::password::Passwords;
use crate::config::Config;
use crate::limit::Limits;
use crate::metrics::Metrics;
use crate::problem::{ApiError, route_not_found};
use crate::state::{AppState, Shared};
use crate::{docs, keep_alive, keys, request_id, routes};

/// Argon2 hashes run at most this many at once.
const PARALLEL_HASHES: usize = 2;

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be made.
    #[error("data directory {0}: {1}")]
    DataDir(String, #[source] std::io::Error),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] ticketing_storage::OpenError),
    /// The QR keys could not be had.
    #[error(transparent)]
    Keys(#[from] keys::KeysError),
    /// The keys are not the ones the other instances on this database use (or they could not
    /// be compared).
    #[error("the keys: {0}")]
    Fleet(#[source] ticketing_core::engine::Error),
    /// Seeding failed.
    #[error("seeding the first superadmin: {0}")]
    Seed(#[source] ticketing_core::engine::Error),
    /// The address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
}

/// What the first start did that its operator must know. No `Debug`: it holds the generated
/// password.
#[derive(Default)]
pub struct StartReport {
    /// The superadmin made now, with its generated password (shown once).
    pub superadmin: Option<(String, Option<String>)>,
    /// Whether QR keys were generated now (into the data directory).
    pub generated_keys: bool,
}

/// The engine, store and settings of a started [`Server`]; cheap to clone.
#[derive(Clone)]
pub struct Handle(Shared);

impl Handle {
    /// The engine the API drives.
    pub fn engine(&self) -> &Ticketing<dyn Store> {
        &self.0.engine
    }

    /// The store under it.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.0.store()
    }

    /// The settings the server started with.
    pub fn config(&self) -> &Config {
        &self.0.config
    }
}

/// A server bound to its address, ready to serve.
pub struct Server {
    listener: TcpListener,
    /// `/metrics` alone, when it has a listener of its own.
    metrics: Option<(TcpListener, Router)>,
    router: Router,
    state: Shared,
    /// What the start did.
    pub report: StartReport,
}

impl Server {
    /// Opens everything `config` names and binds its address.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = open_store(&config, clock.clone()).await?;
        Self::start_with(config, store, clock).await
    }

    /// Like [`start`](Self::start), over a store opened by the caller (its URL settings are
    /// then only reported by `/health`): for embedding, and for tests that isolate each server
    /// in a schema of its own.
    pub async fn start_with(config: Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let rng: Arc<dyn Randomness> = Arc::new(OsRandomness);
        data_dir(&config)?;
        // Keys are made here only while no instance on this database has recorded any.
        let recorded = store.key_fingerprints().await.map_err(|e| StartError::Fleet(e.into()))?;
        let may_generate = |kind| ticketing_core::fleet::may_generate(&recorded, kind);
        let (keyring, generated_keys) =
            keys::load(&config.qr_keys, &config.data_dir, &*rng, may_generate(KeyKind::Qr))?;
        let link_file = config.link_key_file.as_deref();
        let link_key = keys::link_key(&config.data_dir, link_file, &*rng, may_generate(KeyKind::Link))?;
        let templates = ticketing_pdf::TemplateLibrary::new(store.clone());
        let listener = TcpListener::bind(config.listen).await.map_err(|e| StartError::Bind(config.listen, e))?;
        let bound = listener.local_addr().map_err(|e| StartError::Bind(config.listen, e))?;
        let metrics_listener = match config.metrics_listen {
            Some(at) => Some(TcpListener::bind(at).await.map_err(|e| StartError::Bind(at, e))?),
            None => None,
        };
        let engine_config = EngineConfig {
            job_lease: chrono::Duration::from_std(config.job_lease).unwrap_or(chrono::Duration::seconds(60)),
            session_ttl: chrono::Duration::from_std(config.scan_session_ttl).unwrap_or(chrono::Duration::seconds(30)),
            order_hold: chrono::Duration::from_std(config.order_hold).unwrap_or(chrono::Duration::minutes(15)),
            job_retry: ticketing_core::job::RetryPolicy {
                base: chrono::Duration::from_std(config.job_retry).unwrap_or(chrono::Duration::seconds(10)),
                ..Default::default()
            },
            // Messages link to this server as buyers reach it (its address when not set).
            links: ticketing_core::engine::PublicLinks::under(&if config.public_url.is_empty() {
                format!("http://{bound}")
            } else {
                config.public_url.clone()
            }),
            hook_urls: config.webhook_urls,
            // Tickets are signed by the current key (the settings allow one), whatever its algorithm.
            qr_algorithm: keyring.current_algorithm().unwrap_or(Algorithm::HmacSha256),
            hook_disable_after: chrono::Duration::from_std(config.webhook_disable_after)
                .unwrap_or(chrono::Duration::days(1)),
            ..EngineConfig::default()
        };
        let stripe = config.stripe_api_key.as_ref().map(|key| crate::refunds::StripeApi {
            base: config.stripe_api_base.clone(),
            key: key.expose().to_owned(),
        });
        let first_secret = config.generic_webhook_secrets.first().map(|s| s.expose().to_owned());
        let generic = config.generic_refund_url.clone().zip(first_secret);
        let generic = generic.map(|(url, secret)| crate::refunds::GenericApi { url, secret });
        let gateway = Arc::new(crate::refunds::ProviderRefunds::new(stripe, generic, clock.clone()));
        let engine = Ticketing::new(store, keyring, clock.clone(), rng.clone(), engine_config)
            .with_link_key(link_key)
            .with_refund_gateway(gateway);
        engine.join_fleet().await.map_err(StartError::Fleet)?;
        let superadmin = seed(&engine, &config).await?;
        let renderer = tokio::task::spawn_blocking(|| {
            ticketing_pdf::Renderer::new(ticketing_pdf::Template::default_ticket()).ok()
        })
        .await
        .ok()
        .flatten()
        .map(Arc::new);
        let passwords = Passwords::new(PARALLEL_HASHES, &*rng).map_err(|e| StartError::Seed(e.into()))?;
        let callers = Arc::new(CallerCache::default());
        let fleet = match &config.redis_url {
            Some(url) => Some(join_redis(url.expose(), &config.redis_prefix, callers.clone()).await?),
            None => None,
        };
        let (api, openapi) = routes::api().split_for_parts();
        let state = Arc::new(AppState {
            engine,
            limits: Limits::new(&config.rate_limits, fleet.as_ref()),
            config,
            clock,
            rng,
            metrics: Metrics::default(),
            passwords,
            callers,
            fleet,
            renderer,
            templates,
            suspicions: Default::default(),
            channels: Default::default(),
            openapi: docs::served(openapi),
        });
        let router = router(api, state.clone());
        let metrics = metrics_listener.map(|listener| {
            let alone = Router::new()
                .route("/metrics", axum::routing::get(routes::ops::metrics))
                .layer(axum::Extension(routes::ops::MetricsListener))
                .with_state(state.clone());
            (listener, alone)
        });
        Ok(Self { listener, metrics, router, state, report: StartReport { superadmin, generated_keys } })
    }

    /// The address bound (with the port chosen, when 0 was asked).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The metrics listener's address, when `/metrics` has one of its own.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics.as_ref().map(|(listener, _)| listener.local_addr())
    }

    /// The application as a router, to mount under another server or to drive in process (a
    /// benchmark through every layer but the socket). Handlers that read the client's address
    /// find it in the request's `ConnectInfo<SocketAddr>` extension, which
    /// [`serve`](Self::serve) sets and an in-process caller sets itself.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// A handle on the server's engine, store and settings, which outlives [`serve`](Self::serve)'s
    /// taking of the server: for an application (or a test) that reaches under the API.
    pub fn handle(&self) -> Handle {
        Handle(self.state.clone())
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight and stops the
    /// job workers, each handing its running job back to the queue. Meanwhile
    /// expired tokens are purged hourly.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let purge = tokio::spawn(purge_tokens(self.state.clone()));
        let gauge = tokio::spawn(count_queued(self.state.clone()));
        let metrics = self.metrics.map(|(listener, alone)| {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, alone.into_make_service()).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            })
        });
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let instance = instance_name(self.listener.local_addr()?);
        let mut workers = Vec::new();
        for n in 0..self.state.config.workers {
            let (state, engine) = (self.state.clone(), self.state.engine.clone());
            let name = format!("{instance}/worker-{n}");
            workers.push(tokio::spawn(work(state, engine, Queue::Jobs, name, stopping.clone())));
        }
        if self.state.config.notify_workers > 0 {
            let config = &self.state.config;
            let connections = u32::try_from(config.notify_workers).unwrap_or(u32::MAX);
            let courier = crate::courier::ServerCourier::new(
                config.smtp.as_ref(),
                config.sms.clone(),
                connections,
                self.state.clone(),
            )
            .map_err(std::io::Error::other)?;
            let hooks = crate::hooks::ServerHooks::new(config.webhook_urls);
            let engine = self.state.engine.clone().with_courier(Arc::new(courier)).with_hook_sender(Arc::new(hooks));
            for n in 0..config.notify_workers {
                let (state, name) = (self.state.clone(), format!("{instance}/notifier-{n}"));
                workers.push(tokio::spawn(work(state, engine.clone(), Queue::Notifications, name, stopping.clone())));
            }
        }
        let served = axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await;
        let _ = stop.send(true);
        // A worker hands its job back in one store call; one stuck on a silent database is
        // stopped after the grace period, its job then resumed one lease later.
        let grace = tokio::time::sleep(WORKER_GRACE);
        tokio::pin!(grace);
        for mut worker in workers {
            tokio::select! {
                _ = &mut worker => {}
                () = &mut grace => worker.abort(),
            }
        }
        purge.abort();
        gauge.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        served
    }
}

/// How often the jobs queued are counted for `/metrics`.
const QUEUE_GAUGE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps the metrics' queue gauge current: the jobs queued of each kind, counted every
/// [`QUEUE_GAUGE_EVERY`], so no scrape reads the queue. While the queue cannot be read, the gauge
/// is left out.
async fn count_queued(state: Shared) {
    loop {
        let mut queued = Vec::with_capacity(JobTask::KINDS.len());
        for kind in JobTask::KINDS {
            match state.store().count_jobs(kind, JobStatus::Queued).await {
                Ok(n) => queued.push((*kind, n)),
                Err(e) => {
                    tracing::warn!(error = %e, "the queue could not be counted for metrics");
                    queued.clear();
                    break;
                }
            }
        }
        state.metrics.set_queued(queued);
        tokio::time::sleep(QUEUE_GAUGE_EVERY).await;
    }
}

/// The state shared with the other instances on the Redis at `url`: revocations they announce
/// drop `callers`' entries here (all of them after a break in the subscription).
async fn join_redis(url: &str, prefix: &str, callers: Arc<CallerCache>) -> Result<Arc<dyn Coordinator>, StartError> {
    let on_news = move |news: Option<Revoked>| match news {
        Some(news) => callers.apply(&news),
        None => callers.clear(),
    };
    Ok(Arc::new(ticketing_storage::RedisFleet::connect(url, prefix, Arc::new(on_news)).await?))
}

/// Opens the store `config` names, migrated (its data directory made first).
pub(crate) async fn open_store(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn ticketing_core::store::Store>, StartError> {
    data_dir(config)?;
    Ok(ticketing_storage::open_with_prefix(
        config.database_url.expose(),
        config.redis_url.as_ref().map(crate::config::Secret::expose),
        &config.redis_prefix,
        clock,
    )
    .await?)
}

/// Makes the data directory if missing, readable by its owner only (0700 on Unix): it holds the
/// database (holders' personal data) and the signing keys.
fn data_dir(config: &Config) -> Result<(), StartError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&config.data_dir).map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))
}

/// Opens (so migrates) the database `config` names and seeds it, as a server's start does,
/// without serving: the superadmin made now, if any, with its generated password.
pub(crate) async fn seed_only(config: &Config) -> Result<Option<(String, Option<String>)>, StartError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(config, clock.clone()).await?;
    // Seeding signs nothing: no key is read or made.
    let keyring = ticketing_core::signing::Keyring::new();
    let engine = Ticketing::new(store, keyring, clock, Arc::new(OsRandomness), EngineConfig::default());
    seed(&engine, config).await
}

async fn seed(
    engine: &Ticketing<dyn ticketing_core::store::Store>,
    config: &Config,
) -> Result<Option<(String, Option<String>)>, StartError> {
    let seed = SeedConfig {
        superadmin_email: config.superadmin_email.clone(),
        superadmin_name: "Administrator".into(),
        superadmin_password: config.superadmin_password.as_ref().map(|p| p.expose().to_owned()),
    };
    // Two servers starting at once on one database take turns; the loser asks again.
    let mut report = engine.seed(&seed).await;
    for _ in 0..50 {
        if !matches!(report, Err(ticketing_core::engine::Error::Contention)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        report = engine.seed(&seed).await;
    }
    match report.map_err(StartError::Seed)?.superadmin {
        SuperadminSeed::Created { generated_password, .. } => {
            Ok(Some((config.superadmin_email.clone(), generated_password)))
        }
        SuperadminSeed::Existing(_) => Ok(None),
    }
}

/// The full router: the API, the docs, and the layers every request goes through.
fn router(api: Router<Shared>, state: Shared) -> Router {
    let docs = SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::new(["/openapi.json"]).validator_url("none"));
    let docs = Router::from(docs).layer(middleware::map_response(docs_problem));
    let mut router = api
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), scan_budget))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .with_state(state.clone())
        .merge(docs);
    if !state.config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = state.config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    router
        .layer(CatchPanicLayer::custom(|_| ApiError::internal("a handler panicked").into_response()))
        .layer(PropagateRequestIdLayer::new(request_id::HEADER))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_id::span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(middleware::from_fn_with_state(state, request_id::assign))
        .layer(middleware::from_fn(keep_alive::keep_alive))
}

/// The scan steps a gate waits on: answered within the scan budget (storage included, the
/// bearer-token check too), else 503 `unavailable`: the gate admits nobody on it. Other routes
/// may wait longer for storage (the pool's 10 s).
///
/// A step past its budget is dropped, not left to finish: a confirmation that completed later
/// would mark inside a person the gate turned away. Dropped, its transaction rolls back; the
/// one case it cannot undo is a commit already sent (as when an answer is lost on the network),
/// which the same confirmation sent again with its nonce reports. With Redis, a session spent
/// just before the drop stays spent: the agent scans the ticket again for a new one.
async fn scan_budget(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !matches!(path, "/api/v1/scan/request" | "/api/v1/scan/confirm") {
        return next.run(request).await;
    }
    match tokio::time::timeout(state.config.scan_budget, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                budget_ms = state.config.scan_budget.as_millis(),
                "a scan step ran out of time: storage is slow or away"
            );
            ApiError::unavailable("storage did not answer in time: scan again (a confirmation sent again with its nonce is answered once)").into_response()
        }
    }
}

/// Errors under `/docs` are problem documents like every other error.
async fn docs_problem(response: Response) -> Response {
    let status = response.status();
    let problem = response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t == "application/problem+json");
    match status {
        _ if problem || !(status.is_client_error() || status.is_server_error()) => response,
        StatusCode::NOT_FOUND => route_not_found().await.into_response(),
        StatusCode::METHOD_NOT_ALLOWED => method_not_allowed().await.into_response(),
        _ => ApiError::new(status, "docs_error", "the documentation page could not be served").into_response(),
    }
}

/// How long a stopping server waits for its workers to hand their jobs back.
const WORKER_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// How long an idle worker waits before looking for a job again.
const WORKER_IDLE: std::time::Duration = std::time::Duration::from_millis(200);
/// How long an idle notification worker waits: there are more of them, and a message a second
/// later is no harm.
const NOTIFIER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// The jobs a worker takes.
#[derive(Clone, Copy)]
enum Queue {
    /// Generations, holds' ends and refunds.
    Jobs,
    /// Notifications: apart, so a slow channel never holds the others up.
    Notifications,
}

/// A job worker: runs the most urgent due job of its queue with `engine`, again and again, with
/// a heartbeat every third of the lease while it runs (so a job whose worker died is resumed one
/// short lease later, and a long chunk never loses a live worker's lease).
///
/// When `stopping` turns true the worker ends: idle, at once; running a job, it drops the run
/// (a chunk commits whole or not at all, so nothing is half-written) and hands the job back
/// (`release_job`: queued again, due now, its attempt given back), so a worker of any instance
/// resumes it from its last committed chunk at its next claim instead of one lease later.
async fn work(
    state: Shared,
    engine: Ticketing<dyn ticketing_core::store::Store>,
    queue: Queue,
    name: String,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let stopping_now = stopping.clone();
    let mut stopped = async move || {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    loop {
        if *stopping_now.borrow() {
            return;
        }
        let started = std::time::Instant::now();
        let claim = match queue {
            Queue::Jobs => engine.claim_next_job(&name).await,
            Queue::Notifications => engine.claim_next_notification(&name).await,
        };
        let claimed = match claim {
            Ok(Some(claimed)) => Ok(claimed),
            Ok(None) => {
                let idle = match queue {
                    Queue::Jobs => WORKER_IDLE,
                    Queue::Notifications => NOTIFIER_IDLE,
                };
                tokio::select! {
                    () = tokio::time::sleep(idle) => continue,
                    () = stopped() => return,
                }
            }
            Err(e) => Err(e),
        };
        // The run's span: its store calls and its lines nest in it.
        let mut span = tracing::Span::none();
        let run = match claimed {
            // The heartbeat lives inside this worker's future: a process killed stops beating
            // with it, and its job is resumed one lease later; a worker stopped hands it back.
            Ok(claimed) => {
                let job = claimed.job();
                span = tracing::info_span!("job", id = %job.id, kind = job.kind(), worker = %name);
                let run = async {
                    tokio::select! {
                        run = engine.run_claimed_job(claimed.clone()) => Some(run),
                        never = heartbeat(&state, &claimed) => match never {},
                        () = stopped() => {
                            let job = claimed.job().id;
                            match engine.release_job(&claimed).await {
                                Ok(ticketing_core::job::LeaseCheck::Held) => tracing::info!(%job, "job handed back to the queue"),
                                Ok(check) => tracing::info!(%job, ?check, "job not handed back: this worker no longer held it"),
                                Err(e) => tracing::warn!(%job, error = %e, "a job could not be handed back: it resumes one lease later"),
                            }
                            None
                        }
                    }
                };
                match run.instrument(span.clone()).await {
                    Some(run) => run,
                    None => return,
                }
            }
            Err(e) => Err(e),
        };
        match run {
            Ok(run) => {
                let job = &run.job;
                // An attempt that failed leaves the job failed, or queued again with its error.
                let failed =
                    job.status == JobStatus::Failed || (job.status == JobStatus::Queued && job.last_error.is_some());
                if job.kind() == JobTask::EXPIRE_ORDER {
                    // An expiry job "makes" the one order it expired (none if it was paid meanwhile).
                    state.metrics.holds_expired(run.made);
                } else if job.kind() == JobTask::NOTIFY {
                    // Its messages are counted by the courier, each with its outcome.
                } else {
                    state.metrics.observe_generation(job.status.as_str(), run.made, started.elapsed(), failed);
                }
                span.in_scope(|| {
                    tracing::info!(job = %job.id, status = job.status.as_str(), done = job.progress.done, made = run.made, "job step")
                });
            }
            Err(e) => {
                state.metrics.observe_queue_error();
                tracing::warn!(worker = %name, error = %e, "the job queue failed; trying again shortly");
                tokio::select! {
                    () = tokio::time::sleep(WORKER_IDLE * 10) => {}
                    () = stopped() => return,
                }
            }
        }
    }
}

/// This instance's name in its workers' job leases (`<host>:<port>/worker-0/…`), so an operator
/// sees which instance of a fleet holds a running job.
fn instance_name(addr: SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned());
    format!("{}:{}", host.ok().filter(|h| !h.is_empty()).as_deref().unwrap_or("localhost"), addr.port())
}

/// Beats without committed progress after which a run is taken for stuck (four leases): its
/// heartbeat stops, its lease lapses, and another worker resumes the job (the stuck run, if it
/// ever wakes, is fenced out by its lost lease).
const STALLED_BEATS: u32 = 12;

/// Keeps `claimed`'s lease while its run goes on and makes progress: a heartbeat every third of
/// the lease. Once the lease is lost, a cancel is asked, or the run has committed nothing for
/// [`STALLED_BEATS`] beats, it stops beating (the run stops at its next report); it never ends
/// by itself: the run ends it.
async fn heartbeat(state: &Shared, claimed: &ticketing_core::engine::ClaimedJob) -> std::convert::Infallible {
    let mut every = tokio::time::interval((state.config.job_lease / 3).max(std::time::Duration::from_secs(1)));
    every.tick().await;
    let (mut done, mut still) = (claimed.job().progress.done, 0);
    // A job of one unit (a notification, a hold's end, a refund) reports no progress, and ends
    // by itself: each of its calls out has its own time limit. Only runs that count progress can
    // be taken for stuck.
    let progresses = claimed.job().progress.total > 1;
    while still < STALLED_BEATS {
        every.tick().await;
        match state.engine.heartbeat_job(claimed).await {
            Ok(ticketing_core::job::LeaseCheck::Held) => {}
            Ok(_) => break,
            Err(e) => tracing::warn!(job = %claimed.job().id, error = %e, "a job heartbeat failed; trying again"),
        }
        match state.engine.job(claimed.job().id).await {
            Ok(job) if job.progress.done != done => (done, still) = (job.progress.done, 0),
            _ if progresses => still += 1,
            _ => {}
        }
    }
    if still >= STALLED_BEATS {
        tracing::warn!(job = %claimed.job().id, "a job run made no progress for four leases: left to another worker");
    }
    std::future::pending().await
}

/// How often expired tokens are deleted, and how long after expiry.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes tokens that expired more than a day ago, hourly (a day of expired tokens is kept so a
/// late refresh still answers `invalid_grant` for the right reason).
async fn purge_tokens(state: Shared) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    loop {
        every.tick().await;
        let before = state.clock.now() - chrono::Duration::days(1);
        match state.store().purge_tokens(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired tokens deleted"),
            Err(e) => tracing::warn!(error = %e, "expired tokens could not be deleted"),
        }
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "the route does not take this method")
}

/// Records each request's duration under its route template.
async fn track(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only the standard methods name a series: anything else would let a client grow the
    // metrics without bound.
    let method = match *request.method() {
        Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::PATCH | Method::DELETE | Method::OPTIONS => {
            request.method().as_str()
        }
        _ => "OTHER",
    }
    .to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    request_id::route(&route);
    let response = next.run(request).await;
    state.metrics.observe_request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}
