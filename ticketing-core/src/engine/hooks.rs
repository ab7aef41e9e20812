//! Outbound webhooks: endpoints registered, their messages written when what they report
//! happens, and each delivery posted, signed, and its outcome recorded on the endpoint (see
//! [`crate::hook`]).

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Error, Ticketing, generation::Step};
use crate::hook::{self, Answer, Delivery, Endpoint, HookTopic, Secret};
use crate::ids::{EndpointId, EventId, JobId};
use crate::job::{Job, Notification, NotificationTopic};
use crate::order::Order;
use crate::scan::ScanLog;
use crate::store::{HookAttempt, Store};
use crate::ticket::Ticket;

/// The most endpoints an event may have: each message is posted to each, in the transaction of
/// the change it reports.
pub const ENDPOINTS_MAX: usize = 10;

/// An endpoint just registered, with its secret: the only time the secret is shown.
#[derive(Clone)]
pub struct RegisteredEndpoint {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its signing secret (`whsec_…`).
    pub secret: String,
}

/// A ticket as webhooks report it.
fn ticket_data(ticket: &Ticket) -> Value {
    json!({
        "ticket_id": ticket.id(),
        "event_id": ticket.event_id(),
        "ticket_type_id": ticket.ticket_type_id(),
        "short_code": ticket.short_code().to_string(),
        "status": ticket.status().as_str(),
        "holder": ticket.holder().map(|h| json!({
            "name": h.name(),
            "email": h.email().map(|e| e.as_str()),
            "phone": h.phone().map(|p| p.as_str()),
        })),
    })
}

/// An order as webhooks report it.
fn order_data(order: &Order) -> Value {
    json!({
        "order_id": order.id(),
        "event_id": order.event_id(),
        "status": order.status().as_str(),
        "channel": order.channel().as_str(),
        "total_minor": order.total().minor(),
        "currency": order.total().currency().to_string(),
        "lines": order.lines().iter().map(|l| json!({
            "ticket_type_id": l.ticket_type_id,
            "quantity": l.quantity,
            "unit_price_minor": l.unit_price.minor(),
        })).collect::<Vec<_>>(),
        "buyer": order.buyer().map(|b| json!({"name": b.name(), "email": b.email().as_str()})),
        "payment_reference": order.payment().and_then(|p| p.reference.clone()),
    })
}

