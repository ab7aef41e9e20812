//! The audit trail written with its changes: each change the engine makes with an entry pending
//! ([`Pending`]) commits with it or not at all. The failure is injected by the trail itself: an
//! entry whose id is taken is refused, as a unique key refuses it, so its change must go too.

use std::future::Future;

use chrono::Utc;
use ticketing_core::audit::{Actor, AuditEntry, Pending, Recorded};
use ticketing_core::engine::{LineRequest, RefundRequest, SaleRequest};
use ticketing_core::event::Event;
use ticketing_core::ids::{AuditId, UserId};
use ticketing_core::job::JobStatus;
use ticketing_core::order::{OrderStatus, PaymentMethod};
use ticketing_core::status::{TicketAction, TicketStatus};
use ticketing_core::ticket_type::TicketType;
use uuid::Uuid;

use super::selling::{place, succeeded};
use super::support::{Backend, Options, World};

/// An entry of `action` by the system, its id `n`.
fn entry(n: u128, action: &str) -> AuditEntry {
    AuditEntry {
        id: AuditId::from_uuid(Uuid::from_u128(n)),
        at: Utc::now(),
        actor: Actor::System,
        action: action.into(),
        target: "thing:?".into(),
        event_id: None,
        before: None,
        after: None,
    }
}

/// Makes `change` twice: first with an entry whose id the trail already holds (refused: the
/// change must fail and leave nothing, which `unchanged` checks), then with a fresh one (the
/// change and its entry are both kept). Returns the second result.
async fn refused_then_kept<T, F: Future<Output = Result<T, ticketing_core::engine::Error>>>(
    w: &World,
    n: u128,
    change: impl Fn() -> F,
    unchanged: impl AsyncFn(&World),
) -> T {
    let taken = entry(1, "taken");
    let (refused, recorded) =
        Pending::ready(AuditEntry { action: format!("refused-{n}"), ..taken }).record(change()).await;
    assert!(refused.is_err(), "change {n}: a refused entry fails its change");
    assert!(matches!(recorded, Recorded::Unwritten(_)), "change {n}");
    unchanged(w).await;
    let (kept, recorded) = Pending::ready(entry(n, &format!("kept-{n}"))).record(change()).await;
    let kept = kept.unwrap_or_else(|e| panic!("change {n}: {e}"));
    assert!(matches!(recorded, Recorded::Committed), "change {n}: {recorded:?}");
    let trail = w.engine.store().audit_entries(None, 1000).await.unwrap();
    assert_eq!(trail.iter().filter(|e| e.id == entry(n, "").id).count(), 1, "change {n}: its entry, once");
    assert!(!trail.iter().any(|e| e.action == format!("refused-{n}")), "change {n}: no refused entry");
    kept
}

async fn title(w: &World) -> String {
    w.engine.event(w.event.id()).await.unwrap().title().to_owned()
}

