//! Selling: orders held, paid once through any number of deliveries, expired by the reaper and
//! sold again, desk sales with gap-free receipts; storms of buyers, deliveries and cashiers.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use ticketing_core::engine::{Error, LineRequest, OrderRequest, PlacedOrder, SaleRequest};
use ticketing_core::env::Clock as _;
use ticketing_core::event::EventStatus;
use ticketing_core::ids::{OrderId, UserId};
use ticketing_core::job::{JobStatus, JobTask, NotificationTopic};
use ticketing_core::money::{Currency, Money};
use ticketing_core::order::{BuyerSpec, Locale, OrderError, OrderStatus, PaymentMethod, SaleChannel};
use ticketing_core::payment::{DeliveryOutcome, NoticeKind, PaymentNotice};
use ticketing_core::quota::QuotaError;
use ticketing_core::status::TicketStatus;
use ticketing_core::store::{JobFilter, OrderFilter};
use ticketing_core::ticket_type::TicketType;

use super::support::{Backend, Options, World};

fn buyer() -> BuyerSpec {
    BuyerSpec { name: "Zoé Lefèvre".into(), email: "zoe@example.org".into(), phone: None, locale: Locale::Fr }
}

fn order_of(w: &World, lines: &[(&TicketType, u32)]) -> OrderRequest {
    OrderRequest {
        event_id: w.event.id(),
        lines: lines.iter().map(|(t, quantity)| LineRequest { ticket_type_id: t.id(), quantity: *quantity }).collect(),
        buyer: buyer(),
        idempotency_key: None,
    }
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap()).unwrap()
}

pub(super) fn succeeded(id: &str, order: OrderId, amount: Money) -> PaymentNotice {
    PaymentNotice {
        event_id: id.into(),
        event_type: "payment.succeeded".into(),
        kind: NoticeKind::Succeeded,
        order_id: Some(order),
        amount: Some(amount),
        reference: Some(format!("ref-{id}")),
    }
}

fn statuses(placed: &[ticketing_core::ticket::Ticket]) -> Vec<TicketStatus> {
    placed.iter().map(|t| t.status()).collect()
}

async fn jobs_of(w: &World, kind: &str) -> Vec<ticketing_core::job::Job> {
    let jobs = w.engine.store().jobs(&JobFilter { event_id: Some(w.event.id()), ..Default::default() }).await.unwrap();
    jobs.into_iter().filter(|j| j.kind() == kind).collect()
}

pub(super) async fn place(w: &World, lines: &[(&TicketType, u32)]) -> PlacedOrder {
    w.engine.place_order(&order_of(w, lines)).await.unwrap()
}

/// Conformance case.
pub async fn an_order_holds_its_tickets_then_a_delivery_pays_them_once(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let placed = place(&w, &[(&w.standard, 2), (&w.vip, 1)]).await;
    let order = &placed.order;
    assert_eq!(
        (order.status(), order.total(), order.channel()),
        (OrderStatus::Pending, eur(13_500), SaleChannel::Online)
    );
    assert_eq!(order.hold_expires_at(), w.clock.now() + Duration::minutes(15));
    assert_eq!(
        statuses(&placed.tickets.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>()),
        vec![TicketStatus::Reserved; 3]
    );
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, 2);
    let expiry = jobs_of(&w, JobTask::EXPIRE_ORDER).await;
    assert_eq!(expiry.len(), 1, "the hold's end is queued with the order");
    assert_eq!(expiry[0].run_at, order.hold_expires_at());

    let found = w.engine.order_by_token(&placed.token).await.unwrap();
    assert_eq!((found.order.id(), found.tickets.len()), (order.id(), 3), "the buyer's token finds the order");
    let wrong = ticketing_core::magic_link::parse_token(&"A".repeat(32)).unwrap();
    assert!(matches!(w.engine.order_by_token(&wrong).await, Err(Error::NotFound("order"))));

    let notice = succeeded("evt_1", order.id(), order.total());
    let first = w.engine.apply_notice("generic", &notice).await.unwrap();
    assert_eq!((first.outcome, first.ticketing_event_id), (DeliveryOutcome::Paid, Some(w.event.id())));
    let paid = w.engine.order(order.id()).await.unwrap();
    assert_eq!(paid.status(), OrderStatus::Paid);
    let payment = paid.payment().unwrap();
    assert_eq!((payment.method, payment.reference.as_deref()), (PaymentMethod::Provider, Some("ref-evt_1")));
    let tickets = w.engine.store().order_tickets(order.id()).await.unwrap();
    assert_eq!(statuses(&tickets), vec![TicketStatus::Paid; 3]);
    assert!(tickets.iter().all(|t| t.version() == 1), "each ticket changed once");
    let notes = jobs_of(&w, JobTask::NOTIFY).await;
    assert_eq!(notes.len(), 1, "one payment_succeeded notification, queued with the payment");
    assert!(
        matches!(&notes[0].task, JobTask::Notify(n) if n.topic == NotificationTopic::PaymentSucceeded && n.order_id == Some(order.id()))
    );

    let again = w.engine.apply_notice("generic", &notice).await.unwrap();
    assert_eq!(again, first, "a repeated delivery finds the first record");
    let same_payment =
        PaymentNotice { reference: Some("ref-evt_1".into()), ..succeeded("evt_2", order.id(), order.total()) };
    let other = w.engine.apply_notice("generic", &same_payment).await.unwrap();
    assert_eq!(other.outcome, DeliveryOutcome::Unchanged, "another event of the same payment changes nothing");
    assert_eq!(jobs_of(&w, JobTask::NOTIFY).await.len(), 1);
    assert_eq!(statuses(&w.engine.store().order_tickets(order.id()).await.unwrap()), vec![TicketStatus::Paid; 3]);
    let listed = w.engine.store().deliveries(Some(w.event.id()), 0).await.unwrap();
    assert_eq!(listed.iter().map(|d| d.event_id.as_str()).collect::<Vec<_>>(), ["evt_2", "evt_1"]);
    let expired = w
        .engine
        .apply_notice(
            "stripe",
            &PaymentNotice { kind: NoticeKind::Expired, ..succeeded("cs_x", order.id(), order.total()) },
        )
        .await
        .unwrap();
    assert_eq!(expired.outcome, DeliveryOutcome::Unchanged, "an expiry after the success changes nothing");
    assert_eq!(w.engine.order(order.id()).await.unwrap().status(), OrderStatus::Paid);
}

