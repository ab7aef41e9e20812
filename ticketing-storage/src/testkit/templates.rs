//! Template versions and ticket pins.

use std::sync::Arc;

use ticketing_core::env::Clock;
use ticketing_core::ids::{EventId, TemplateId};
use ticketing_core::status::TicketStatus;
use ticketing_core::store::StoreError;
use ticketing_core::template::TemplatePin;
use uuid::Uuid;

use super::support::{Backend, Options, World};

fn template(n: u128) -> TemplateId {
    TemplateId::from_uuid(Uuid::from_u128(0x7e00 + n))
}

/// Conformance case.
pub async fn template_versions_count_up_and_old_ones_stay_readable(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let store = world.engine.store();
    let at = world.clock.now();
    let id = template(1);
    assert_eq!(store.template_version(id, None).await.unwrap(), None);
    for (i, body) in ["{\"v\":1}", "{\"v\":2}", "{\"v\":3}"].into_iter().enumerate() {
        let saved = store.save_template_version(id, Some(world.event.id()), "Gala", body, at).await.unwrap();
        assert_eq!((saved.version, saved.body.as_str()), (i as u32 + 1, body));
    }
    let renamed = store.save_template_version(id, None, "Gala 2027", "{\"v\":4}", at).await.unwrap();
    assert_eq!(renamed.version, 4);
    let first = store.template_version(id, Some(1)).await.unwrap().unwrap();
    assert_eq!((first.body.as_str(), first.name.as_str(), first.created_at), ("{\"v\":1}", "Gala 2027", at));
    assert_eq!(store.template_version(id, None).await.unwrap().unwrap().version, 4);
    assert_eq!(store.template_version(id, Some(9)).await.unwrap(), None);
    let all: Vec<u32> = store.template_versions(id).await.unwrap().iter().map(|v| v.version).collect();
    assert_eq!(all, [1, 2, 3, 4]);
    assert!(store.template_versions(template(2)).await.unwrap().is_empty());
    // Names are unique within an event; another template may not take this one's.
    let clash = store.save_template_version(template(3), Some(world.event.id()), "Gala 2027", "{}", at).await;
    // In the same words on every backend: the database's own text is not for clients.
    assert!(matches!(&clash, Err(StoreError::Conflict(m)) if m == ticketing_core::template::NAME_TAKEN), "{clash:?}");
    let nowhere =
        store.save_template_version(template(4), Some(EventId::from_uuid(Uuid::from_u128(9))), "X", "{}", at).await;
    assert!(matches!(nowhere, Err(StoreError::NotFound(_))), "{nowhere:?}");
}

/// Conformance case.
pub async fn concurrent_saves_of_one_template_get_distinct_versions(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let store = world.engine.store();
    let at = world.clock.now();
    let id = template(5);
    let saves = (0..12).map(|i| {
        let store = Arc::clone(store);
        tokio::spawn(
            async move { store.save_template_version(id, None, "Shared", &format!("{{\"n\":{i}}}"), at).await },
        )
    });
    let mut versions: Vec<u32> = Vec::new();
    for save in saves {
        versions.push(save.await.unwrap().unwrap().version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=12).collect::<Vec<_>>());
    assert_eq!(store.template_versions(id).await.unwrap().len(), 12);
}

