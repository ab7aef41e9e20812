//! A whole ticket life, in memory, with the engine embedded in a plain program.
//!
//! ```sh
//! cargo run --example embed                 # re-entry allowed: in, out, in again
//! cargo run --example embed -- --no-reentry # re-entry refused: reentry_not_allowed
//! ```

use std::sync::Arc;

use ticketing::chrono::Duration;
use ticketing::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let allow_reentry = !std::env::args().any(|a| a == "--no-reentry");

    // Key material always comes from the caller; here a fresh random secret for this run.
    let mut secret = vec![0u8; 32];
    OsRandomness.fill(&mut secret);
    let keyring = Keyring::new().with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(secret))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let engine = Ticketing::new(store, keyring, clock.clone(), Arc::new(OsRandomness), Config::default());

    let now = clock.now();
    let event = engine
        .create_event(&EventSpec {
            title: "Nuit du Jazz".into(),
            description: "Concert en plein air.".into(),
            starts_at: now - Duration::hours(1),
            ends_at: now + Duration::hours(5),
            time_zone: "Europe/Paris".into(),
            location: "Place Bellecour, Lyon".into(),
            capacity: 500,
            dress_code: Some("Tenue de soirée".into()),
            allow_reentry,
            payment_url: Some("https://pay.example.org/nuit-du-jazz".into()),
            doors_open_minutes: ticketing::core::event::DEFAULT_DOORS_OPEN_MINUTES,
            max_tickets_per_order: ticketing::core::event::DEFAULT_MAX_TICKETS_PER_ORDER,
            email_pdfs: true,
        })
        .await?;
    let event = engine.set_event_status(event.id(), EventStatus::Published).await?;
    let standard = engine
        .add_ticket_type(
            event.id(),
            &TicketTypeSpec {
                name: "Standard".into(),
                price_minor: 2500,
                currency: "EUR".into(),
                quota: 400,
                usage_limit: 3,
                daily_entry_limit: None,
                validity_from: None,
                validity_to: None,
                gates: None,
            },
        )
        .await?;
    let agent = ScanAgent { id: ticketing::core::ids::UserId::generate(&*clock, &OsRandomness), any_gate: false };
    let gate = engine
        .add_gate(
            event.id(),
            &GateSpec { name: "Entrée principale".into(), agents: vec![agent.id], ticket_types: None },
        )
        .await?;
    println!(
        "event    {} ({}), re-entry {}",
        event.title(),
        event.id(),
        if allow_reentry { "allowed" } else { "refused" }
    );
    println!("type     {} at {}", standard.name(), standard.price());

    let holder = HolderSpec { name: "Zoë Lefèvre".into(), email: Some("zoe@example.org".into()), phone: None };
    let request =
        IssueRequest { ticket_type_id: standard.id(), count: 0, holders: vec![holder], status: TicketStatus::Issued };
    let ticket = engine.issue_tickets(&request).await?.remove(0);
    println!("ticket   {} code {} -> {}", ticket.id(), ticket.short_code(), ticket.status());
    let paid = engine.change_ticket(ticket.id(), TicketAction::Pay).await?;
    println!("payment  -> {}", paid.status());
    let payload = engine.qr_payload(&paid, None)?;
    println!("qr       {payload} ({} characters, no personal data)", payload.len());

    let scan = |direction: Direction| {
        let (engine, payload, gate) = (engine.clone(), payload.clone(), gate.id());
        async move {
            let requested =
                engine.scan_request(&ScanRequest { credential: Credential::Qr(payload), gate_id: gate, agent }).await?;
            let Some(session) = requested.session else {
                println!("scan {direction:<3} request refused: {}", requested.reason);
                return Ok::<_, ticketing::prelude::Error>(requested.reason);
            };
            let confirm = ConfirmRequest { token: session.token, direction, gate_id: gate, agent, nonce: None };
            let done = engine.scan_confirm(&confirm).await?;
            let status = done.status.map(|s| s.to_string()).unwrap_or_default();
            println!("scan {direction:<3} {} -> {status} (entries {})", done.reason, done.entries_used.unwrap_or(0));
            Ok(done.reason)
        }
    };
    scan(Direction::In).await?;
    scan(Direction::Out).await?;
    let again = scan(Direction::In).await?;
    let final_status = engine.ticket(ticket.id()).await?.status();
    println!("final    {final_status} ({})", if again == ScanReason::Ok { "re-entered" } else { again.code() });
    Ok(())
}