/// Conformance case.
pub async fn a_payment_that_is_not_the_orders_amount_leaves_it_unpaid(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let placed = place(&w, &[(&w.standard, 1)]).await;
    let id = placed.order.id();
    for (event, amount) in [("short", eur(100)), ("usd", Money::new(4500, Currency::parse("USD").unwrap()).unwrap())] {
        let delivery = w.engine.apply_notice("generic", &succeeded(event, id, amount)).await.unwrap();
        assert_eq!(delivery.outcome, DeliveryOutcome::PaymentMismatch);
    }
    assert_eq!(w.engine.order(id).await.unwrap().status(), OrderStatus::Pending);
    let alerts = jobs_of(&w, JobTask::NOTIFY).await;
    assert_eq!(alerts.len(), 2);
    assert!(alerts.iter().all(|j| matches!(&j.task, JobTask::Notify(n) if n.topic == NotificationTopic::PaymentAlert)));
    let unknown = succeeded("lost", OrderId::from_uuid(uuid::Uuid::from_u128(9)), eur(1));
    assert_eq!(w.engine.apply_notice("generic", &unknown).await.unwrap().outcome, DeliveryOutcome::UnknownOrder);
    assert_eq!(w.engine.apply_notice("generic", &unknown).await.unwrap().outcome, DeliveryOutcome::UnknownOrder);
    assert_eq!(w.engine.store().deliveries(None, 0).await.unwrap().len(), 3, "every delivery kept once");
}

/// Conformance case.
pub async fn holds_expire_and_their_places_sell_again_and_late_payments_are_kept(backend: &Backend) {
    let w = World::new(backend, Options { quota: 3, ..Options::default() }).await;
    let first = place(&w, &[(&w.standard, 2)]).await;
    let second = place(&w, &[(&w.standard, 1)]).await;
    let sold_out = w.engine.place_order(&order_of(&w, &[(&w.standard, 1)])).await;
    assert!(matches!(sold_out, Err(Error::Quota(QuotaError::TypeQuota { .. }))), "{sold_out:?}");

    assert!(w.engine.run_next_job("reaper").await.unwrap().is_none(), "nothing is due before the hold's end");
    w.clock.advance(Duration::minutes(15));
    for _ in 0..2 {
        let run = w.engine.run_next_job("reaper").await.unwrap().unwrap();
        assert_eq!((run.job.kind(), run.job.status), (JobTask::EXPIRE_ORDER, JobStatus::Succeeded));
    }
    for placed in [&first, &second] {
        assert_eq!(w.engine.order(placed.order.id()).await.unwrap().status(), OrderStatus::Expired);
        let tickets = w.engine.store().order_tickets(placed.order.id()).await.unwrap();
        assert!(tickets.iter().all(|t| t.status() == TicketStatus::Invalid));
    }
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, 0, "places freed");

    let again = place(&w, &[(&w.standard, 2)]).await;
    assert_eq!(again.order.status(), OrderStatus::Pending, "the places sell again");
    // One place is left: the late payment of the two-ticket order cannot take its places back.
    let late =
        w.engine.apply_notice("generic", &succeeded("late-1", first.order.id(), first.order.total())).await.unwrap();
    assert_eq!(late.outcome, DeliveryOutcome::PaidUnfulfilled);
    assert_eq!(w.engine.order(first.order.id()).await.unwrap().status(), OrderStatus::PaidUnfulfilled);
    let alert = jobs_of(&w, JobTask::NOTIFY).await;
    assert!(alert.iter().any(|j| matches!(&j.task, JobTask::Notify(n) if n.topic == NotificationTopic::PaymentAlert && n.order_id == Some(first.order.id()))));
    // The one-ticket order's place is free: its late payment takes it with a fresh ticket.
    let retaken =
        w.engine.apply_notice("generic", &succeeded("late-2", second.order.id(), second.order.total())).await.unwrap();
    assert_eq!(retaken.outcome, DeliveryOutcome::PaidLate);
    assert_eq!(w.engine.order(second.order.id()).await.unwrap().status(), OrderStatus::Paid);
    let tickets = w.engine.store().order_tickets(second.order.id()).await.unwrap();
    assert_eq!(statuses(&tickets), vec![TicketStatus::Invalid, TicketStatus::Paid]);
    let placed = w.engine.order_by_token(&second.token).await.unwrap();
    assert!(placed.tickets.iter().any(|(t, _)| t.status() == TicketStatus::Paid), "the new ticket has its link");
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, 3);
    // A paid order's reaper job (queued when it was placed) changes nothing.
    w.clock.advance(Duration::minutes(15));
    while w.engine.run_next_job("reaper").await.unwrap().is_some() {}
    assert_eq!(w.engine.order(second.order.id()).await.unwrap().status(), OrderStatus::Paid);
    assert_eq!(w.engine.order(again.order.id()).await.unwrap().status(), OrderStatus::Expired);
}