/// Conformance case.
pub async fn the_first_pin_wins_and_a_redownload_uses_it(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let store = world.engine.store();
    let at = world.clock.now();
    let id = template(6);
    store.save_template_version(id, None, "Pinned", "{\"v\":1}", at).await.unwrap();
    store.save_template_version(id, None, "Pinned", "{\"v\":2}", at).await.unwrap();
    let ticket = world.ticket(&world.standard, TicketStatus::Paid).await;
    assert_eq!(store.ticket_template(ticket.id()).await.unwrap(), None);
    let (v1, v2) = (TemplatePin { template_id: id, version: 1 }, TemplatePin { template_id: id, version: 2 });
    // Two renders race to pin different versions: both see the same winner.
    let racers = [v1, v2, v1, v2].map(|pin| {
        let store = Arc::clone(store);
        let ticket_id = ticket.id();
        tokio::spawn(async move { store.pin_ticket_template(ticket_id, pin).await })
    });
    let mut seen = Vec::new();
    for racer in racers {
        seen.push(racer.await.unwrap().unwrap());
    }
    assert!(seen.iter().all(|p| *p == seen[0]), "{seen:?}");
    store.save_template_version(id, None, "Pinned", "{\"v\":3}", at).await.unwrap();
    let later = TemplatePin { template_id: id, version: 3 };
    assert_eq!(store.pin_ticket_template(ticket.id(), later).await.unwrap(), seen[0], "a later edit changes nothing");
    assert_eq!(store.ticket_template(ticket.id()).await.unwrap(), Some(seen[0]));
    let other = world.ticket(&world.standard, TicketStatus::Paid).await;
    let missing = TemplatePin { template_id: id, version: 9 };
    assert!(matches!(store.pin_ticket_template(other.id(), missing).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.ticket_template(other.id()).await.unwrap(), None, "a refused pin writes nothing");

    // In bulk: the pinned keep their pin, the others take this one, unknown tickets are left out.
    assert!(matches!(store.pin_ticket_templates(&[other.id()], missing).await, Err(StoreError::NotFound(_))));
    let none_at_all = store.pin_ticket_templates(&[], missing).await;
    assert!(matches!(none_at_all, Err(StoreError::NotFound(_))), "the version is checked even with no ticket");
    assert_eq!(store.ticket_template(other.id()).await.unwrap(), None, "a refused bulk pin writes nothing");
    let third = world.ticket(&world.standard, TicketStatus::Paid).await;
    let nobody = ticketing_core::ids::TicketId::from_uuid(Uuid::from_u128(0xdead));
    let bulk = store.pin_ticket_templates(&[ticket.id(), other.id(), third.id(), nobody], later).await.unwrap();
    assert_eq!(bulk.len(), 3, "{bulk:?}");
    assert_eq!((bulk[&ticket.id()], bulk[&other.id()], bulk[&third.id()]), (seen[0], later, later));
    let read = store.ticket_templates(&[ticket.id(), third.id(), nobody]).await.unwrap();
    assert_eq!(read, [(ticket.id(), seen[0]), (third.id(), later)].into_iter().collect());
}

/// Conformance case.
pub async fn an_event_has_one_active_template_at_most(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let store = world.engine.store();
    let at = world.clock.now();
    let event = Some(world.event.id());
    let (a, b, global) = (template(7), template(8), template(9));
    store.save_template_version(a, event, "A", "{\"v\":1}", at).await.unwrap();
    store.save_template_version(b, event, "B", "{\"v\":1}", at + chrono::Duration::seconds(1)).await.unwrap();
    store.save_template_version(b, event, "B", "{\"v\":2}", at + chrono::Duration::seconds(2)).await.unwrap();
    store.save_template_version(global, None, "Everywhere", "{}", at).await.unwrap();
    let listed = store.templates(world.event.id()).await.unwrap();
    let seen: Vec<_> = listed.iter().map(|t| (t.template_id, t.latest_version, t.active_version)).collect();
    assert_eq!(seen, [(a, 1, None), (b, 2, None)], "the event's own, oldest first, none active");
    assert_eq!(listed[0].event_id, event);
    assert_eq!(listed[0].created_at, at);

    let active = store.activate_template(TemplatePin { template_id: a, version: 1 }).await.unwrap();
    assert_eq!(active.active_pin(), Some(TemplatePin { template_id: a, version: 1 }));
    store.activate_template(TemplatePin { template_id: b, version: 2 }).await.unwrap();
    let actives: Vec<_> =
        store.templates(world.event.id()).await.unwrap().iter().filter_map(|t| t.active_pin()).collect();
    assert_eq!(actives, [TemplatePin { template_id: b, version: 2 }], "activating one deactivates the other");

    let missing = store.activate_template(TemplatePin { template_id: a, version: 5 }).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    assert_eq!(store.template(a).await.unwrap().unwrap().active_version, None, "a refused activation changes nothing");
    assert_eq!(store.template(b).await.unwrap().unwrap().active_version, Some(2));
    // A template for every event is activated on its own.
    store.activate_template(TemplatePin { template_id: global, version: 1 }).await.unwrap();
    assert_eq!(store.template(b).await.unwrap().unwrap().active_version, Some(2));
    assert_eq!(store.template(global).await.unwrap().unwrap().event_id, None);
    assert_eq!(store.template(template(10)).await.unwrap(), None);

    // Activations racing on one event: all succeed, and one template is active after.
    let racers = (0..8).map(|i| {
        let store = Arc::clone(store);
        let pin = if i % 2 == 0 {
            TemplatePin { template_id: a, version: 1 }
        } else {
            TemplatePin { template_id: b, version: 2 }
        };
        tokio::spawn(async move { store.activate_template(pin).await })
    });
    for racer in racers {
        racer.await.unwrap().unwrap();
    }
    let actives =
        store.templates(world.event.id()).await.unwrap().iter().filter(|t| t.active_version.is_some()).count();
    assert_eq!(actives, 1, "one active template, whoever won");
}
