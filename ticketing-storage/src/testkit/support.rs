//! A small world to scan in: one published event with two ticket types and two gates, over
//! whichever store the [`Backend`] makes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use ticketing_core::engine::{Config, IssueRequest, Ticketing};
use ticketing_core::env::{Clock, FixedClock, Randomness};
use ticketing_core::event::{Event, EventSpec, EventStatus};
use ticketing_core::gate::{Gate, GateSpec};
use ticketing_core::ids::UserId;
use ticketing_core::scan::{
    ConfirmOutcome, ConfirmRequest, Credential, Direction, RequestOutcome, ScanAgent, ScanRequest,
};
use ticketing_core::signing::{KeyId, KeyMaterial, KeyState, Keyring};
use ticketing_core::status::TicketStatus;
use ticketing_core::store::Store;
use ticketing_core::ticket::{HolderSpec, Ticket};
use ticketing_core::ticket_type::{TicketType, TicketTypeSpec};

type MakeStore = dyn Fn(Arc<dyn Clock>) -> Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send>> + Send + Sync;
type Finish = dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// Makes a fresh, empty store for each case: the backend under test.
#[derive(Clone)]
pub struct Backend {
    name: &'static str,
    make: Option<Arc<MakeStore>>,
    finish: Option<Arc<Finish>>,
    skip_reason: &'static str,
}

impl Backend {
    /// A backend called `name` whose stores `make` builds. The clock must be the one the store
    /// uses for anything time-based it decides itself (lock expiry).
    pub fn new<F, Fut>(name: &'static str, make: F) -> Self
    where
        F: Fn(Arc<dyn Clock>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Arc<dyn Store>> + Send + 'static,
    {
        Self { name, make: Some(Arc::new(move |clock| Box::pin(make(clock)))), finish: None, skip_reason: "" }
    }

    /// A backend that cannot run here (its server is not configured): every case is skipped,
    /// saying so, unless `TICKETING_REQUIRE_SERVERS` is set, which turns the skip into a failure.
    pub fn unavailable(name: &'static str, reason: &'static str) -> Self {
        Self { name, make: None, finish: None, skip_reason: reason }
    }

    /// Cleanup to run after each case and each random sequence (dropping a test schema, say).
    #[must_use]
    pub fn with_finish<F, Fut>(mut self, finish: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.finish = Some(Arc::new(move || Box::pin(finish())));
        self
    }

    /// The backend's name, for messages.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether the cases must be skipped; prints the reason once per backend and process, on the
    /// real standard error (not the captured test output), so a plain `cargo test` shows it.
    /// Panics instead when `TICKETING_REQUIRE_SERVERS` is set.
    pub fn skipped(&self) -> bool {
        if self.make.is_some() {
            return false;
        }
        assert!(
            std::env::var_os("TICKETING_REQUIRE_SERVERS").is_none(),
            "the {} conformance suite cannot run: {} (TICKETING_REQUIRE_SERVERS is set)",
            self.name,
            self.skip_reason
        );
        static SAID: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
        let mut said = SAID.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !said.contains(&self.name) {
            said.push(self.name);
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "skipped: the {} conformance suite ({})", self.name, self.skip_reason);
        }
        true
    }

    /// A fresh store on `clock`.
    ///
    /// # Panics
    /// If the backend is [`unavailable`](Self::unavailable): check [`skipped`](Self::skipped) first.
    pub async fn store(&self, clock: Arc<dyn Clock>) -> Arc<dyn Store> {
        let make = self.make.as_ref().expect("an available backend (check `skipped` first)");
        make(clock).await
    }

    /// Runs the cleanup, if any.
    pub async fn finish(&self) {
        if let Some(finish) = &self.finish {
            finish().await;
        }
    }
}

/// SplitMix64: deterministic, and good enough to stand in for a CSPRNG in tests.
pub struct TestRng(AtomicU64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }
}

impl Randomness for TestRng {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z = self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_be_bytes()[..chunk.len()]);
        }
    }
}

pub fn keyring() -> Keyring {
    Keyring::new()
        .with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(b"a test secret of at least 32 bytes!".to_vec()))
        .unwrap()
}

pub fn event_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 7, 1, 16, 0, 0).unwrap()
}

/// A small world on a fresh store: one published event, a standard and a VIP ticket type, a main
/// gate (standard only) and a VIP gate, an agent for each. Public for backend-specific tests.
pub struct World {
    /// The engine over the store.
    pub engine: Ticketing<dyn Store>,
    /// The clock everything runs on; starts an hour before the event.
    pub clock: Arc<FixedClock>,
    /// The event.
    pub event: Event,
    /// The standard type.
    pub standard: TicketType,
    /// The VIP type.
    pub vip: TicketType,
    /// The main gate.
    pub main_gate: Gate,
    /// The VIP gate.
    pub vip_gate: Gate,
    /// The main gate's agent.
    pub agent: ScanAgent,
    /// The VIP gate's agent.
    pub vip_agent: ScanAgent,
}

/// How [`World::new`] sets the event and the standard type up.
pub struct Options {
    /// Whether the event allows re-entry.
    pub allow_reentry: bool,
    /// Entries per ticket.
    pub usage_limit: u32,
    /// Entries per ticket per day.
    pub daily_entry_limit: Option<u32>,
    /// The standard type's quota.
    pub quota: u32,
    /// The event's capacity.
    pub capacity: u32,
    /// How many short codes tickets draw from (all of them by default; tiny to force collisions).
    pub short_code_space: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            allow_reentry: true,
            usage_limit: 10,
            daily_entry_limit: None,
            quota: 1000,
            capacity: 2000,
            short_code_space: ticketing_core::short_code::ShortCode::SPACE,
        }
    }
}