/// Conformance case.
pub async fn placements_are_checked_and_an_idempotency_key_returns_the_same_order(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let key = Some("retry-7-0193a1b2-7d2a-4b1e".to_owned());
    let keyed = OrderRequest { idempotency_key: key.clone(), ..order_of(&w, &[(&w.standard, 2)]) };
    let first = w.engine.place_order(&keyed).await.unwrap();
    let second = w.engine.place_order(&keyed).await.unwrap();
    assert!(!first.replayed && second.replayed);
    assert_eq!((second.order.id(), second.token.as_text()), (first.order.id(), first.token.as_text()));
    assert_eq!(second.tickets.len(), 2, "with its tickets' links");
    assert_eq!(
        w.engine
            .store()
            .orders(&OrderFilter { event_id: Some(w.event.id()), ..Default::default() })
            .await
            .unwrap()
            .len(),
        1
    );
    let other = OrderRequest { idempotency_key: key.clone(), ..order_of(&w, &[(&w.standard, 3)]) };
    assert!(matches!(w.engine.place_order(&other).await, Err(Error::Conflict(_))), "a key names one order");
    let someone = OrderRequest {
        idempotency_key: key.clone(),
        buyer: BuyerSpec { name: "Mallory".into(), email: "mallory@example.org".into(), ..buyer() },
        ..order_of(&w, &[(&w.standard, 2)])
    };
    assert!(
        matches!(w.engine.place_order(&someone).await, Err(Error::Conflict(_))),
        "a key with another buyer shows nothing of the order"
    );
    let short = OrderRequest { idempotency_key: Some("retry-7".into()), ..order_of(&w, &[(&w.standard, 1)]) };
    assert!(matches!(w.engine.place_order(&short).await, Err(Error::Invalid(_))), "a guessable key is refused");

    let cases: Vec<(OrderRequest, &str)> = vec![
        (order_of(&w, &[(&w.standard, 6), (&w.vip, 5)]), "too many"),
        (order_of(&w, &[]), "no lines"),
        (order_of(&w, &[(&w.standard, 0)]), "zero"),
        (
            OrderRequest { buyer: BuyerSpec { email: "nope".into(), ..buyer() }, ..order_of(&w, &[(&w.standard, 1)]) },
            "email",
        ),
    ];
    for (request, what) in cases {
        assert!(matches!(w.engine.place_order(&request).await, Err(Error::Order(_))), "{what}");
    }
    let mut foreign = order_of(&w, &[(&w.standard, 1)]);
    foreign.lines[0].ticket_type_id = ticketing_core::ids::TicketTypeId::from_uuid(uuid::Uuid::from_u128(5));
    assert!(matches!(w.engine.place_order(&foreign).await, Err(Error::Order(OrderError::UnknownType(0)))));
    // An event read by the caller places at that event only.
    let elsewhere = w.engine.create_event(&w.event.spec()).await.unwrap();
    let mismatched = w.engine.place_order_at(&elsewhere, &order_of(&w, &[(&w.standard, 1)])).await;
    assert!(matches!(mismatched, Err(Error::Invalid(_))), "{mismatched:?}");
    w.engine.set_event_status(w.event.id(), EventStatus::Cancelled).await.unwrap();
    let closed = w.engine.place_order(&order_of(&w, &[(&w.standard, 1)])).await;
    assert!(matches!(closed, Err(Error::EventClosed(EventStatus::Cancelled))), "{closed:?}");
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, 2, "nothing else was held");
}