/// Conformance case.
pub async fn an_audit_entry_and_its_change_commit_or_roll_back_together(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    w.engine.store().append_audit(&entry(1, "taken")).await.unwrap();

    // A change in a write transaction of its own (the event's).
    let renamed = ticketing_core::event::EventSpec { title: "Renamed".into(), ..w.event.spec() };
    let unchanged = async |w: &World| assert_eq!(title(w).await, "Festival d'été");
    let event: Event = refused_then_kept(&w, 10, || w.engine.update_event(w.event.id(), &renamed), unchanged).await;
    assert_eq!((title(&w).await, event.title()), ("Renamed".to_owned(), "Renamed"));

    // A creation, its entry completed with what it writes.
    let spec = ticketing_core::ticket_type::TicketTypeSpec { name: "Balcony".into(), ..w.standard.spec() };
    let (created, recorded) =
        Pending::on_write(entry(1, "ticket_type.create"), |t: &TicketType, e: &mut AuditEntry| {
            e.target = format!("ticket_type:{}", t.id());
        })
        .record(w.engine.add_ticket_type(w.event.id(), &spec))
        .await;
    assert!(created.is_err() && matches!(recorded, Recorded::Unwritten(_)), "the refused entry took the type with it");
    assert_eq!(w.engine.store().ticket_types(w.event.id()).await.unwrap().len(), 2);
    let (created, _) = Pending::on_write(entry(20, "ticket_type.create"), |t: &TicketType, e: &mut AuditEntry| {
        e.target = format!("ticket_type:{}", t.id());
    })
    .record(w.engine.add_ticket_type(w.event.id(), &spec))
    .await;
    let created = created.unwrap();
    let trail = w.engine.store().audit_entries(None, 1000).await.unwrap();
    let written = trail.iter().find(|e| e.id == entry(20, "").id).expect("the creation's entry");
    assert_eq!(written.target, format!("ticket_type:{}", created.id()), "completed with the type it wrote");

    // A ticket's compare-and-set (tried again when it loses).
    let ticket = w.ticket(&w.standard, TicketStatus::Issued).await;
    let still_issued =
        async |w: &World| assert_eq!(w.engine.ticket(ticket.id()).await.unwrap().status(), TicketStatus::Issued);
    let invalid =
        refused_then_kept(&w, 30, || w.engine.change_ticket(ticket.id(), TicketAction::Invalidate), still_issued).await;
    assert_eq!(invalid.status(), TicketStatus::Invalid);

    // A one-statement write (a link), and a change only the store computes (a job's cancel).
    let job = w
        .engine
        .start_generation(&ticketing_core::engine::GenerationRequest {
            ticket_type_id: w.standard.id(),
            count: 2,
            status: TicketStatus::Issued,
            priority: 0,
            holders: vec![],
            template: None,
            notify: false,
        })
        .await
        .unwrap();
    let queued = async |w: &World| assert_eq!(w.engine.job(job.id).await.unwrap().status, JobStatus::Queued);
    let cancelled = refused_then_kept(&w, 40, || w.engine.cancel_job(job.id), queued).await;
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let other = w.ticket(&w.standard, TicketStatus::Issued).await;
    let links_before = w.engine.store().unrevoked_magic_links(w.event.id(), Some(other.id())).await.unwrap().len();
    let no_new_link = async |w: &World| {
        let links = w.engine.store().unrevoked_magic_links(w.event.id(), Some(other.id())).await.unwrap();
        assert_eq!(links.len(), links_before);
    };
    refused_then_kept(&w, 50, || w.engine.issue_magic_link(other.id(), None), no_new_link).await;

    // A purchase's steps, which carry their entry: a desk sale, a provider's payment, a refund.
    let sale = SaleRequest {
        event_id: w.event.id(),
        lines: vec![LineRequest { ticket_type_id: w.vip.id(), quantity: 2 }],
        method: PaymentMethod::Cash,
        buyer: None,
        cashier: UserId::from_uuid(Uuid::from_u128(77)),
    };
    let vip_live = async |w: &World| assert_eq!(w.engine.store().allocation(w.vip.id()).await.unwrap().type_live, 0);
    let sold = refused_then_kept(&w, 60, || w.engine.sell_at_desk(&sale), vip_live).await;
    assert_eq!(sold.order.status(), OrderStatus::Paid);
    // The receipt number, taken in the step, joins the entry's state after.
    let with_after = AuditEntry { after: Some(r#"{"status":"paid"}"#.into()), ..entry(61, "order.sell") };
    let (again, _) = Pending::ready(with_after).record(w.engine.sell_at_desk(&sale)).await;
    let receipt = again.unwrap().order.receipt().expect("a desk sale takes a receipt");
    let trail = w.engine.store().audit_entries(None, 1000).await.unwrap();
    let written = trail.iter().find(|e| e.id == entry(61, "").id).expect("the second sale's entry");
    let after: serde_json::Value = serde_json::from_str(written.after.as_deref().expect("after")).unwrap();
    assert_eq!(after, serde_json::json!({"receipt": receipt, "status": "paid"}));

    let pending = place(&w, &[(&w.standard, 1)]).await;
    let notice = succeeded("evt_trail", pending.order.id(), pending.order.total());
    let still_pending = async |w: &World| {
        assert_eq!(w.engine.order(pending.order.id()).await.unwrap().status(), OrderStatus::Pending);
        assert!(w.engine.store().deliveries(None, 100).await.unwrap().is_empty(), "the delivery went with it");
    };
    let delivered = refused_then_kept(&w, 70, || w.engine.apply_delivery("generic", &notice), still_pending).await;
    assert!(!delivered.repeat);
    assert_eq!(w.engine.order(pending.order.id()).await.unwrap().status(), OrderStatus::Paid);

    let request = RefundRequest {
        order_id: sold.order.id(),
        tickets: None,
        reason: None,
        staff: UserId::from_uuid(Uuid::from_u128(77)),
    };
    let not_refunded = async |w: &World| {
        assert_eq!(w.engine.order(sold.order.id()).await.unwrap().refunded_minor(), 0);
    };
    refused_then_kept(&w, 80, || w.engine.refund_order(&request), not_refunded).await;
    assert_eq!(w.engine.order(sold.order.id()).await.unwrap().refunded_minor(), sold.order.total().minor());

    // Outside any pending entry, a change writes none.
    let count = w.engine.store().audit_entries(None, 1000).await.unwrap().len();
    w.engine.set_event_status(w.event.id(), ticketing_core::event::EventStatus::Ended).await.unwrap();
    assert_eq!(w.engine.store().audit_entries(None, 1000).await.unwrap().len(), count);
}
