//! Selling: orders placed with their tickets held, paid through a provider's webhook or at the
//! desk, expired by the reaper when their hold runs out (see [`crate::order`]).
//!
//! Every change goes through [`OrderRepository::change_order`](crate::store::OrderRepository::change_order):
//! the engine reads the order, decides with [`crate::order::next`], and storage applies the
//! decision only if the order is still in the status it was decided on, recording the payment
//! delivery in the same step (so a delivery applies once however often it arrives). A lost race
//! reads and decides again.

use crate::audit;
use chrono::{DateTime, Utc};

use super::tickets::CODE_DRAWS;
use super::{Error, Ticketing};
use crate::event::{Event, EventStatus};
use crate::ids::{EventId, JobId, OrderId, TicketTypeId, UserId};
use crate::job::{Job, JobTask, Notification, NotificationTopic};
use crate::magic_link::{MagicLink, MagicLinkToken};
use crate::order::{
    BuyerSpec, NewOrder, Order, OrderAction, OrderLine, OrderStatus, OrderTransitionError, Payment, PaymentMethod,
    SaleChannel,
};
use crate::payment::{DeliveryOutcome, NoticeKind, PaymentDelivery, PaymentNotice};
use crate::status::{self, TicketAction, TicketStatus};
use crate::store::{ChangeOutcome, OrderChange, OrderPlacement, Placement, Store, StoreError, TicketBatch};
use crate::ticket::{Holder, HolderSpec, Ticket};

/// Priority of a hold's expiry among due jobs: above generations, so places come back quickly.
const EXPIRY_PRIORITY: i32 = 10;

/// Attempts of a hold's expiry job: about four days of retries at the longest backoff.
const EXPIRY_ATTEMPTS: u32 = 100;

/// One line of an order as asked: a type and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRequest {
    /// The type.
    pub ticket_type_id: TicketTypeId,
    /// How many.
    pub quantity: u32,
}

/// A buyer's order, as asked.
#[derive(Clone, Debug)]
pub struct OrderRequest {
    /// The event.
    pub event_id: EventId,
    /// What.
    pub lines: Vec<LineRequest>,
    /// Who (required online).
    pub buyer: BuyerSpec,
    /// Makes a retried placement return the same order (unique per event, 1 to 255 characters).
    pub idempotency_key: Option<String>,
}

/// A box-office sale, as asked.
#[derive(Clone, Debug)]
pub struct SaleRequest {
    /// The event.
    pub event_id: EventId,
    /// What.
    pub lines: Vec<LineRequest>,
    /// How it was paid: cash, card or other.
    pub method: PaymentMethod,
    /// The buyer, if they gave their details.
    pub buyer: Option<BuyerSpec>,
    /// The cashier.
    pub cashier: UserId,
}

/// What ending a hold did.
enum Expiry {
    /// The order expired; here it is.
    Expired(Order),
    /// It was not pending, or its hold has not ended: left as it is.
    Left(Order),
    /// The delivery given was recorded before: nothing applied; its first record.
    Repeat(PaymentDelivery),
}

/// The holder an order's tickets are made out to: its buyer, when named.
fn buyer_holder(order: &Order) -> Result<Option<Holder>, Error> {
    let Some(buyer) = order.buyer() else { return Ok(None) };
    let spec = HolderSpec {
        name: buyer.name().to_owned(),
        email: Some(buyer.email().as_str().to_owned()),
        phone: buyer.phone().map(|p| p.as_str().to_owned()),
    };
    Ok(Some(Holder::new(&spec)?))
}

/// What a payment did: applied (the order as it is now, and how), or nothing because its
/// delivery was recorded before (the first record).
enum Paid {
    Applied(Order, DeliveryOutcome),
    Duplicate(PaymentDelivery),
}

/// A payment delivery as recorded, and whether it repeated one recorded before (then it changed
/// nothing, and `delivery` is the first record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The record.
    pub delivery: PaymentDelivery,
    /// The order as this delivery left it, when it changed it (else read it if needed).
    pub order: Option<Order>,
    /// Whether this was a repeat.
    pub repeat: bool,
}