/// Conformance case: an organiser renaming a type (and changing its quota) while it sells waits
/// for the sales or they wait for it, never both (Postgres would end a deadlock by failing one).
pub async fn a_type_edited_while_it_sells_sells_on(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options::default()).await);
    let sales: Vec<_> = (0..40)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move { w.engine.place_order(&order_of(&w, &[(&w.standard, 1)])).await })
        })
        .collect();
    for round in 0..10_u32 {
        let spec = ticketing_core::ticket_type::TicketTypeSpec {
            name: format!("Standard {round}"),
            quota: w.standard.quota() + round,
            ..w.standard.spec()
        };
        w.engine.update_ticket_type(w.standard.id(), &spec).await.unwrap();
    }
    for sale in sales {
        sale.await.unwrap().unwrap();
    }
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, 40);
}

/// Conformance case: a type deleted during its first sales is deleted, or refused because it
/// sold; neither waits on the other in turn (Postgres would end a deadlock by failing one).
pub async fn a_type_deleted_during_its_first_sales_never_deadlocks(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options::default()).await);
    for round in 0..5 {
        let spec = ticketing_core::ticket_type::TicketTypeSpec { name: format!("Late {round}"), ..w.standard.spec() };
        let fresh = w.engine.add_ticket_type(w.event.id(), &spec).await.unwrap();
        let sales: Vec<_> = (0..10)
            .map(|_| {
                let (w, fresh) = (w.clone(), fresh.clone());
                tokio::spawn(async move { w.engine.place_order(&order_of(&w, &[(&fresh, 1)])).await })
            })
            .collect();
        let deleted = w.engine.delete_ticket_type(fresh.id()).await;
        let mut sold = 0;
        for sale in sales {
            match sale.await.unwrap() {
                Ok(_) => sold += 1,
                Err(Error::Store(ticketing_core::store::StoreError::Unavailable(e))) => panic!("a sale failed: {e}"),
                Err(_) => {}
            }
        }
        match deleted {
            Ok(()) => assert_eq!(sold, 0, "a type deleted sold nothing"),
            Err(Error::Conflict(_)) => assert!(sold > 0, "a type refused deletion had sold"),
            Err(other) => panic!("the delete failed: {other}"),
        }
    }
}

/// Conformance case.
pub async fn two_thousand_buyers_for_a_hundred_places(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options { quota: 100, ..Options::default() }).await);
    let tasks: Vec<_> = (0..2000)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move { w.engine.place_order(&order_of(&w, &[(&w.standard, 1)])).await })
        })
        .collect();
    let (mut placed, mut sold_out) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => placed += 1,
            Err(Error::Quota(_)) => sold_out += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!((placed, sold_out), (100, 1900));
    let orders =
        w.engine.store().orders(&OrderFilter { event_id: Some(w.event.id()), ..Default::default() }).await.unwrap();
    assert_eq!(orders.len(), 100, "no order without its places");
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, 100);
}

/// Conformance case.
pub async fn twenty_deliveries_of_one_webhook_at_once_pay_once(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options::default()).await);
    let placed = place(&w, &[(&w.standard, 2)]).await;
    let notice = succeeded("evt_storm", placed.order.id(), placed.order.total());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (w, notice) = (w.clone(), notice.clone());
            tokio::spawn(async move { w.engine.apply_notice("stripe", &notice).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().outcome);
    }
    assert!(outcomes.iter().all(|o| *o == DeliveryOutcome::Paid), "every answer is the first record: {outcomes:?}");
    let tickets = w.engine.store().order_tickets(placed.order.id()).await.unwrap();
    assert!(tickets.iter().all(|t| t.status() == TicketStatus::Paid && t.version() == 1), "each ticket paid once");
    assert_eq!(jobs_of(&w, JobTask::NOTIFY).await.len(), 1, "one notification");
    assert_eq!(w.engine.store().deliveries(None, 0).await.unwrap().len(), 1, "one record");
}

/// Conformance case.
pub async fn thirty_orders_paid_at_once_are_each_paid_once(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options { quota: 60, ..Options::default() }).await);
    let mut placed = Vec::new();
    for _ in 0..30 {
        placed.push(place(&w, &[(&w.standard, 1)]).await);
    }
    // Each order's payment delivered twice, all sixty at once: payments of several orders go
    // together where a backend writes them so, with repeats among them.
    let tasks: Vec<_> = placed
        .iter()
        .flat_map(|p| [p, p])
        .enumerate()
        .map(|(i, p)| {
            let w = w.clone();
            let notice = succeeded(&format!("evt_{}", i / 2), p.order.id(), p.order.total());
            tokio::spawn(async move { w.engine.apply_notice("stripe", &notice).await.unwrap().outcome })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), DeliveryOutcome::Paid, "every answer is the first record");
    }
    for p in &placed {
        let order = w.engine.store().order(p.order.id()).await.unwrap().unwrap();
        assert_eq!(order.status(), OrderStatus::Paid);
        let tickets = w.engine.store().order_tickets(p.order.id()).await.unwrap();
        assert!(tickets.iter().all(|t| t.status() == TicketStatus::Paid && t.version() == 1), "paid once");
    }
    assert_eq!(jobs_of(&w, JobTask::NOTIFY).await.len(), 30, "one notification an order");
    assert_eq!(w.engine.store().deliveries(None, 0).await.unwrap().len(), 30, "one record a delivery");
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, 30);
}