impl World {
    /// Builds the world on a fresh store of `backend`.
    pub async fn new(backend: &Backend, options: Options) -> Self {
        let clock = Arc::new(FixedClock::new(event_start() - Duration::hours(1)));
        let rng = Arc::new(TestRng::new(7));
        let store = backend.store(clock.clone()).await;
        let config = Config { short_code_space: options.short_code_space, ..Config::default() };
        let engine = Ticketing::new(store, keyring(), clock.clone(), rng, config);
        let spec = EventSpec {
            title: "Festival d'été".into(),
            description: String::new(),
            starts_at: event_start(),
            ends_at: event_start() + Duration::days(3),
            time_zone: "Europe/Paris".into(),
            location: "Lyon".into(),
            capacity: options.capacity,
            dress_code: None,
            allow_reentry: options.allow_reentry,
            payment_url: None,
            doors_open_minutes: ticketing_core::event::DEFAULT_DOORS_OPEN_MINUTES,
            max_tickets_per_order: ticketing_core::event::DEFAULT_MAX_TICKETS_PER_ORDER,
            email_pdfs: true,
        };
        let event = engine.create_event(&spec).await.unwrap();
        let event = engine.set_event_status(event.id(), EventStatus::Published).await.unwrap();
        let (agent, vip_agent) = (
            ScanAgent { id: UserId::from_uuid(uuid::Uuid::from_u128(1)), any_gate: false },
            ScanAgent { id: UserId::from_uuid(uuid::Uuid::from_u128(2)), any_gate: false },
        );
        let main_gate = engine
            .add_gate(event.id(), &GateSpec { name: "Main".into(), agents: vec![agent.id], ticket_types: None })
            .await
            .unwrap();
        let type_spec = |name: &str, gates| TicketTypeSpec {
            name: name.into(),
            price_minor: 4500,
            currency: "EUR".into(),
            quota: options.quota,
            usage_limit: options.usage_limit,
            daily_entry_limit: options.daily_entry_limit,
            validity_from: None,
            validity_to: None,
            gates,
        };
        let standard = engine.add_ticket_type(event.id(), &type_spec("Standard", None)).await.unwrap();
        let vip = engine.add_ticket_type(event.id(), &type_spec("VIP", None)).await.unwrap();
        let vip_gate = engine
            .add_gate(
                event.id(),
                &GateSpec {
                    name: "VIP".into(),
                    agents: vec![agent.id, vip_agent.id],
                    ticket_types: Some(vec![vip.id()]),
                },
            )
            .await
            .unwrap();
        Self { engine, clock, event, standard, vip, main_gate, vip_gate, agent, vip_agent }
    }

    /// A new ticket of `ticket_type`, moved to `status`.
    pub async fn ticket(&self, ticket_type: &TicketType, status: TicketStatus) -> Ticket {
        let request = IssueRequest {
            ticket_type_id: ticket_type.id(),
            count: 0,
            holders: vec![HolderSpec {
                name: "Zoë Lefèvre".into(),
                email: Some("zoe@example.org".into()),
                phone: None,
            }],
            status,
        };
        self.engine.issue_tickets(&request).await.unwrap().remove(0)
    }

    /// The ticket's signed QR payload.
    pub fn qr(&self, ticket: &Ticket) -> Credential {
        Credential::Qr(self.engine.qr_payload(ticket, None).unwrap())
    }

    /// A scan request that must not error.
    pub async fn request(&self, credential: Credential, gate: &Gate, agent: ScanAgent) -> RequestOutcome {
        self.engine.scan_request(&ScanRequest { credential, gate_id: gate.id(), agent }).await.unwrap()
    }

    /// A confirmation that must not error.
    pub async fn confirm(&self, token: &str, direction: Direction, gate: &Gate, agent: ScanAgent) -> ConfirmOutcome {
        let request = ConfirmRequest { token: token.into(), direction, gate_id: gate.id(), agent, nonce: None };
        self.engine.scan_confirm(&request).await.unwrap()
    }

    /// Request then confirm at the main gate; the confirm's outcome, or the request's refusal.
    pub async fn pass(&self, ticket: &Ticket, direction: Direction) -> ConfirmOrRefusal {
        let requested = self.request(self.qr(ticket), &self.main_gate, self.agent).await;
        match requested.session {
            Some(session) => {
                ConfirmOrRefusal::Confirmed(self.confirm(&session.token, direction, &self.main_gate, self.agent).await)
            }
            None => ConfirmOrRefusal::Refused(requested),
        }
    }
}

/// What [`World::pass`] ended with.
#[derive(Debug)]
pub enum ConfirmOrRefusal {
    /// The request gave a session; this is the confirmation.
    Confirmed(ConfirmOutcome),
    /// The request was refused.
    Refused(RequestOutcome),
}

impl ConfirmOrRefusal {
    /// The final reason.
    pub fn reason(&self) -> ticketing_core::scan::ScanReason {
        match self {
            Self::Confirmed(c) => c.reason,
            Self::Refused(r) => r.reason,
        }
    }
}