/// An order with what its buyer needs: the token, and the tickets with their links.
#[derive(Clone, Debug)]
pub struct PlacedOrder {
    /// The order as stored.
    pub order: Order,
    /// The buyer's secret token (derived: the same on every retry).
    pub token: MagicLinkToken,
    /// Its tickets, each with its magic link's token.
    pub tickets: Vec<(Ticket, MagicLinkToken)>,
    /// Whether this is an earlier placement found by its idempotency key.
    pub replayed: bool,
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// Places an order: its tickets are reserved against quota and capacity, held until the
    /// hold ends (when the reaper job expires it unless it was paid). `Quota` when sold out;
    /// `EventClosed` unless the event is published; `Order` for bad lines or buyer.
    pub async fn place_order(&self, request: &OrderRequest) -> Result<PlacedOrder, Error> {
        self.place_order_at(&self.event(request.event_id).await?, request).await
    }

    /// [`Self::place_order`] for `event` as the caller has just read it (to check it, to fill its
    /// payment link), saving a second read; `Invalid` if it is not the request's event.
    pub async fn place_order_at(&self, event: &Event, request: &OrderRequest) -> Result<PlacedOrder, Error> {
        if event.id() != request.event_id {
            return Err(Error::Invalid("the event given is not the order's"));
        }
        let key = request.idempotency_key.as_deref().map(str::trim);
        // The key finds an order without an account: it must be as hard to guess as a token.
        if key.is_some_and(|k| !(16..=255).contains(&k.len()) || k.chars().any(char::is_control)) {
            return Err(Error::Invalid("an idempotency key is 16 to 255 printable characters (a UUID, say)"));
        }
        let now = self.clock.now();
        let id = OrderId::generate(&*self.clock, &*self.rng);
        let new = NewOrder {
            id,
            event_id: event.id(),
            buyer: Some(request.buyer.clone()),
            lines: self.priced_lines(event, &request.lines, now).await?,
            token_hash: self.link_key.order_token(id).hash(),
            created_at: now,
            hold_expires_at: now + self.config.order_hold,
            channel: SaleChannel::Online,
        };
        let order = Order::new(new, event.max_tickets_per_order())?;
        let expiry = Job {
            priority: EXPIRY_PRIORITY,
            // A hold must end even after a long outage: retried (backing off to an hour) for days.
            max_attempts: EXPIRY_ATTEMPTS,
            run_at: order.hold_expires_at(),
            ..Job::new(
                JobId::generate(&*self.clock, &*self.rng),
                JobTask::ExpireOrder { order_id: order.id() },
                Some(event.id()),
                1,
                now,
            )
        };
        self.store_order(order, TicketStatus::Reserved, &[expiry], key, false).await
    }

    /// Sells at the desk: the tickets are paid at once and the order takes the event's next
    /// receipt number (gap-free per event). Only while the event is published.
    pub async fn sell_at_desk(&self, request: &SaleRequest) -> Result<PlacedOrder, Error> {
        if !matches!(request.method, PaymentMethod::Cash | PaymentMethod::Card | PaymentMethod::Other) {
            return Err(Error::Invalid("a desk sale is paid by cash, card or other"));
        }
        let event = self.event(request.event_id).await?;
        let now = self.clock.now();
        let id = OrderId::generate(&*self.clock, &*self.rng);
        let new = NewOrder {
            id,
            event_id: event.id(),
            buyer: request.buyer.clone(),
            lines: self.priced_lines(&event, &request.lines, now).await?,
            token_hash: self.link_key.order_token(id).hash(),
            created_at: now,
            hold_expires_at: now,
            channel: SaleChannel::BoxOffice,
        };
        let payment =
            Payment { method: request.method, provider: None, reference: None, staff: Some(request.cashier), at: now };
        let order = Order::new(new, event.max_tickets_per_order())?.pay(OrderAction::Pay, payment)?;
        // A buyer who gave their details gets their tickets as an online buyer does.
        let mut told: Vec<Job> = order
            .buyer()
            .map(|_| self.notification(&order, NotificationTopic::PaymentSucceeded, None))
            .into_iter()
            .collect();
        told.extend(self.paid_hooks(&order).await?);
        self.store_order(order, TicketStatus::Paid, &told, None, true).await
    }