/// Conformance case.
pub async fn fifty_desk_sales_at_once_take_gap_free_receipts(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options { quota: 60, ..Options::default() }).await);
    let cashier = UserId::from_uuid(uuid::Uuid::from_u128(77));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move {
                let sale = SaleRequest {
                    event_id: w.event.id(),
                    lines: vec![LineRequest { ticket_type_id: w.standard.id(), quantity: 1 + (i % 2) }],
                    method: if i % 3 == 0 { PaymentMethod::Card } else { PaymentMethod::Cash },
                    buyer: None,
                    cashier,
                };
                w.engine.sell_at_desk(&sale).await
            })
        })
        .collect();
    let mut receipts = Vec::new();
    let (mut sold, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(sale) => {
                assert_eq!(sale.order.status(), OrderStatus::Paid);
                assert!(sale.tickets.iter().all(|(t, _)| t.status() == TicketStatus::Paid));
                sold += sale.tickets.len();
                receipts.push(sale.order.receipt().unwrap());
            }
            Err(Error::Quota(_)) => refused += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    receipts.sort_unstable();
    assert_eq!(receipts, (1..=receipts.len() as u64).collect::<Vec<_>>(), "gap-free: a refused sale took no number");
    assert!((59..=60).contains(&sold) && refused > 0, "the quota filled: {sold} sold, {refused} refused");
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live as usize, sold, "no oversell");
    let unique: HashSet<_> = receipts.iter().collect();
    assert_eq!(unique.len(), receipts.len());
    let bad = SaleRequest {
        event_id: w.event.id(),
        lines: vec![LineRequest { ticket_type_id: w.vip.id(), quantity: 1 }],
        method: PaymentMethod::Provider,
        buyer: None,
        cashier,
    };
    assert!(matches!(w.engine.sell_at_desk(&bad).await, Err(Error::Invalid(_))), "a desk sale is cash, card or other");
}

/// Conformance case.
pub async fn staff_mark_a_pending_order_paid(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let placed = place(&w, &[(&w.vip, 2)]).await;
    let staff = UserId::from_uuid(uuid::Uuid::from_u128(78));
    let (order, outcome) = w
        .engine
        .mark_paid(placed.order.id(), PaymentMethod::Transfer, staff, Some("VIR-2027-001".into()))
        .await
        .unwrap();
    assert_eq!((order.status(), outcome), (OrderStatus::Paid, DeliveryOutcome::Paid));
    assert_eq!(order.payment().unwrap().staff, Some(staff));
    let again = w.engine.mark_paid(placed.order.id(), PaymentMethod::Cash, staff, None).await;
    assert!(matches!(again, Err(Error::OrderTransition(_))), "paid already: {again:?}");
    assert_eq!(w.engine.order(placed.order.id()).await.unwrap().payment().unwrap().method, PaymentMethod::Transfer);
    assert_eq!(
        statuses(&w.engine.store().order_tickets(placed.order.id()).await.unwrap()),
        vec![TicketStatus::Paid; 2]
    );
}