impl std::fmt::Debug for RegisteredEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredEndpoint").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// The engine with `sender` to post webhook deliveries. Without one, deliveries are
    /// abandoned (`webhooks are not configured`).
    pub fn with_hook_sender(mut self, sender: Arc<dyn hook::HookSender>) -> Self {
        self.hook_sender = Some(sender);
        self
    }

    /// Registers an endpoint at the event for `topics`, its URL checked against the engine's
    /// [`hook::UrlPolicy`]; answers its secret, shown this once.
    pub async fn register_endpoint(
        &self,
        event_id: EventId,
        url: &str,
        topics: &[String],
    ) -> Result<RegisteredEndpoint, Error> {
        self.event(event_id).await?;
        let url = self.config.hook_urls.check(url)?;
        if self.store.endpoints(event_id).await?.len() >= ENDPOINTS_MAX {
            return Err(Error::Conflict(format!("an event has at most {ENDPOINTS_MAX} webhook endpoints")));
        }
        let topics = hook::topics(topics)?;
        let secret = Secret::generate(&*self.rng);
        let endpoint = Endpoint {
            id: EndpointId::generate(&*self.clock, &*self.rng),
            event_id,
            url,
            topics,
            secret: secret.clone(),
            enabled: true,
            failing_since: None,
            last_error: None,
            last_success_at: None,
            created_at: self.clock.now(),
        };
        crate::audit::writing(&endpoint);
        self.store.insert_endpoint(&endpoint).await?;
        self.hook_cache.forget(event_id);
        Ok(RegisteredEndpoint { endpoint, secret: secret.as_text() })
    }

    /// An event's endpoints, oldest first.
    pub async fn endpoints(&self, event_id: EventId) -> Result<Vec<Endpoint>, Error> {
        Ok(self.store.endpoints(event_id).await?)
    }

    /// An endpoint.
    pub async fn endpoint(&self, id: EndpointId) -> Result<Endpoint, Error> {
        self.store.endpoint(id).await?.ok_or(Error::NotFound("endpoint"))
    }

    /// Deletes an endpoint (`NotFound` if it is gone already): its deliveries still queued are
    /// dropped when they come up.
    pub async fn delete_endpoint(&self, endpoint: &Endpoint) -> Result<(), Error> {
        let deleted = self.store.delete_endpoint(endpoint.id).await?;
        self.hook_cache.forget(endpoint.event_id);
        if !deleted {
            return Err(Error::NotFound("endpoint"));
        }
        Ok(())
    }

    /// Enables an endpoint again (after it was disabled for failing), its failures forgotten.
    /// Messages made while it was disabled are not sent.
    pub async fn enable_endpoint(&self, endpoint: &Endpoint) -> Result<Endpoint, Error> {
        let enabled = self.store.enable_endpoint(endpoint.id).await?.ok_or(Error::NotFound("endpoint"))?;
        self.hook_cache.forget(endpoint.event_id);
        Ok(enabled)
    }

    /// The delivery jobs of one message about `data` (written only when an endpoint wants it) to
    /// each endpoint of the event that wants `topic`, due now. The event's endpoints are read
    /// from memory for up to 5 s ([`super::event_cache`]).
    pub(super) async fn hooks(
        &self,
        event_id: EventId,
        topic: HookTopic,
        data: impl FnOnce() -> Value,
    ) -> Result<Vec<Job>, Error> {
        let now = self.clock.now();
        let endpoints =
            self.hook_cache.get(event_id, now, || async { Ok(self.store.endpoints(event_id).await?) }).await?;
        let mut data = Some(data);
        let mut body = None;
        let mut jobs = Vec::new();
        for endpoint in endpoints.iter().filter(|e| e.wants(topic)) {
            let body = body.get_or_insert_with(|| {
                let data = data.take().map(|make| make()).unwrap_or_default();
                json!({"type": topic.as_str(), "timestamp": now.to_rfc3339(), "data": data}).to_string()
            });
            let id = JobId::generate(&*self.clock, &*self.rng);
            let delivery = Delivery {
                endpoint_id: endpoint.id,
                message_id: format!("msg_{}", id.as_uuid().simple()),
                topic,
                body: body.clone(),
            };
            jobs.push(Job::deliver(id, delivery, Some(event_id), now));
        }
        Ok(jobs)
    }

    /// `ticket.created` for each of `tickets`.
    pub(super) async fn created_hooks(&self, tickets: &[Ticket]) -> Result<Vec<Job>, Error> {
        let mut jobs = Vec::new();
        for ticket in tickets {
            jobs.extend(self.hooks(ticket.event_id(), HookTopic::TicketCreated, || ticket_data(ticket)).await?);
        }
        Ok(jobs)
    }

    /// `order.paid` for `order`.
    pub(super) async fn paid_hooks(&self, order: &Order) -> Result<Vec<Job>, Error> {
        self.hooks(order.event_id(), HookTopic::OrderPaid, || order_data(order)).await
    }

    /// `ticket.refunded` for each of `tickets` (as they are after the refund).
    pub(super) async fn refunded_hooks(&self, order: &Order, tickets: &[Ticket]) -> Result<Vec<Job>, Error> {
        let mut jobs = Vec::new();
        for ticket in tickets {
            let data = || {
                let mut data = ticket_data(ticket);
                data["order_id"] = json!(order.id());
                data
            };
            jobs.extend(self.hooks(ticket.event_id(), HookTopic::TicketRefunded, data).await?);
        }
        Ok(jobs)
    }

    /// Enqueues `ticket.scanned` for an entry or exit just committed. Not in the scan's own
    /// transaction (the scan path stays one statement): a failure here loses the message, never
    /// the scan.
    pub(crate) async fn announce_scan(&self, log: &ScanLog) {
        let Some(ticket_id) = log.ticket_id else { return };
        let data = || {
            json!({
                "ticket_id": ticket_id,
                "event_id": log.event_id,
                "gate_id": log.gate_id,
                "direction": log.direction.map(|d| d.as_str()),
                "status": log.status_after.map(|s| s.as_str()),
                "entries_used": log.entries_after,
                "at": log.at.to_rfc3339(),
            })
        };
        if let Ok(jobs) = self.hooks(log.event_id, HookTopic::TicketScanned, data).await {
            for job in jobs {
                let _ = self.store.enqueue(&job).await;
            }
        }
    }

    /// Posts one delivery, signed for this attempt, and records the outcome on its endpoint. A
    /// failure that has lasted past the engine's limit disables the endpoint and tells the
    /// organisers (once).
    pub(super) async fn deliver(&self, job: &Job, delivery: &Delivery) -> Step {
        let endpoint = match self.store.endpoint(delivery.endpoint_id).await {
            Ok(Some(endpoint)) => endpoint,
            Ok(None) => return Step::Abandoned("the endpoint was deleted".into()),
            Err(e) => return Step::Failed(e.to_string()),
        };
        if !endpoint.enabled {
            return Step::Abandoned("the endpoint is disabled".into());
        }
        let Some(sender) = &self.hook_sender else { return Step::Abandoned("webhooks are not configured".into()) };
        let now = self.clock.now();
        let timestamp = now.timestamp();
        let signature = endpoint.secret.sign(&delivery.message_id, timestamp, delivery.body.as_bytes());
        let headers = [
            ("webhook-id", delivery.message_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        let answer = sender.post(&endpoint.url, &headers, &delivery.body).await;
        let error = match &answer {
            Answer::Delivered => None,
            Answer::Retry(why) | Answer::Refused(why) => Some(why.clone()),
        };
        let attempt = HookAttempt {
            at: self.clock.now(),
            error: error.clone(),
            disable_if_failing_since: now - self.config.hook_disable_after,
        };
        // The organisers' notice, enqueued with the disabling itself if this attempt disables it.
        let detail = format!(
            "{} failed every delivery since {} (last: {}).",
            endpoint.url,
            endpoint.failing_since.unwrap_or(now).format("%Y-%m-%d %H:%M UTC"),
            error.as_deref().unwrap_or_default()
        );
        let notification = Notification {
            topic: NotificationTopic::EndpointDisabled,
            order_id: None,
            ticket_id: None,
            detail: Some(detail),
            address: None,
        };
        let notice = Job::notify(JobId::generate(&*self.clock, &*self.rng), notification, job.event_id, now);
        match self.store.record_hook_attempt(endpoint.id, &attempt, &notice).await {
            Ok(true) => {
                self.hook_cache.forget(endpoint.event_id);
                return Step::Abandoned("the endpoint was disabled".into());
            }
            Ok(false) => {}
            Err(e) => return Step::Failed(e.to_string()),
        }
        match answer {
            Answer::Delivered => Step::Done,
            Answer::Retry(why) => Step::Failed(why),
            Answer::Refused(why) => Step::Abandoned(why),
        }
    }
}