    /// The lines priced now, for an event on sale.
    async fn priced_lines(
        &self,
        event: &Event,
        lines: &[LineRequest],
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderLine>, Error> {
        if event.status() != EventStatus::Published || now >= event.ends_at() {
            let status = if event.status() == EventStatus::Published { EventStatus::Ended } else { event.status() };
            return Err(Error::EventClosed(status));
        }
        let mut priced = Vec::with_capacity(lines.len());
        for (index, line) in lines.iter().enumerate() {
            let ticket_type = match self.store.ticket_type(line.ticket_type_id).await? {
                Some(t) if t.event_id() == event.id() => t,
                _ => return Err(Error::Order(crate::order::OrderError::UnknownType(index))),
            };
            priced.push(OrderLine {
                ticket_type_id: line.ticket_type_id,
                quantity: line.quantity,
                unit_price: ticket_type.price(),
            });
        }
        Ok(priced)
    }

    /// Stores `order` with its tickets in `status`, drawing short codes again on a collision.
    async fn store_order(
        &self,
        order: Order,
        status: TicketStatus,
        jobs: &[Job],
        idempotency_key: Option<&str>,
        receipt: bool,
    ) -> Result<PlacedOrder, Error> {
        let holder = buyer_holder(&order)?;
        for draw in 1..=CODE_DRAWS {
            let drawn = self.draw_order_tickets(&order, holder.as_ref(), status)?;
            let batches: Vec<TicketBatch<'_>> =
                drawn.iter().map(|(tickets, links)| TicketBatch { tickets, links: &links.1, template: None }).collect();
            audit::writing(&order);
            let entry = audit::due();
            let placement = OrderPlacement {
                order: &order,
                batches: &batches,
                jobs,
                idempotency_key,
                receipt,
                audit: entry.as_ref(),
            };
            match self.store.place_order(&placement).await {
                Ok(Placement::Placed(stored)) => {
                    let tickets =
                        drawn.into_iter().flat_map(|(tickets, (tokens, _))| tickets.into_iter().zip(tokens)).collect();
                    let token = self.link_key.order_token(stored.id());
                    return Ok(PlacedOrder { order: stored, token, tickets, replayed: false });
                }
                Ok(Placement::Existing(existing)) => {
                    // The same request again, buyer included: a key alone never shows someone's order.
                    let same = existing.buyer() == order.buyer()
                        && existing.lines().len() == order.lines().len()
                        && existing.lines().iter().zip(order.lines()).all(|(line, ask)| {
                            line.ticket_type_id == ask.ticket_type_id && line.quantity == ask.quantity
                        });
                    if !same {
                        return Err(Error::Conflict("this idempotency key was used for another order".into()));
                    }
                    return self.placed(existing, true).await;
                }
                Err(StoreError::Conflict(_)) if draw < CODE_DRAWS => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict("could not draw unique short codes".into()))
    }

    /// Fresh tickets in `status` for every line of `order`, with their links (that never expire).
    /// Their short codes are only checked by storage's unique index: a collision refuses the
    /// placement, and [`Self::store_order`] draws again.
    #[allow(clippy::type_complexity)]
    fn draw_order_tickets(
        &self,
        order: &Order,
        holder: Option<&Holder>,
        status: TicketStatus,
    ) -> Result<Vec<(Vec<Ticket>, (Vec<MagicLinkToken>, Vec<MagicLink>))>, Error> {
        let now = self.clock.now();
        let mut out = Vec::with_capacity(order.lines().len());
        let all = self.distinct_codes(usize::try_from(order.tickets()).unwrap_or(usize::MAX));
        let mut codes = all.into_iter();
        for line in order.lines() {
            let holders = vec![holder.cloned(); line.quantity as usize];
            let codes = codes.by_ref().take(holders.len()).collect();
            let tickets = self.draw_tickets_of(order.event_id(), line.ticket_type_id, &holders, codes, status, now)?;
            let links = self.links_for(&tickets, now, None).into_iter().unzip();
            out.push((tickets, links));
        }
        Ok(out)
    }

    /// An order as its buyer sees it: with its token and its tickets' live links.
    async fn placed(&self, order: Order, replayed: bool) -> Result<PlacedOrder, Error> {
        let token = self.link_key.order_token(order.id());
        let mut tickets = Vec::new();
        for ticket in self.store.order_tickets(order.id()).await? {
            let links = self.store.unrevoked_magic_links(order.event_id(), Some(ticket.id())).await?;
            if let Some(link) = links.iter().rev().find_map(|l| l.token(&self.link_key)) {
                tickets.push((ticket, link));
            }
        }
        Ok(PlacedOrder { order, token, tickets, replayed })
    }

    /// An order by id.
    pub async fn order(&self, id: OrderId) -> Result<Order, Error> {
        self.store.order(id).await?.ok_or(Error::NotFound("order"))
    }

    /// An order by its buyer's token, with its tickets and their links (`NotFound` for an
    /// unknown token).
    pub async fn order_by_token(&self, token: &MagicLinkToken) -> Result<PlacedOrder, Error> {
        let order = self.store.order_by_token(&token.hash()).await?.ok_or(Error::NotFound("order"))?;
        self.placed(order, false).await
    }

    /// The buyer's token of an order.
    pub fn order_token(&self, order: &Order) -> MagicLinkToken {
        self.link_key.order_token(order.id())
    }

    /// Ends an order's hold if it ran out (the reaper job's work): a pending order expires and
    /// its reserved tickets become invalid, freeing their places (and their links stop working).
    /// An order paid or ended meanwhile is left as it is. Returns the order as it is now, and
    /// whether this call expired it.
    pub async fn expire_order(&self, id: OrderId, force: bool) -> Result<(Order, bool), Error> {
        match self.expire(id, force, None).await? {
            Expiry::Expired(order) => Ok((order, true)),
            Expiry::Left(order) => Ok((order, false)),
            Expiry::Repeat(_) => Ok((self.order(id).await?, false)),
        }
    }

    /// Expires a pending order (when its hold ran out, or at once with `force`: a provider's
    /// checkout expired), recording `delivery` in the same step.
    async fn expire(&self, id: OrderId, force: bool, delivery: Option<&PaymentDelivery>) -> Result<Expiry, Error> {
        status::next(TicketStatus::Reserved, TicketAction::Invalidate)?;
        for _ in 0..self.config.max_retries {
            let order = self.order(id).await?;
            let due = force || self.clock.now() >= order.hold_expires_at();
            if order.status() != OrderStatus::Pending || !due {
                return Ok(Expiry::Left(order));
            }
            let next = order.apply(OrderAction::Expire)?;
            audit::writing(&next);
            if let Some(delivery) = delivery {
                audit::writing(delivery);
            }
            let entry = audit::due();
            let change = OrderChange {
                order: &next,
                expected: OrderStatus::Pending,
                reserved_action: Some(TicketAction::Invalidate),
                at: self.clock.now(),
                batches: &[],
                jobs: &[],
                delivery,
                audit: entry.as_ref(),
            };
            match self.store.change_order(&change).await? {
                ChangeOutcome::Applied => return Ok(Expiry::Expired(next)),
                ChangeOutcome::Duplicate(first) => return Ok(Expiry::Repeat(*first)),
                ChangeOutcome::Stale => continue,
            }
        }
        Err(Error::Contention)
    }

    /// Staff validation of a pending (or expired) order paid at the desk or by transfer.
    pub async fn mark_paid(
        &self,
        id: OrderId,
        method: PaymentMethod,
        staff: UserId,
        reference: Option<String>,
    ) -> Result<(Order, DeliveryOutcome), Error> {
        if method == PaymentMethod::Provider {
            return Err(Error::Invalid("staff mark an order paid by cash, card, transfer or other"));
        }
        let payment = Payment { method, provider: None, reference, staff: Some(staff), at: self.clock.now() };
        match self.pay(id, None, payment, None).await? {
            Paid::Applied(order, outcome) => Ok((order, outcome)),
            Paid::Duplicate(_) => Err(Error::Contention),
        }
    }

    /// Applies a verified provider notice: records the delivery (once per provider and event id)
    /// and changes the order as it says. Returns the delivery as recorded (the first record for
    /// a repeat).
    pub async fn apply_notice(&self, provider: &str, notice: &PaymentNotice) -> Result<PaymentDelivery, Error> {
        Ok(self.apply_delivery(provider, notice).await?.delivery)
    }

    /// [`Self::apply_notice`], saying whether the delivery was a repeat of one recorded before.
    pub async fn apply_delivery(&self, provider: &str, notice: &PaymentNotice) -> Result<Delivered, Error> {
        let now = self.clock.now();
        let order = match (notice.order_id, notice.kind, notice.reference.as_deref()) {
            (Some(id), _, _) => self.store.order(id).await?,
            (None, NoticeKind::Refunded, Some(reference)) => self.store.order_by_reference(provider, reference).await?,
            _ => None,
        };
        let delivery = PaymentDelivery {
            provider: provider.to_owned(),
            event_id: notice.event_id.clone(),
            event_type: notice.event_type.clone(),
            kind: notice.kind,
            order_id: order.as_ref().map(Order::id).or(notice.order_id),
            ticketing_event_id: order.as_ref().map(Order::event_id),
            amount: notice.amount,
            reference: notice.reference.clone(),
            outcome: DeliveryOutcome::Ignored,
            received_at: now,
        };
        let Some(order) = order else {
            let outcome = match notice.kind {
                NoticeKind::Ignored | NoticeKind::Failed => DeliveryOutcome::Ignored,
                _ => DeliveryOutcome::UnknownOrder,
            };
            return self.record(delivery, outcome).await;
        };
        match notice.kind {
            NoticeKind::Succeeded => {
                if notice.amount != Some(order.total()) {
                    let received = notice
                        .amount
                        .map_or_else(|| "no amount".to_owned(), |a| format!("{} {}", a.decimal(), a.currency().code()));
                    let detail = format!(
                        "received {received} for an order of {} {}",
                        order.total().decimal(),
                        order.total().currency().code()
                    );
                    return self.alert(order, delivery, DeliveryOutcome::PaymentMismatch, detail).await;
                }
                let payment = Payment {
                    method: PaymentMethod::Provider,
                    provider: Some(provider.to_owned()),
                    reference: notice.reference.clone(),
                    staff: None,
                    at: now,
                };
                Ok(match self.pay(order.id(), Some(order), payment, Some(&delivery)).await? {
                    Paid::Applied(after, outcome) => Delivered {
                        delivery: PaymentDelivery { outcome, ..delivery },
                        order: Some(after),
                        repeat: false,
                    },
                    Paid::Duplicate(first) => Delivered { delivery: first, order: None, repeat: true },
                })
            }
            NoticeKind::Expired => {
                let expired = PaymentDelivery { outcome: DeliveryOutcome::Expired, ..delivery.clone() };
                match self.expire(order.id(), true, Some(&expired)).await? {
                    Expiry::Expired(after) => Ok(Delivered { delivery: expired, order: Some(after), repeat: false }),
                    Expiry::Repeat(first) => Ok(Delivered { delivery: first, order: None, repeat: true }),
                    Expiry::Left(_) => self.record(delivery, DeliveryOutcome::Unchanged).await,
                }
            }
            NoticeKind::Refunded => self.refund_reported(order, delivery, notice.amount).await,
            NoticeKind::Failed | NoticeKind::Ignored => self.record(delivery, DeliveryOutcome::Ignored).await,
        }
    }

    /// Records a delivery that leaves the order as it is, with `outcome`, and an alert to the
    /// organisers, in one step (a payment that is not the order's amount, a refund made at the
    /// provider that matches no tickets).
    pub(super) async fn alert(
        &self,
        order: Order,
        mut delivery: PaymentDelivery,
        outcome: DeliveryOutcome,
        detail: String,
    ) -> Result<Delivered, Error> {
        delivery.outcome = outcome;
        let jobs = [self.notification(&order, NotificationTopic::PaymentAlert, Some(detail))];
        let mut order = order;
        audit::writing(&delivery);
        for _ in 0..self.config.max_retries {
            let entry = audit::due();
            let change = OrderChange {
                order: &order,
                expected: order.status(),
                reserved_action: None,
                at: self.clock.now(),
                batches: &[],
                jobs: &jobs,
                delivery: Some(&delivery),
                audit: entry.as_ref(),
            };
            match self.store.change_order(&change).await? {
                ChangeOutcome::Applied => return Ok(Delivered { delivery, order: None, repeat: false }),
                ChangeOutcome::Duplicate(first) => {
                    return Ok(Delivered { delivery: *first, order: None, repeat: true });
                }
                ChangeOutcome::Stale => order = self.order(order.id()).await?,
            }
        }
        Err(Error::Contention)
    }

    /// Pays an order: a pending one at once; an expired or cancelled one again if its places can
    /// be taken anew (fresh paid tickets), else it is left paid, unfulfilled, with an alert; a
    /// paid one is left as it is. The delivery, if any, is recorded in the same step.
    /// `read` is the order as the caller just read it (else it is read here); a lost race reads
    /// it again.
    async fn pay(
        &self,
        id: OrderId,
        read: Option<Order>,
        payment: Payment,
        delivery: Option<&PaymentDelivery>,
    ) -> Result<Paid, Error> {
        status::next(TicketStatus::Reserved, TicketAction::Pay)?;
        let mut places_gone = false;
        let mut read = read;
        for _ in 0..self.config.max_retries {
            let order = match read.take() {
                Some(order) => order,
                None => self.order(id).await?,
            };
            let late = matches!(order.status(), OrderStatus::Expired | OrderStatus::Cancelled);
            let (action, outcome) = match order.status() {
                OrderStatus::Pending => (OrderAction::Pay, DeliveryOutcome::Paid),
                _ if late && places_gone => (OrderAction::PayLate { retaken: false }, DeliveryOutcome::PaidUnfulfilled),
                _ if late => (OrderAction::PayLate { retaken: true }, DeliveryOutcome::PaidLate),
                // Paid already: staff are told so; a provider's second payment (another reference)
                // is money taken twice, kept with an alert; the same payment again changes nothing.
                from if delivery.is_none() => {
                    return Err(OrderTransitionError { from: from.as_str(), action: "marked paid (it is paid)" }.into());
                }
                _ if order
                    .payment()
                    .is_some_and(|p| p.provider != payment.provider || p.reference != payment.reference) =>
                {
                    (OrderAction::Pay, DeliveryOutcome::PaidTwice)
                }
                _ => (OrderAction::Pay, DeliveryOutcome::Unchanged),
            };
            let next = order.pay(action, payment.clone())?;
            let recorded = delivery.cloned().map(|d| PaymentDelivery { outcome, ..d });
            let jobs = match outcome {
                DeliveryOutcome::Unchanged => vec![],
                DeliveryOutcome::PaidUnfulfilled => {
                    let detail = "paid after its hold ended, and its places are gone: refund it".to_owned();
                    vec![self.notification(&next, NotificationTopic::PaymentAlert, Some(detail))]
                }
                DeliveryOutcome::PaidTwice => {
                    let detail = format!(
                        "paid a second time ({}): refund the second payment",
                        payment.reference.as_deref().unwrap_or("no reference")
                    );
                    vec![self.notification(&next, NotificationTopic::PaymentAlert, Some(detail))]
                }
                _ => {
                    let mut jobs = vec![self.notification(&next, NotificationTopic::PaymentSucceeded, None)];
                    jobs.extend(self.paid_hooks(&next).await?);
                    jobs
                }
            };
            let retake = outcome == DeliveryOutcome::PaidLate;
            let drawn = if retake {
                self.draw_order_tickets(&next, buyer_holder(&next)?.as_ref(), TicketStatus::Paid)?
            } else {
                vec![]
            };
            let batches: Vec<TicketBatch<'_>> =
                drawn.iter().map(|(tickets, links)| TicketBatch { tickets, links: &links.1, template: None }).collect();
            audit::writing(&next);
            if let Some(delivery) = &recorded {
                audit::writing(delivery);
            }
            let entry = audit::due();
            let change = OrderChange {
                order: &next,
                expected: order.status(),
                reserved_action: (outcome == DeliveryOutcome::Paid).then_some(TicketAction::Pay),
                at: self.clock.now(),
                batches: &batches,
                jobs: &jobs,
                delivery: recorded.as_ref(),
                audit: entry.as_ref(),
            };
            match self.store.change_order(&change).await {
                Ok(ChangeOutcome::Applied) => return Ok(Paid::Applied(next, outcome)),
                Ok(ChangeOutcome::Duplicate(first)) => return Ok(Paid::Duplicate(*first)),
                Ok(ChangeOutcome::Stale) | Err(StoreError::Conflict(_)) => continue,
                Err(StoreError::Quota(_)) if retake => places_gone = true,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention)
    }

    /// Records a delivery that changes no order, with `outcome`; the first record for a repeat.
    pub(super) async fn record(&self, delivery: PaymentDelivery, outcome: DeliveryOutcome) -> Result<Delivered, Error> {
        let delivery = PaymentDelivery { outcome, ..delivery };
        audit::writing(&delivery);
        Ok(match self.store.record_delivery(&delivery).await? {
            Some(first) => Delivered { delivery: first, order: None, repeat: true },
            None => Delivered { delivery, order: None, repeat: false },
        })
    }

    /// A notification job about `order`, due now.
    pub(super) fn notification(&self, order: &Order, topic: NotificationTopic, detail: Option<String>) -> Job {
        let notification = Notification { topic, order_id: Some(order.id()), ticket_id: None, detail, address: None };
        Job::notify(JobId::generate(&*self.clock, &*self.rng), notification, Some(order.event_id()), self.clock.now())
    }

    /// A job about `order`, due now.
    pub(super) fn job_about(&self, order: &Order, task: JobTask) -> Job {
        Job::new(JobId::generate(&*self.clock, &*self.rng), task, Some(order.event_id()), 1, self.clock.now())
    }
}