/// Conformance case.
pub async fn revenue_follows_the_money(backend: &Backend) {
    use ticketing_core::stats::Dashboard;
    let w = World::new(backend, Options::default()).await;
    let cashier = UserId::from_uuid(uuid::Uuid::from_u128(79));
    let desk = SaleRequest {
        event_id: w.event.id(),
        lines: vec![LineRequest { ticket_type_id: w.standard.id(), quantity: 2 }],
        method: PaymentMethod::Cash,
        buyer: None,
        cashier,
    };
    w.engine.sell_at_desk(&desk).await.unwrap();
    let online = place(&w, &[(&w.standard, 2), (&w.vip, 1)]).await;
    w.engine.apply_notice("generic", &succeeded("rev", online.order.id(), online.order.total())).await.unwrap();
    let unpaid = place(&w, &[(&w.vip, 3)]).await;
    // The price changes after the sales: revenue keeps what the tickets were sold for.
    let dearer = ticketing_core::ticket_type::TicketTypeSpec { price_minor: 9_999, ..w.standard.spec() };
    w.engine.update_ticket_type(w.standard.id(), &dearer).await.unwrap();
    let sold = w.engine.store().order_tickets(online.order.id()).await.unwrap();
    let refunded = sold.iter().find(|t| t.ticket_type_id() == w.standard.id()).unwrap();
    let sold_refund = w.engine.change_ticket(refunded.id(), ticketing_core::status::TicketAction::Refund).await;
    assert!(matches!(sold_refund, Err(Error::Conflict(_))), "a sold ticket's refund goes through its order");
    let request = ticketing_core::engine::RefundRequest {
        order_id: online.order.id(),
        tickets: Some(vec![refunded.id()]),
        reason: None,
        staff: cashier,
    };
    w.engine.refund_order(&request).await.unwrap();
    w.ticket(&w.vip, TicketStatus::Paid).await;

    let bucket = Duration::minutes(15);
    let counts = w.engine.store().event_counts(w.event.id(), bucket).await.unwrap();
    let types = w.engine.store().ticket_types(w.event.id()).await.unwrap();
    let d = Dashboard::new(w.event.capacity(), &types, &counts, bucket);
    // Desk: 2 × 45.00; online: 2 standard + 1 VIP at 45.00, one standard refunded; the unpaid
    // order's held tickets and the staff-issued VIP are not revenue.
    assert_eq!(d.revenue_minor["EUR"], 4 * 4500);
    assert_eq!(d.revenue_by_channel["box_office"]["EUR"], 2 * 4500);
    assert_eq!(d.revenue_by_channel["online"]["EUR"], 2 * 4500);
    let standard = d.types.iter().find(|t| t.ticket_type_id == w.standard.id()).unwrap();
    let vip = d.types.iter().find(|t| t.ticket_type_id == w.vip.id()).unwrap();
    assert_eq!((standard.sold, standard.revenue_minor), (3, 3 * 4500));
    assert_eq!((vip.sold, vip.revenue_minor, vip.by_status["reserved"]), (2, 4500, 3));
    assert_eq!(unpaid.order.status(), OrderStatus::Pending);
}

