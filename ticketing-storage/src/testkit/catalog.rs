//! Catalogue invariants through the engine and the store: names, limits, capacity, refunds
//! freeing places, deletion, listing filters.

use chrono::Duration;
use ticketing_core::engine::{Error, IssueRequest};
use ticketing_core::event::{EventError, EventStatus};
use ticketing_core::quota::QuotaError;
use ticketing_core::status::{TicketAction, TicketStatus};
use ticketing_core::store::EventFilter;
use ticketing_core::ticket::HolderSpec;
use ticketing_core::ticket_type::TicketTypeSpec;

use super::support::{Backend, Options, World};

fn issue(ticket_type: &ticketing_core::ticket_type::TicketType, count: u32) -> IssueRequest {
    IssueRequest { ticket_type_id: ticket_type.id(), count, holders: vec![], status: TicketStatus::Paid }
}

/// Conformance case.
pub async fn ticket_type_names_are_unique_per_event(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let spec = TicketTypeSpec { name: " standard ".into(), ..w.standard.spec() };
    let err = w.engine.add_ticket_type(w.event.id(), &spec).await;
    assert!(matches!(err, Err(Error::TicketType(_))), "{err:?}");
    let renamed = TicketTypeSpec { name: "vip".into(), ..w.standard.spec() };
    assert!(matches!(w.engine.update_ticket_type(w.standard.id(), &renamed).await, Err(Error::TicketType(_))));
    // The store refuses it too (two creations racing past the engine's check), in the same words
    // on every backend: the database's own text is not for clients.
    let id = ticketing_core::ids::TicketTypeId::from_uuid(uuid::Uuid::from_u128(77));
    let twin = ticketing_core::ticket_type::TicketType::new(id, w.event.id(), &spec, []).unwrap();
    let refused = w.engine.store().insert_ticket_type(&twin).await;
    let taken = ticketing_core::ticket_type::NAME_TAKEN;
    assert!(matches!(&refused, Err(ticketing_core::store::StoreError::Conflict(m)) if m == taken), "{refused:?}");
    // Another event may reuse the name.
    let mut other = w.event.spec();
    other.title = "Autre".into();
    let other = w.engine.create_event(&other).await.unwrap();
    assert!(w.engine.add_ticket_type(other.id(), &w.standard.spec()).await.is_ok());
}

/// Conformance case.
pub async fn the_event_capacity_caps_all_types_together(backend: &Backend) {
    let w = World::new(backend, Options { quota: 8, capacity: 10, ..Options::default() }).await;
    assert_eq!(w.engine.issue_tickets(&issue(&w.standard, 6)).await.unwrap().len(), 6);
    let err = w.engine.issue_tickets(&issue(&w.vip, 5)).await;
    assert!(
        matches!(err, Err(Error::Quota(QuotaError::EventCapacity { capacity: 10, remaining: 4, requested: 5 }))),
        "{err:?}"
    );
    let err = w.engine.issue_tickets(&issue(&w.standard, 3)).await;
    assert!(
        matches!(err, Err(Error::Quota(QuotaError::TypeQuota { quota: 8, remaining: 2, requested: 3 }))),
        "{err:?}"
    );
    // All or none: the refused batches wrote nothing.
    assert_eq!(w.engine.issue_tickets(&issue(&w.vip, 4)).await.unwrap().len(), 4);
}

/// Conformance case.
pub async fn refunds_and_invalidations_free_their_place(backend: &Backend) {
    let w = World::new(backend, Options { quota: 2, ..Options::default() }).await;
    let tickets = w.engine.issue_tickets(&issue(&w.standard, 2)).await.unwrap();
    assert!(matches!(w.engine.issue_tickets(&issue(&w.standard, 1)).await, Err(Error::Quota(_))));
    w.engine.change_ticket(tickets[0].id(), TicketAction::Refund).await.unwrap();
    w.engine.change_ticket(tickets[1].id(), TicketAction::Invalidate).await.unwrap();
    assert_eq!(w.engine.issue_tickets(&issue(&w.standard, 2)).await.unwrap().len(), 2);
}

/// Conformance case.
pub async fn limits_cannot_drop_below_live_tickets(backend: &Backend) {
    let w = World::new(backend, Options { quota: 10, capacity: 20, ..Options::default() }).await;
    w.engine.issue_tickets(&issue(&w.standard, 5)).await.unwrap();
    let lower_quota = TicketTypeSpec { quota: 4, ..w.standard.spec() };
    let err = w.engine.update_ticket_type(w.standard.id(), &lower_quota).await;
    assert!(matches!(err, Err(Error::Quota(QuotaError::BelowLive { limit: 4, live: 5 }))), "{err:?}");
    let mut spec = w.event.spec();
    spec.capacity = 4;
    let err = w.engine.update_event(w.event.id(), &spec).await;
    assert!(matches!(err, Err(Error::Quota(QuotaError::BelowLive { limit: 4, live: 5 }))), "{err:?}");
    spec.capacity = 5;
    assert_eq!(w.engine.update_event(w.event.id(), &spec).await.unwrap().capacity(), 5);
}

/// Conformance case.
pub async fn closed_events_issue_nothing_and_status_moves_are_checked(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let err = w.engine.set_event_status(w.event.id(), EventStatus::Draft).await;
    assert!(matches!(err, Err(Error::Event(EventError::StatusChange { .. }))), "{err:?}");
    w.engine.set_event_status(w.event.id(), EventStatus::Ended).await.unwrap();
    let err = w.engine.issue_tickets(&issue(&w.standard, 1)).await;
    assert!(matches!(err, Err(Error::EventClosed(EventStatus::Ended))), "{err:?}");
}

