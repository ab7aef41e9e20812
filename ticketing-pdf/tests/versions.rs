//! Templates are versioned: every save is a new version, and a ticket keeps the version it was
//! first rendered with, so its re-download looks the same after the template is edited.

// Test code (the helpers too): a failed step should fail the test with its message.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ticketing_core::engine::{Config, IssueRequest, Ticketing};
use ticketing_core::env::{Clock, FixedClock, OsRandomness};
use ticketing_core::event::{Event, EventSpec, EventStatus};
use ticketing_core::ids::TemplateId;
use ticketing_core::memory::MemoryStore;
use ticketing_core::status::TicketStatus;
use ticketing_core::store::TemplateRepository;
use ticketing_core::template::TemplatePin;
use ticketing_core::ticket::{HolderSpec, Ticket};
use ticketing_core::ticket_type::{TicketType, TicketTypeSpec};
use ticketing_pdf::template::DEFAULT_JSON;
use ticketing_pdf::{LibraryError, TemplateLibrary, TicketData};

/// A published event with one type and a ticket for each of `holders`, in memory.
async fn festival(holders: &[&str]) -> Festival {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let engine =
        Ticketing::new(store.clone(), support::keyring(), clock.clone(), Arc::new(OsRandomness), Config::default());
    let now = clock.now();
    let event = engine
        .create_event(&EventSpec {
            title: "Fête de la Musique".into(),
            description: String::new(),
            starts_at: now + Duration::days(3),
            ends_at: now + Duration::days(3) + Duration::hours(6),
            time_zone: "Europe/Paris".into(),
            location: "Parc de la Tête d'Or, Lyon".into(),
            capacity: 100,
            dress_code: None,
            allow_reentry: true,
            payment_url: None,
            doors_open_minutes: ticketing_core::event::DEFAULT_DOORS_OPEN_MINUTES,
            max_tickets_per_order: ticketing_core::event::DEFAULT_MAX_TICKETS_PER_ORDER,
            email_pdfs: true,
        })
        .await
        .unwrap();
    engine.set_event_status(event.id(), EventStatus::Published).await.unwrap();
    let spec = TicketTypeSpec {
        name: "Pelouse".into(),
        price_minor: 0,
        currency: "EUR".into(),
        quota: 50,
        usage_limit: 1,
        daily_entry_limit: None,
        validity_from: None,
        validity_to: None,
        gates: None,
    };
    let kind = engine.add_ticket_type(event.id(), &spec).await.unwrap();
    let holders: Vec<HolderSpec> =
        holders.iter().map(|n| HolderSpec { name: (*n).into(), email: None, phone: None }).collect();
    let request = IssueRequest { ticket_type_id: kind.id(), count: 0, holders, status: TicketStatus::Paid };
    let tickets = engine.issue_tickets(&request).await.unwrap();
    Festival { store, engine, event, kind, tickets, now }
}

/// What [`festival`] made.
struct Festival {
    store: Arc<MemoryStore>,
    engine: Ticketing<MemoryStore>,
    event: Event,
    kind: TicketType,
    tickets: Vec<Ticket>,
    now: DateTime<Utc>,
}

