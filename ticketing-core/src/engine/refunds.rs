//! Refunds of paid orders: asked by staff (some tickets, or all that can be), reported by a
//! provider (a refund made there), and paid back through the provider by a job (see
//! [`crate::refund`]).

use std::sync::Arc;

use super::selling::Delivered;
use super::{Error, Ticketing};
use crate::ids::{OrderId, RefundId, TicketId, UserId};
use crate::job::{Job, JobTask, NotificationTopic};
use crate::money::Money;
use crate::order::{Order, OrderStatus, OrderTransitionError, PaymentMethod};
use crate::payment::{DeliveryOutcome, PaymentDelivery};
use crate::refund::{GatewayError, Refund, RefundGateway, RefundStatus};
use crate::status::{TicketAction, TicketStatus};
use crate::store::{ChangeOutcome, RefundStep, Store, TicketUpdate};
use crate::ticket::Ticket;

/// Attempts of a refund job: with the backoff (10 s doubling to an hour), about 17 hours, inside
/// Stripe's 24 hours of idempotency.
const REFUND_ATTEMPTS: u32 = 24;

/// A staff refund, as asked.
#[derive(Clone, Debug)]
pub struct RefundRequest {
    /// The order.
    pub order_id: OrderId,
    /// These tickets of the order; every ticket that can be refunded (paid or outside) when
    /// `None`.
    pub tickets: Option<Vec<TicketId>>,
    /// Why (kept with the refund), up to 500 characters.
    pub reason: Option<String>,
    /// Who asks.
    pub staff: UserId,
}

/// What recording a refund did.
enum Recorded {
    /// The refund, and the order after it.
    Refund(Box<(Refund, Order)>),
    /// The provider's delivery was recorded before: nothing applied; its first record.
    Repeat(PaymentDelivery),
}