/// Conformance case.
pub async fn invalid_holders_refuse_the_whole_batch(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let request = IssueRequest {
        ticket_type_id: w.standard.id(),
        count: 0,
        holders: vec![
            HolderSpec { name: "Ana".into(), ..Default::default() },
            HolderSpec { name: "Bo".into(), email: Some("bo@".into()), phone: None },
        ],
        status: TicketStatus::Paid,
    };
    assert!(matches!(w.engine.issue_tickets(&request).await, Err(Error::Holders(h)) if h.path() == "holders[1].email"));
    assert!(matches!(
        w.engine.issue_tickets(&IssueRequest { status: TicketStatus::Inside, ..issue(&w.standard, 1) }).await,
        Err(Error::Ticket(_))
    ));
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, 0);
}

/// Conformance case.
pub async fn events_are_listed_by_filters_and_deleted_only_without_tickets(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let mut spec = w.event.spec();
    spec.title = "Salon du livre".into();
    spec.location = "Paris, Porte de Versailles".into();
    spec.starts_at += Duration::days(30);
    spec.ends_at += Duration::days(30);
    let later = w.engine.create_event(&spec).await.unwrap();
    let store = w.engine.store();
    let all = store.list_events(&EventFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id()).collect::<Vec<_>>(), [w.event.id(), later.id()]);
    let published =
        store.list_events(&EventFilter { status: Some(EventStatus::Published), ..Default::default() }).await.unwrap();
    assert_eq!(published.len(), 1);
    let in_paris =
        store.list_events(&EventFilter { location: Some("paris".into()), ..Default::default() }).await.unwrap();
    assert_eq!(in_paris[0].id(), later.id());
    let from = Some(w.event.starts_at() + Duration::days(1));
    assert_eq!(store.list_events(&EventFilter { starts_from: from, ..Default::default() }).await.unwrap().len(), 1);
    // An event ending exactly then is still listed; one ended before is not.
    let running = |at| EventFilter { ends_after: Some(at), ..Default::default() };
    let still = store.list_events(&running(w.event.ends_at())).await.unwrap();
    assert_eq!(still.iter().map(|e| e.id()).collect::<Vec<_>>(), [w.event.id(), later.id()]);
    let after_first = store.list_events(&running(w.event.ends_at() + Duration::seconds(1))).await.unwrap();
    assert_eq!(after_first.iter().map(|e| e.id()).collect::<Vec<_>>(), [later.id()]);
    assert_eq!(
        store.list_events(&EventFilter { limit: 1, offset: 1, ..Default::default() }).await.unwrap()[0].id(),
        later.id()
    );

    w.ticket(&w.standard, TicketStatus::Paid).await;
    assert!(matches!(store.delete_event(w.event.id()).await, Err(ticketing_core::store::StoreError::Conflict(_))));
    store.delete_event(later.id()).await.unwrap();
    assert!(store.event(later.id()).await.unwrap().is_none());
}

/// Conformance case: in a deliberately tiny code space (12 codes), only the colliding codes are
/// drawn again: batches issued now and a generation job fill the space to its last code, storage
/// names exactly the codes it holds, and a thirteenth ticket is refused as a conflict with
/// nothing written.
pub async fn only_colliding_short_codes_are_drawn_again(backend: &Backend) {
    use std::collections::BTreeSet;
    use ticketing_core::engine::GenerationRequest;
    use ticketing_core::short_code::ShortCode;

    let w = World::new(backend, Options { short_code_space: 12, ..Options::default() }).await;
    let every: Vec<ShortCode> = (0..12).filter_map(ShortCode::from_value).collect();
    let store = w.engine.store();
    assert!(store.taken_short_codes(&every).await.unwrap().is_empty());
    let first = w.engine.issue_tickets(&issue(&w.standard, 4)).await.unwrap();
    let first_codes: BTreeSet<ShortCode> = first.iter().map(|t| t.short_code()).collect();
    let taken: BTreeSet<ShortCode> = store.taken_short_codes(&every).await.unwrap().into_iter().collect();
    assert_eq!((first_codes.len(), &taken), (4, &first_codes), "storage names exactly its codes");
    w.engine.issue_tickets(&issue(&w.standard, 4)).await.unwrap();
    let request = GenerationRequest {
        ticket_type_id: w.vip.id(),
        count: 4,
        status: TicketStatus::Paid,
        priority: 0,
        holders: vec![],
        template: None,
        notify: false,
    };
    w.engine.start_generation(&request).await.unwrap();
    let run = w.engine.run_next_job("worker").await.unwrap().expect("the job ran");
    assert_eq!(run.made, 4, "{:?}", run.job);
    let taken: BTreeSet<ShortCode> = store.taken_short_codes(&every).await.unwrap().into_iter().collect();
    assert_eq!(taken.len(), 12, "the whole space is used, each code once");
    let full = w.engine.issue_tickets(&issue(&w.standard, 1)).await;
    assert!(matches!(full, Err(Error::Conflict(_))), "{full:?}");
    let allocation = store.allocation(w.standard.id()).await.unwrap();
    assert_eq!(allocation.type_live, 8, "nothing written by the refused issue: {allocation:?}");
}