#[tokio::test]
async fn a_ticket_keeps_the_version_it_was_first_rendered_with() {
    let Festival { store, engine, event, kind, tickets, now } = festival(&["Élodie Brûlé", "Gaël Çelik"]).await;
    let data: Vec<TicketData> =
        tickets.iter().map(|t| TicketData::new(&event, &kind, t, engine.qr_payload(t, None).unwrap())).collect();

    let library = TemplateLibrary::new(store.clone());
    let template_id = TemplateId::from_uuid(ticketing_core::uuid::Uuid::from_u128(42));
    let first = library.save(template_id, Some(event.id()), DEFAULT_JSON, now).await.unwrap();
    assert_eq!(first.version, 1);
    let (pin, pdf) = library.ticket_pdf(tickets[0].id(), template_id, &data[0]).await.unwrap();
    assert_eq!(pin.version, 1);
    assert!(support::pdf_text(&pdf).contains("Good to know"));
    assert!(support::pdf_text(&pdf).contains("Free"), "a zero price reads as free");

    // The organiser edits the template: a new version; the first ticket's download is unchanged.
    let edited = DEFAULT_JSON.replace("Good to know", "Bon à savoir").replace("\"en\"", "\"fr\"");
    let second = library.save(template_id, None, &edited, now).await.unwrap();
    assert_eq!(second.version, 2);
    let (again, pdf) = library.ticket_pdf(tickets[0].id(), template_id, &data[0]).await.unwrap();
    assert_eq!(again, pin);
    assert!(support::pdf_text(&pdf).contains("Good to know"));
    // A ticket rendered for the first time now gets the new version.
    let (pin, pdf) = library.ticket_pdf(tickets[1].id(), template_id, &data[1]).await.unwrap();
    assert_eq!(pin.version, 2);
    let text = support::pdf_text(&pdf);
    assert!(text.contains("Bon à savoir") && text.contains("Gratuit") && text.contains("Gaël Çelik"), "{text}");
    assert_eq!(store.template_versions(template_id).await.unwrap().len(), 2);

    // A refused template stores nothing.
    let broken = DEFAULT_JSON.replace("{{ holder.name }}", "{{ holder.secret }}");
    assert!(matches!(library.save(template_id, None, &broken, now).await, Err(LibraryError::Template(_))));
    assert_eq!(store.template_versions(template_id).await.unwrap().len(), 2);
    let unknown = TemplateId::from_uuid(ticketing_core::uuid::Uuid::from_u128(7));
    assert!(
        matches!(library.ticket_pdf(tickets[1].id(), unknown, &data[1]).await.map(|_| ()), Ok(())),
        "pinned already"
    );
}

#[tokio::test]
async fn a_ticket_is_drawn_with_its_pin_else_the_active_template_else_the_built_in_one() {
    let Festival { store, event, tickets, now, .. } = festival(&["Ana", "Bo", "Cy"]).await;
    let library = TemplateLibrary::new(store.clone());
    let ids: Vec<_> = tickets.iter().map(|t| t.id()).collect();
    let pins = || async { store.ticket_templates(&ids).await.unwrap() };
    // No template of the event, or one never activated: none is chosen (the built-in one draws)
    // and nothing is pinned.
    assert!(library.event_renderers(event.id(), &ids).await.unwrap().is_empty());
    let template_id = TemplateId::from_uuid(ticketing_core::uuid::Uuid::from_u128(43));
    library.save(template_id, Some(event.id()), DEFAULT_JSON, now).await.unwrap();
    assert!(library.event_renderers(event.id(), &ids).await.unwrap().is_empty());
    assert!(pins().await.is_empty());
    // Activated: the ticket drawn is pinned to it.
    let first = TemplatePin { template_id, version: 1 };
    store.activate_template(first).await.unwrap();
    assert_eq!(library.event_renderers(event.id(), &ids[..1]).await.unwrap().len(), 1);
    assert_eq!(pins().await, HashMap::from([(ids[0], first)]));
    // A second version activated: the pinned ticket keeps the first, the others get the second.
    let edited = DEFAULT_JSON.replace("Good to know", "Bon à savoir");
    library.save(template_id, None, &edited, now).await.unwrap();
    let second = TemplatePin { template_id, version: 2 };
    store.activate_template(second).await.unwrap();
    let chosen = library.event_renderers(event.id(), &ids).await.unwrap();
    assert_eq!(pins().await, HashMap::from([(ids[0], first), (ids[1], second), (ids[2], second)]));
    assert!(!Arc::ptr_eq(&chosen[&ids[0]], &chosen[&ids[1]]), "two versions, two renderers");
    assert!(Arc::ptr_eq(&chosen[&ids[1]], &chosen[&ids[2]]), "one version, one renderer");
}