/// Who a refund comes from.
enum Source<'a> {
    Staff(&'a RefundRequest),
    /// The provider reported a refund it made: `delivery` is recorded with it.
    Provider(&'a PaymentDelivery),
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// The engine with `gateway` to ask providers to pay refunds back.
    pub fn with_refund_gateway(mut self, gateway: Arc<dyn RefundGateway>) -> Self {
        self.refund_gateway = Some(gateway);
        self
    }

    /// Refunds tickets of a paid order (or an order paid after its places were gone): they become
    /// `refunded` (a ticket inside must leave first) and free their places, the refund is
    /// recorded at their sale prices, and, for an order paid through a provider, a job asks the
    /// provider to pay it back.
    pub async fn refund_order(&self, request: &RefundRequest) -> Result<Refund, Error> {
        if request.reason.as_deref().is_some_and(|r| r.chars().count() > 500 || r.chars().any(char::is_control)) {
            return Err(Error::Invalid("a refund's reason is at most 500 characters on one line"));
        }
        for _ in 0..self.config.max_retries {
            let order = self.order(request.order_id).await?;
            match self.record_refund(&order, Source::Staff(request)).await? {
                Some(Recorded::Refund(done)) => return Ok(done.0),
                Some(Recorded::Repeat(_)) | None => continue,
            }
        }
        Err(Error::Contention)
    }

    /// A provider reported a refund of `order` (cumulative `amount`, when it says): one we asked
    /// for (or a repeat) changes nothing; one made at the provider that covers the rest of the
    /// order refunds its remaining tickets; a partial one made there is recorded with an alert.
    pub(super) async fn refund_reported(
        &self,
        order: Order,
        delivery: PaymentDelivery,
        amount: Option<Money>,
    ) -> Result<Delivered, Error> {
        let mut order = order;
        for _ in 0..self.config.max_retries {
            // Not this order's payment (a second payment refunded, say), not its currency, or an
            // order that is not paid: recorded with an alert, nothing refunded here.
            let paid_with = order.payment().and_then(|p| p.reference.clone());
            let other_payment = delivery.reference.is_some() && paid_with.is_some() && delivery.reference != paid_with;
            let other_currency = amount.is_some_and(|a| a.currency() != order.total().currency());
            let unpaid = !matches!(order.status(), OrderStatus::Paid | OrderStatus::PaidUnfulfilled);
            if other_payment || other_currency || unpaid {
                let detail = format!(
                    "the provider reports a refund ({}) that is not of this order's payment: check it",
                    delivery.reference.as_deref().unwrap_or("no reference")
                );
                return self.alert(order, delivery, DeliveryOutcome::Refunded, detail).await;
            }
            let reported = amount.map_or(order.total().minor(), |a| a.minor());
            if reported <= order.refunded_minor() || order.refunded_minor() > 0 && amount.is_none() {
                return self.record(delivery, DeliveryOutcome::Refunded).await;
            }
            if reported < order.total().minor() {
                let detail = format!(
                    "the provider refunded {} of {} at its end: settle which tickets",
                    Money::new(reported, order.total().currency()).map(|m| m.decimal()).unwrap_or_default(),
                    order.total().decimal()
                );
                return self.alert(order, delivery, DeliveryOutcome::Refunded, detail).await;
            }
            match self.record_refund(&order, Source::Provider(&delivery)).await? {
                Some(Recorded::Refund(done)) => {
                    let after = done.1;
                    let delivery = PaymentDelivery { outcome: DeliveryOutcome::Refunded, ..delivery };
                    return Ok(Delivered { delivery, order: Some(after), repeat: false });
                }
                Some(Recorded::Repeat(first)) => return Ok(Delivered { delivery: first, order: None, repeat: true }),
                None => order = self.order(order.id()).await?,
            }
        }
        Err(Error::Contention)
    }

    /// Records one refund of `order` from `source`; `None` when the order or a ticket changed
    /// meanwhile (read and decide again).
    async fn record_refund(&self, order: &Order, source: Source<'_>) -> Result<Option<Recorded>, Error> {
        if !matches!(order.status(), OrderStatus::Paid | OrderStatus::PaidUnfulfilled) {
            return Err(
                OrderTransitionError { from: order.status().as_str(), action: "refunded (it is not paid)" }.into()
            );
        }
        let now = self.clock.now();
        let tz = self.event(order.event_id()).await?.time_zone();
        let tickets = self.store.order_tickets(order.id()).await?;
        let refundable = |t: &Ticket| matches!(t.status(), TicketStatus::Paid | TicketStatus::Outside);
        let chosen: Vec<&Ticket> = match &source {
            Source::Staff(RefundRequest { tickets: Some(ids), .. }) => {
                let mut chosen = Vec::with_capacity(ids.len());
                for id in ids {
                    let ticket = tickets.iter().find(|t| t.id() == *id).ok_or(Error::NotFound("ticket"))?;
                    if !chosen.iter().any(|c: &&Ticket| c.id() == *id) {
                        chosen.push(ticket);
                    }
                }
                chosen
            }
            _ => tickets.iter().filter(|t| refundable(t)).collect(),
        };
        let mut updates = Vec::with_capacity(chosen.len());
        for ticket in &chosen {
            let next = ticket.apply(TicketAction::Refund, now, tz)?;
            updates.push(TicketUpdate {
                next,
                expected_version: ticket.version(),
                was_live: ticket.status().is_live(),
            });
        }
        let price = |t: &Ticket| {
            order.lines().iter().find(|l| l.ticket_type_id == t.ticket_type_id()).map_or(0, |l| l.unit_price.minor())
        };
        let left = order.total().minor() - order.refunded_minor();
        let amount = match (&source, chosen.is_empty()) {
            // An order paid after its places were gone has no ticket: its money goes back whole.
            (_, true) if order.status() == OrderStatus::PaidUnfulfilled => left,
            (Source::Provider(_), _) => left,
            _ => chosen.iter().map(|t| price(t)).sum::<i64>().min(left),
        };
        if chosen.is_empty() && amount == 0 {
            return Err(Error::Invalid("nothing of this order is left to refund"));
        }
        let amount = Money::new(amount, order.total().currency()).map_err(|_| Error::Invalid("a negative refund"))?;
        let next = order.with_refund(amount).ok_or(Error::Invalid("more than was paid"))?;
        let payment = order.payment();
        // Nothing to pay back (free tickets, or the money went back already): no provider call.
        let via_provider = payment.is_some_and(|p| p.method == PaymentMethod::Provider) && !amount.is_zero();
        let (staff, reason, provider) = match &source {
            Source::Staff(r) => (
                Some(r.staff),
                r.reason.clone(),
                via_provider.then(|| payment.and_then(|p| p.provider.clone())).flatten(),
            ),
            // Made at the provider already: nothing to ask it.
            Source::Provider(_) => (None, Some("refunded at the payment provider".into()), None),
        };
        let refund = Refund {
            id: RefundId::generate(&*self.clock, &*self.rng),
            order_id: order.id(),
            event_id: order.event_id(),
            tickets: chosen.iter().map(|t| t.id()).collect(),
            amount,
            reason,
            staff,
            status: if provider.is_some() { RefundStatus::Requested } else { RefundStatus::Done },
            provider,
            payment_reference: payment.and_then(|p| p.reference.clone()),
            provider_refund_id: None,
            failure: None,
            at: now,
        };
        let mut jobs = vec![self.notification(order, NotificationTopic::Refunded, None)];
        let refunded: Vec<Ticket> = updates.iter().map(|u| u.next.clone()).collect();
        jobs.extend(self.refunded_hooks(order, &refunded).await?);
        if refund.provider.is_some() {
            // Retried for most of a day (within the provider's idempotency window).
            let job = Job {
                max_attempts: REFUND_ATTEMPTS,
                ..self.job_about(order, JobTask::RefundPayment { refund_id: refund.id })
            };
            jobs.push(job);
        }
        let inside: Vec<String> = tickets
            .iter()
            .filter(|t| t.status() == TicketStatus::Inside && matches!(source, Source::Provider(_)))
            .map(|t| t.short_code().to_string())
            .collect();
        if !inside.is_empty() {
            let detail = format!("refunded at the provider while inside: {} (refund them once out)", inside.join(", "));
            jobs.push(self.notification(order, NotificationTopic::PaymentAlert, Some(detail)));
        }
        let delivery = match &source {
            Source::Provider(d) => Some(PaymentDelivery { outcome: DeliveryOutcome::Refunded, ..(*d).clone() }),
            Source::Staff(_) => None,
        };
        crate::audit::writing(&refund);
        if let Some(delivery) = &delivery {
            crate::audit::writing(delivery);
        }
        let entry = crate::audit::due();
        let step = RefundStep {
            order: &next,
            expected_refunded: order.refunded_minor(),
            refund: &refund,
            tickets: &updates,
            jobs: &jobs,
            delivery: delivery.as_ref(),
            audit: entry.as_ref(),
        };
        Ok(match self.store.refund(&step).await? {
            ChangeOutcome::Applied => Some(Recorded::Refund(Box::new((refund, next)))),
            ChangeOutcome::Duplicate(first) => Some(Recorded::Repeat(*first)),
            ChangeOutcome::Stale => None,
        })
    }

    /// An order's refunds, oldest first.
    pub async fn refunds(&self, order_id: OrderId) -> Result<Vec<Refund>, Error> {
        Ok(self.store.refunds(order_id).await?)
    }

    /// Asks the refund's provider to pay it back (the refund job's work): done once the provider
    /// answers with its refund id; `Retry` leaves the job to run again; a refusal marks the
    /// refund failed for staff to settle.
    pub async fn send_refund(&self, id: RefundId) -> Result<Refund, SendError> {
        let mut refund =
            self.store.refund_by_id(id).await.map_err(|e| SendError::Retry(e.to_string()))?.ok_or(SendError::Gone)?;
        if refund.status != RefundStatus::Requested {
            return Ok(refund);
        }
        let Some(gateway) = &self.refund_gateway else {
            return Err(SendError::Retry("no refund gateway is configured".into()));
        };
        match gateway.refund(&refund).await {
            Ok(provider_id) => {
                refund.status = RefundStatus::Done;
                refund.provider_refund_id = Some(provider_id);
            }
            Err(GatewayError::Retry(why)) => return Err(SendError::Retry(why)),
            Err(GatewayError::Refused(why)) => {
                refund.status = RefundStatus::Failed;
                refund.failure = Some(why);
            }
        }
        self.store.settle_refund(&refund).await.map_err(|e| SendError::Retry(e.to_string()))?;
        if let Some(why) = &refund.failure {
            // Staff must settle it: the provider refused to pay it back.
            let order = self.order(refund.order_id).await.map_err(|e| SendError::Retry(e.to_string()))?;
            let detail = format!("the provider refused refund {}: {why}", refund.id);
            let alert = self.notification(&order, NotificationTopic::PaymentAlert, Some(detail));
            self.store.enqueue(&alert).await.map_err(|e| SendError::Retry(e.to_string()))?;
        }
        Ok(refund)
    }
}

/// Why a refund was not sent this time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later.
    #[error("{0}")]
    Retry(String),
    /// The refund does not exist.
    #[error("refund not found")]
    Gone,
}