/// Conformance case.
pub async fn a_payment_racing_the_end_of_its_hold_is_never_lost(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options { quota: 50, ..Options::default() }).await);
    let mut orders = Vec::new();
    for _ in 0..10 {
        orders.push(place(&w, &[(&w.standard, 2)]).await);
    }
    w.clock.advance(Duration::minutes(15));
    let mut tasks = Vec::new();
    for (i, placed) in orders.iter().enumerate() {
        let (w1, w2, id, total) = (w.clone(), w.clone(), placed.order.id(), placed.order.total());
        tasks.push(tokio::spawn(async move { w1.engine.expire_order(id, false).await.map(|_| ()) }));
        tasks.push(tokio::spawn(async move {
            w2.engine.apply_notice("generic", &succeeded(&format!("race-{i}"), id, total)).await.map(|_| ())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for placed in &orders {
        let order = w.engine.order(placed.order.id()).await.unwrap();
        assert_eq!(order.status(), OrderStatus::Paid, "paid first, or expired then paid again: never lost");
        let tickets = w.engine.store().order_tickets(order.id()).await.unwrap();
        assert_eq!(tickets.iter().filter(|t| t.status() == TicketStatus::Paid).count(), 2, "two tickets, paid once");
        assert!(tickets.iter().filter(|t| t.status() == TicketStatus::Paid).all(|t| t.holder().is_some()));
    }
    let live: u32 = 10 * 2;
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, live, "counters match rows");
}

/// Conformance case.
pub async fn a_second_payment_and_a_provider_s_expiry_are_recorded_once_with_what_they_did(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let placed = place(&w, &[(&w.standard, 1)]).await;
    let id = placed.order.id();
    w.engine.apply_notice("stripe", &succeeded("cs_1", id, placed.order.total())).await.unwrap();
    let twice = w.engine.apply_notice("stripe", &succeeded("cs_2", id, placed.order.total())).await.unwrap();
    assert_eq!(twice.outcome, DeliveryOutcome::PaidTwice, "another payment of a paid order: money taken twice");
    let alerts = jobs_of(&w, JobTask::NOTIFY).await;
    assert!(alerts.iter().any(|j| matches!(&j.task, JobTask::Notify(n) if n.topic == NotificationTopic::PaymentAlert)));
    let staff = UserId::from_uuid(uuid::Uuid::from_u128(80));
    assert!(
        matches!(w.engine.mark_paid(id, PaymentMethod::Cash, staff, None).await, Err(Error::OrderTransition(_))),
        "staff are told the order is paid"
    );
    let no_amount =
        PaymentNotice { amount: None, ..succeeded("cs_3", place(&w, &[(&w.vip, 1)]).await.order.id(), eur(0)) };
    assert_eq!(w.engine.apply_notice("stripe", &no_amount).await.unwrap().outcome, DeliveryOutcome::PaymentMismatch);

    let pending = place(&w, &[(&w.vip, 2)]).await;
    let expiry =
        PaymentNotice { kind: NoticeKind::Expired, ..succeeded("cs_exp", pending.order.id(), pending.order.total()) };
    let first = w.engine.apply_notice("stripe", &expiry).await.unwrap();
    assert_eq!(first.outcome, DeliveryOutcome::Expired);
    assert_eq!(w.engine.apply_notice("stripe", &expiry).await.unwrap(), first, "recorded once, with the expiry");
    let after = w.engine.order_by_token(&pending.token).await.unwrap();
    assert_eq!(after.order.status(), OrderStatus::Expired);
    assert!(after.tickets.is_empty(), "the released tickets' links were revoked with them");
}

/// A provider's refund API as a test plays it: answers from a script, and counts the calls.
struct ScriptedGateway {
    answers: std::sync::Mutex<Vec<Result<String, ticketing_core::refund::GatewayError>>>,
    keys: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl ticketing_core::refund::RefundGateway for ScriptedGateway {
    async fn refund(
        &self,
        refund: &ticketing_core::refund::Refund,
    ) -> Result<String, ticketing_core::refund::GatewayError> {
        self.keys.lock().unwrap().push(refund.idempotency_key());
        self.answers.lock().unwrap().remove(0)
    }
}

/// Conformance case.
pub async fn refunds_free_places_record_the_money_and_ask_the_provider(backend: &Backend) {
    use ticketing_core::engine::RefundRequest;
    use ticketing_core::refund::{GatewayError, RefundStatus};
    let w = World::new(backend, Options::default()).await;
    let staff = UserId::from_uuid(uuid::Uuid::from_u128(81));
    let placed = place(&w, &[(&w.standard, 2), (&w.vip, 1)]).await;
    let id = placed.order.id();
    w.engine.apply_notice("stripe", &succeeded("pay", id, placed.order.total())).await.unwrap();
    let tickets = w.engine.store().order_tickets(id).await.unwrap();
    let (one, two) = (tickets[0].clone(), tickets[1].clone());
    let live_before = w.engine.store().allocation(one.ticket_type_id()).await.unwrap().type_live;

    let request = |tickets: Option<Vec<ticketing_core::ids::TicketId>>| RefundRequest {
        order_id: id,
        tickets,
        reason: Some("cannot come".into()),
        staff,
    };
    let read_before = w.engine.order(id).await.unwrap();
    let refund = w.engine.refund_order(&request(Some(vec![one.id()]))).await.unwrap();
    // A change decided on the order as it was before the refund does not undo the refund.
    let late = ticketing_core::store::OrderChange {
        order: &read_before,
        expected: read_before.status(),
        reserved_action: None,
        at: w.clock.now(),
        batches: &[],
        jobs: &[],
        delivery: None,
        audit: None,
    };
    assert_eq!(w.engine.store().change_order(&late).await.unwrap(), ticketing_core::store::ChangeOutcome::Stale);
    assert_eq!(w.engine.order(id).await.unwrap().refunded_minor(), 4500, "the refund stands");
    assert_eq!(
        (refund.amount, refund.status, refund.provider.as_deref()),
        (eur(4500), RefundStatus::Requested, Some("stripe"))
    );
    assert_eq!(w.engine.ticket(one.id()).await.unwrap().status(), TicketStatus::Refunded);
    assert_eq!(
        w.engine.store().allocation(one.ticket_type_id()).await.unwrap().type_live,
        live_before - 1,
        "its place freed"
    );
    assert!(
        w.engine.store().unrevoked_magic_links(w.event.id(), Some(one.id())).await.unwrap().is_empty(),
        "its link revoked"
    );
    assert_eq!(jobs_of(&w, JobTask::REFUND_PAYMENT).await.len(), 1, "the provider is asked by a job");
    let again = w.engine.refund_order(&request(Some(vec![one.id()]))).await;
    assert!(matches!(again, Err(Error::Transition(_))), "a refunded ticket is not refunded twice: {again:?}");
    assert_eq!(w.pass(&two, ticketing_core::scan::Direction::In).await.reason(), ticketing_core::scan::ScanReason::Ok);
    let inside = w.engine.refund_order(&request(Some(vec![two.id()]))).await;
    assert!(matches!(inside, Err(Error::Transition(_))), "not while inside: {inside:?}");
    let stranger = w.ticket(&w.standard, TicketStatus::Paid).await;
    assert!(matches!(w.engine.refund_order(&request(Some(vec![stranger.id()]))).await, Err(Error::NotFound("ticket"))));

    // The job: the provider fails once (retried), then pays it back; the key is the same.
    let gateway = Arc::new(ScriptedGateway {
        answers: std::sync::Mutex::new(vec![Err(GatewayError::Retry("503".into())), Ok("re_1".into())]),
        keys: std::sync::Mutex::new(Vec::new()),
    });
    let engine = w.engine.clone().with_refund_gateway(gateway.clone());
    let run = engine.run_next_job("refunds").await.unwrap().unwrap();
    assert_eq!(
        (run.job.kind(), run.job.status),
        (JobTask::REFUND_PAYMENT, ticketing_core::job::JobStatus::Queued),
        "retried"
    );
    w.clock.advance(Duration::minutes(1));
    let run = engine.run_next_job("refunds").await.unwrap().unwrap();
    assert_eq!(run.job.status, ticketing_core::job::JobStatus::Succeeded);
    let stored = &w.engine.refunds(id).await.unwrap()[0];
    assert_eq!((stored.status, stored.provider_refund_id.as_deref()), (RefundStatus::Done, Some("re_1")));
    let keys = gateway.keys.lock().unwrap().clone();
    assert_eq!(keys, vec![refund.idempotency_key(); 2], "one idempotency key for every try");

    // A refund of another payment (a second one, refunded at the provider): an alert, no ticket.
    let other = PaymentNotice {
        kind: NoticeKind::Refunded,
        amount: Some(placed.order.total()),
        reference: Some("pi_second".into()),
        ..succeeded("ch_other", id, placed.order.total())
    };
    assert_eq!(w.engine.apply_notice("stripe", &other).await.unwrap().outcome, DeliveryOutcome::Refunded);
    assert_eq!(w.engine.refunds(id).await.unwrap().len(), 1, "nothing of this order refunded for it");
    assert_eq!(w.engine.ticket(two.id()).await.unwrap().status(), TicketStatus::Inside);
    // Stripe reports the refund we asked for: nothing changes.
    let reported = PaymentNotice {
        kind: NoticeKind::Refunded,
        amount: Some(eur(4500)),
        reference: Some("ref-pay".into()),
        ..succeeded("ch_refunded_1", id, eur(4500))
    };
    assert_eq!(w.engine.apply_notice("stripe", &reported).await.unwrap().outcome, DeliveryOutcome::Refunded);
    assert_eq!(w.engine.refunds(id).await.unwrap().len(), 1, "no second refund");
    // The rest refunded at the provider (the whole amount): the remaining refundable ticket goes.
    let full = PaymentNotice { amount: Some(placed.order.total()), ..reported.clone() };
    let full = PaymentNotice { event_id: "ch_refunded_2".into(), ..full };
    assert_eq!(w.engine.apply_notice("stripe", &full).await.unwrap().outcome, DeliveryOutcome::Refunded);
    let refunds = w.engine.refunds(id).await.unwrap();
    assert_eq!(refunds.len(), 2);
    assert_eq!((refunds[1].status, refunds[1].staff, refunds[1].tickets.len()), (RefundStatus::Done, None, 1));
    assert_eq!(
        w.engine.order(id).await.unwrap().refunded_minor(),
        placed.order.total().minor(),
        "all the money is back"
    );
    assert_eq!(w.engine.ticket(two.id()).await.unwrap().status(), TicketStatus::Inside, "the one inside stays inside");
    let code = two.short_code().to_string();
    let alerts = jobs_of(&w, JobTask::NOTIFY).await;
    assert!(
        alerts
            .iter()
            .any(|j| matches!(&j.task, JobTask::Notify(n) if n.detail.as_deref().is_some_and(|d| d.contains(&code)))),
        "staff are told which ticket was refunded at the provider while inside"
    );

    // A desk sale refunded at the desk: nothing to ask anyone.
    let desk = SaleRequest {
        event_id: w.event.id(),
        lines: vec![LineRequest { ticket_type_id: w.vip.id(), quantity: 1 }],
        method: PaymentMethod::Cash,
        buyer: None,
        cashier: staff,
    };
    let sold = w.engine.sell_at_desk(&desk).await.unwrap();
    let back = w.engine.refund_order(&RefundRequest { order_id: sold.order.id(), ..request(None) }).await.unwrap();
    assert_eq!((back.status, back.provider, back.amount), (RefundStatus::Done, None, eur(4500)));
    let nothing = w.engine.refund_order(&RefundRequest { order_id: sold.order.id(), ..request(None) }).await;
    assert!(matches!(nothing, Err(Error::Invalid(_))), "nothing left: {nothing:?}");
    let unpaid = place(&w, &[(&w.vip, 1)]).await;
    assert!(matches!(
        w.engine.refund_order(&RefundRequest { order_id: unpaid.order.id(), ..request(None) }).await,
        Err(Error::OrderTransition(_))
    ));
}

/// Conformance case.
pub async fn ten_refunds_of_one_order_at_once_give_the_money_back_once(backend: &Backend) {
    use ticketing_core::engine::RefundRequest;
    let w = Arc::new(World::new(backend, Options::default()).await);
    let placed = place(&w, &[(&w.standard, 3)]).await;
    let id = placed.order.id();
    w.engine.apply_notice("generic", &succeeded("pay10", id, placed.order.total())).await.unwrap();
    let staff = UserId::from_uuid(uuid::Uuid::from_u128(82));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move {
                let request = RefundRequest { order_id: id, tickets: None, reason: None, staff };
                w.engine.refund_order(&request).await
            })
        })
        .collect();
    let mut refunded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(refund) => refunded += refund.amount.minor(),
            Err(Error::Invalid(_) | Error::Transition(_)) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(refunded, placed.order.total().minor(), "the money back once, whatever the interleaving");
    assert_eq!(w.engine.order(id).await.unwrap().refunded_minor(), placed.order.total().minor());
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, 0);
}
