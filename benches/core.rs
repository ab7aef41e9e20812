//! Criterion benchmarks of the hot paths of the core: signing and verifying QR payloads and the
//! scan decision. Whole scans over each store, the in-memory one included, are in `storage.rs`.
//!
//! ```sh
//! cargo bench --bench core
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ticketing::chrono::{Duration, TimeZone as _, Utc};
use ticketing::core::event::Event;
use ticketing::core::gate::Gate;
use ticketing::core::ids::{EventId, GateId, TicketId, TicketTypeId, UserId};
use ticketing::core::scan::{ScanContext, rules};
use ticketing::core::short_code::ShortCode;
use ticketing::core::signing::QrClaims;
use ticketing::core::ticket::{NewTicket, Ticket};
use ticketing::core::ticket_type::TicketType;
use ticketing::prelude::*;

fn keyring() -> Keyring {
    Keyring::new()
        .with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![0x42; 32]))
        .and_then(|k| k.with_key(KeyId(2), KeyState::Current, KeyMaterial::Ed25519Secret([0x17; 32])))
        .expect("valid keys")
}

fn claims() -> QrClaims {
    QrClaims { ticket: ShortCode::from_value(123_456_789_012).expect("in range"), expires_at: None }
}

fn signing(c: &mut Criterion) {
    let keys = keyring();
    let now = Utc::now();
    let hmac = keys.sign_qr(Algorithm::HmacSha256, &claims()).expect("signs");
    let ed = keys.sign_qr(Algorithm::Ed25519, &claims()).expect("signs");
    c.bench_function("qr/hmac sign+encode", |b| b.iter(|| keys.sign_qr(Algorithm::HmacSha256, black_box(&claims()))));
    c.bench_function("qr/hmac decode+verify", |b| b.iter(|| keys.verify_qr(black_box(&hmac), now)));
    c.bench_function("qr/ed25519 sign+encode", |b| b.iter(|| keys.sign_qr(Algorithm::Ed25519, black_box(&claims()))));
    c.bench_function("qr/ed25519 decode+verify", |b| b.iter(|| keys.verify_qr(black_box(&ed), now)));
}

fn decision(c: &mut Criterion) {
    let id = |n: u128| uuid_from(n);
    let start = Utc.with_ymd_and_hms(2027, 7, 1, 16, 0, 0).single().expect("valid date");
    let event = Event::new(
        EventId::from_uuid(id(1)),
        &EventSpec {
            title: "Bench".into(),
            description: String::new(),
            starts_at: start,
            ends_at: start + Duration::days(3),
            time_zone: "Europe/Paris".into(),
            location: "Lyon".into(),
            capacity: 1000,
            dress_code: None,
            allow_reentry: true,
            payment_url: None,
            doors_open_minutes: ticketing::core::event::DEFAULT_DOORS_OPEN_MINUTES,
            max_tickets_per_order: ticketing::core::event::DEFAULT_MAX_TICKETS_PER_ORDER,
            email_pdfs: true,
        },
    )
    .and_then(|e| e.with_status(EventStatus::Published))
    .expect("valid event");
    let spec = TicketTypeSpec {
        name: "Pass".into(),
        price_minor: 100,
        currency: "EUR".into(),
        quota: 10,
        usage_limit: 3,
        daily_entry_limit: Some(1),
        validity_from: None,
        validity_to: None,
        gates: Some(vec![GateId::from_uuid(id(3))]),
    };
    let ticket_type = TicketType::new(TicketTypeId::from_uuid(id(2)), event.id(), &spec, []).expect("valid type");
    let gate = Gate::new(
        GateId::from_uuid(id(3)),
        event.id(),
        &GateSpec {
            name: "Main".into(),
            agents: vec![UserId::from_uuid(id(4))],
            ticket_types: Some(vec![ticket_type.id()]),
        },
    )
    .expect("valid gate");
    let ticket = Ticket::new(NewTicket {
        id: TicketId::from_uuid(id(5)),
        event_id: event.id(),
        ticket_type_id: ticket_type.id(),
        short_code: claims().ticket,
        holder: None,
        status: TicketStatus::Paid,
        created_at: start,
    })
    .expect("valid ticket");
    let ctx = ScanContext {
        event: &event,
        ticket_type: &ticket_type,
        ticket: &ticket,
        gate: &gate,
        code_expires_at: None,
        now: start,
    };
    c.bench_function("scan/decision (allowed directions)", |b| b.iter(|| rules::allowed_directions(black_box(&ctx))));
}

fn uuid_from(n: u128) -> ticketing::core::uuid::Uuid {
    ticketing::core::uuid::Uuid::from_u128(n)
}

criterion_group!(benches, signing, decision);
criterion_main!(benches);
