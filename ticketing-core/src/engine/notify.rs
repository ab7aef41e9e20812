//! Notification jobs run: their messages written ([`Ticketing::compose`]) and handed to the
//! courier, each outcome recorded (see [`crate::notification`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Error, Ticketing, generation::Step};
use crate::credential::Duty;
use crate::event::Event;
use crate::field::Email;
use crate::ids::{EventId, JobId, TicketId};
use crate::job::{Job, Notification, NotificationTopic};
use crate::notification::templates::{self, EventContext, MessageContext, OrderContext, TicketContext};
use crate::notification::{
    Channel, Courier, DeliveryRecord, DeliveryStatus, EmailMessage, Message, SMS_SEGMENTS, SmsMessage, Undelivered,
    fit_sms,
};
use crate::order::{Locale, Order};
use crate::scan::Suspicion;
use crate::store::{Store, TicketFilter};
use crate::ticket::Ticket;
use crate::user::Role;

/// Where the links in messages point: patterns with `{token}` (a ticket's magic-link token, or
/// an order's), set by the server from its public address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicLinks {
    /// A ticket's page.
    pub ticket: String,
    /// A ticket's PDF.
    pub ticket_pdf: String,
    /// An order's page, for its buyer.
    pub order: String,
}

impl PublicLinks {
    /// The reference server's routes under `base` (`https://tickets.example.org`).
    pub fn under(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            ticket: format!("{base}/tickets/{{token}}"),
            ticket_pdf: format!("{base}/api/v1/public/tickets/{{token}}/pdf"),
            order: format!("{base}/orders/{{token}}"),
        }
    }
}

impl Default for PublicLinks {
    fn default() -> Self {
        Self::under("http://127.0.0.1:8080")
    }
}

/// A message's id: its job, channel and recipient (`{job}.{channel}.{8 hex digits}`), so an
/// attempt that writes the recipients again in another order, or with one more, gives each the
/// id it had.
fn message_id(job: &Job, channel: Channel, recipient: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(recipient.as_bytes());
    format!("{}.{channel}.{}", job.id, hex::encode(&digest[..4]))
}

/// The most tickets one "send me my tickets again" email carries.
const RESEND_MAX: usize = 50;

/// The tickets whose PDFs go with an email about them: all of them, unless the event says not to.
fn pdfs(event: &Event, tickets: &[Ticket]) -> Vec<TicketId> {
    if event.email_pdfs() { tickets.iter().map(Ticket::id).collect() } else { vec![] }
}

/// Someone a notification goes to.
struct Recipient {
    name: String,
    email: Option<String>,
    phone: Option<String>,
    locale: Locale,
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// The engine with `courier` to send notifications. Without one, every message is recorded
    /// as skipped (`channel not configured`).
    pub fn with_courier(mut self, courier: Arc<dyn Courier>) -> Self {
        self.courier = Some(courier);
        self
    }

    /// The messages `notification` (the task of `job`) makes now, in a stable order: for each
    /// recipient, the email, then the text message. `NotFound` when what it is about is gone.
    pub async fn compose(&self, job: &Job, notification: &Notification) -> Result<Vec<Message>, Error> {
        let (event_id, recipients, context, attach, sms_link) = match notification.topic {
            NotificationTopic::TicketCreated => {
                let id =
                    notification.ticket_id.ok_or(Error::Invalid("a ticket_created notification names its ticket"))?;
                let ticket = self.ticket(id).await?;
                let event = self.event(ticket.event_id()).await?;
                let holder = ticket.holder();
                let recipient = Recipient {
                    name: holder.map(|h| h.name().to_owned()).unwrap_or_default(),
                    email: holder.and_then(|h| h.email()).map(|e| e.as_str().to_owned()),
                    phone: holder.and_then(|h| h.phone()).map(|p| p.as_str().to_owned()),
                    locale: Locale::default(),
                };
                let tickets = self.ticket_contexts(&event, std::slice::from_ref(&ticket)).await?;
                let link = tickets.first().map(|t| t.url.clone()).unwrap_or_default();
                let context = MessageContext { tickets, ..self.message_context(&event, None) };
                (event.id(), vec![recipient], context, pdfs(&event, std::slice::from_ref(&ticket)), link)
            }
            NotificationTopic::ResendTickets => {
                let id = job.event_id.ok_or(Error::Invalid("a resend_tickets notification names its event"))?;
                let address = notification
                    .address
                    .clone()
                    .ok_or(Error::Invalid("a resend_tickets notification names its address"))?;
                let event = self.event(id).await?;
                let filter =
                    TicketFilter { event_id: Some(id), holder_email: Some(address.clone()), ..TicketFilter::default() };
                let usable = self.store.tickets(&filter).await?.into_iter().filter(|t| t.status().is_usable());
                let held: Vec<Ticket> = usable.take(RESEND_MAX).collect();
                let tickets = self.ticket_contexts(&event, &held).await?;
                // Only the tickets whose link could be given again: the others cannot be opened.
                let held: Vec<Ticket> =
                    held.into_iter().filter(|t| tickets.iter().any(|c| c.code == t.short_code().to_string())).collect();
                if tickets.is_empty() {
                    return Ok(vec![]);
                }
                // To the address as the tickets hold it, not as it was typed (the first in order
                // when they write it in different cases: the same one on every attempt).
                let holder = held.iter().filter_map(|t| t.holder()).min_by_key(|h| h.email().map(|e| e.as_str()));
                let recipient = Recipient {
                    name: holder.map(|h| h.name().to_owned()).unwrap_or_default(),
                    email: Some(holder.and_then(|h| h.email()).map_or(address, |e| e.as_str().to_owned())),
                    phone: None,
                    locale: Locale::default(),
                };
                let context = MessageContext { tickets, ..self.message_context(&event, None) };
                (id, vec![recipient], context, pdfs(&event, &held), String::new())
            }
            NotificationTopic::SuspiciousActivity | NotificationTopic::EndpointDisabled => {
                let id = job.event_id.ok_or(Error::Invalid("an alert names its event"))?;
                let event = self.event(id).await?;
                let context =
                    MessageContext { detail: notification.detail.clone(), ..self.message_context(&event, None) };
                (id, self.organisers(id).await?, context, vec![], String::new())
            }
            topic => {
                let id = notification.order_id.ok_or(Error::Invalid("an order's notification names its order"))?;
                let order = self.order(id).await?;
                let event = self.event(order.event_id()).await?;
                let mut context = self.message_context(&event, Some(&order));
                context.detail = notification.detail.clone();
                let sms_link = context.order.as_ref().map(|o| o.url.clone()).unwrap_or_default();
                let (recipients, attach) = match topic {
                    NotificationTopic::PaymentAlert => (self.organisers(event.id()).await?, vec![]),
                    _ => {
                        let buyer = order.buyer().map(|b| Recipient {
                            name: b.name().to_owned(),
                            email: Some(b.email().as_str().to_owned()),
                            phone: b.phone().map(|p| p.as_str().to_owned()),
                            locale: b.locale(),
                        });
                        let mut attach = vec![];
                        if topic == NotificationTopic::PaymentSucceeded {
                            let tickets: Vec<Ticket> = self
                                .store
                                .order_tickets(order.id())
                                .await?
                                .into_iter()
                                .filter(|t| t.status().is_live())
                                .collect();
                            context.tickets = self.ticket_contexts(&event, &tickets).await?;
                            attach = pdfs(&event, &tickets);
                        }
                        (buyer.into_iter().collect(), attach)
                    }
                };
                (event.id(), recipients, context, attach, sms_link)
            }
        };
        let mut messages = Vec::new();
        for recipient in recipients {
            let context = MessageContext { name: recipient.name.clone(), ..context.clone() };
            let topic = notification.topic;
            let own = match templates::customisable(topic) {
                true => self.own_template(event_id, topic, recipient.locale).await?,
                false => None,
            };
            // An event's own template that fails on a real message (more tickets than its
            // sample had) gives way to the built-in one: the message still goes.
            let written =
                match own.as_ref().map(|parts| templates::write(topic, recipient.locale, &context, Some(parts))) {
                    Some(Ok(written)) => written,
                    _ => templates::write(topic, recipient.locale, &context, None)?,
                };
            if let Some(to) = recipient.email {
                messages.push(Message::Email(EmailMessage {
                    topic: notification.topic,
                    message_id: message_id(job, Channel::Email, &to),
                    to,
                    to_name: Some(recipient.name.clone()).filter(|n| !n.is_empty()),
                    subject: written.subject.clone(),
                    text: written.text.clone(),
                    html: written.html.clone(),
                    attach: attach.clone(),
                }));
            }
            if let Some(to) = recipient.phone {
                let tail = if sms_link.is_empty() { String::new() } else { format!(" {sms_link}") };
                messages.push(Message::Sms(SmsMessage {
                    topic: notification.topic,
                    message_id: message_id(job, Channel::Sms, &to),
                    to,
                    text: fit_sms(&written.sms, &tail, SMS_SEGMENTS),
                }));
            }
        }
        Ok(messages)
    }

    /// Runs a notification job: each message not yet settled by an earlier attempt is sent and
    /// its outcome recorded. Any message the channel asked to retry makes the attempt fail, so
    /// the job runs again later (and sends only those); on the job's last attempt they are dead.
    pub(super) async fn notify(&self, job: &Job, notification: &Notification) -> Step {
        let messages = match self.compose(job, notification).await {
            Ok(messages) => messages,
            Err(Error::NotFound(what)) => return Step::Abandoned(format!("{what} not found")),
            Err(e @ Error::Invalid(_)) => return Step::Abandoned(e.to_string()),
            Err(e) => return Step::Failed(e.to_string()),
        };
        // What earlier attempts settled, a retried job's included (a retry counts attempts from
        // zero again).
        let before = match self.store.job_notifications(job.id).await {
            Ok(records) => records,
            Err(e) => return Step::Failed(e.to_string()),
        };
        let settled: HashSet<(Channel, &str)> =
            before.iter().filter(|r| r.status.is_settled()).map(|r| (r.channel, r.recipient.as_str())).collect();
        let tried: HashMap<(Channel, &str), u32> =
            before.iter().map(|r| ((r.channel, r.recipient.as_str()), r.attempts)).collect();
        let last_attempt = job.attempts >= job.max_attempts;
        let mut retry = None;
        for message in &messages {
            let key = (message.channel(), message.recipient());
            if settled.contains(&key) {
                continue;
            }
            let sent = match &self.courier {
                Some(courier) => courier.send(message).await,
                None => Err(Undelivered::NotConfigured),
            };
            let (status, error) = match sent {
                Ok(()) => (DeliveryStatus::Sent, None),
                Err(Undelivered::NotConfigured) => (DeliveryStatus::Skipped, Some("channel not configured".to_owned())),
                Err(Undelivered::Final(why)) => (DeliveryStatus::Failed, Some(why)),
                Err(Undelivered::Retry(why)) if last_attempt => (DeliveryStatus::Dead, Some(why)),
                Err(Undelivered::Retry(why)) => (DeliveryStatus::Retrying, Some(why)),
            };
            if matches!(status, DeliveryStatus::Retrying | DeliveryStatus::Dead) {
                retry.get_or_insert_with(|| {
                    format!("{} to {}: {}", key.0, crate::notification::mask(key.1), error.as_deref().unwrap_or(""))
                });
            }
            let record = DeliveryRecord {
                job_id: job.id,
                event_id: job.event_id,
                topic: notification.topic,
                channel: message.channel(),
                recipient: message.recipient().to_owned(),
                message_id: message.message_id().to_owned(),
                status,
                attempts: tried.get(&key).copied().unwrap_or(0) + 1,
                last_error: error,
                updated_at: self.clock.now(),
            };
            if let Err(e) = self.store.record_notification(&record).await {
                return Step::Failed(e.to_string());
            }
        }
        match retry {
            Some(why) => Step::Failed(why),
            None => Step::Done,
        }
    }

    /// Tells the organisers of the gate's event about `suspicion` (a `suspicious_activity`
    /// notification, enqueued now). The watch that found it throttles it already: one per
    /// pattern per gate per window. Returns the job, or `None` when the gate is gone.
    pub async fn alert_suspicion(&self, suspicion: &Suspicion) -> Result<Option<Job>, Error> {
        let Some(gate) = self.store.gate(suspicion.gate_id()).await? else { return Ok(None) };
        let event = self.event(gate.event_id()).await?;
        let detail = match suspicion {
            Suspicion::RepeatedBadSignatures { count, since, .. } => {
                let since = since.with_timezone(&event.time_zone().tz()).format("%H:%M");
                format!("{count} forged or damaged QR codes at gate \"{}\" since {since}.", gate.name())
            }
            Suspicion::TicketAtTwoGates { ticket_id, first_gate, seconds_apart, held_back, .. } => {
                let first = self.store.gate(*first_gate).await?.map(|g| g.name().to_owned()).unwrap_or_default();
                let code = self.store.ticket(*ticket_id).await?.map(|t| t.short_code().to_string()).unwrap_or_default();
                let more = match held_back {
                    0 => String::new(),
                    n => format!(" {n} more tickets seen at two gates arrived at this gate since the last alert."),
                };
                format!(
                    "ticket {code} was presented at gate \"{}\" {seconds_apart} s after gate \"{first}\" let it through (a copied QR code?).{more}",
                    gate.name()
                )
            }
        };
        let notification = Notification {
            topic: NotificationTopic::SuspiciousActivity,
            order_id: None,
            ticket_id: None,
            detail: Some(detail),
            address: None,
        };
        let job =
            Job::notify(JobId::generate(&*self.clock, &*self.rng), notification, Some(event.id()), self.clock.now());
        self.store.enqueue(&job).await?;
        Ok(Some(job))
    }

    /// "Email me my tickets again": enqueues a `resend_tickets` notification for `address` at
    /// the event. Whether the address holds tickets is only looked up when the job runs, so the
    /// asker learns nothing from the answer or its timing; an address with none gets nothing.
    pub async fn resend_tickets(&self, event_id: EventId, address: &Email) -> Result<Job, Error> {
        let notification = Notification {
            topic: NotificationTopic::ResendTickets,
            order_id: None,
            ticket_id: None,
            detail: None,
            address: Some(address.as_str().to_owned()),
        };
        let job =
            Job::notify(JobId::generate(&*self.clock, &*self.rng), notification, Some(event_id), self.clock.now());
        self.store.enqueue(&job).await?;
        Ok(job)
    }

    /// An event's notification records, most recently changed first.
    pub async fn event_notifications(&self, event_id: EventId, limit: u32) -> Result<Vec<DeliveryRecord>, Error> {
        Ok(self.store.event_notifications(event_id, limit.clamp(1, 500)).await?)
    }

    /// The event, and the order if any, as messages show them.
    pub(super) fn message_context(&self, event: &Event, order: Option<&Order>) -> MessageContext {
        let starts = event.starts_at().with_timezone(&event.time_zone().tz());
        MessageContext {
            name: String::new(),
            event: EventContext {
                title: event.title().to_owned(),
                starts_at: starts.format("%Y-%m-%d %H:%M").to_string(),
                location: event.location().to_owned(),
            },
            tickets: vec![],
            order: order.map(|o| OrderContext {
                total: o.total().to_string(),
                url: self.config.links.order.replace("{token}", &self.link_key.order_token(o.id()).as_text()),
            }),
            detail: None,
        }
    }

    /// Each ticket with its live magic link (a ticket with none is left out: it cannot be opened).
    async fn ticket_contexts(&self, event: &Event, tickets: &[Ticket]) -> Result<Vec<TicketContext>, Error> {
        let mut out = Vec::with_capacity(tickets.len());
        for ticket in tickets {
            let links = self.store.unrevoked_magic_links(event.id(), Some(ticket.id())).await?;
            let Some(token) = links.iter().rev().find_map(|l| l.token(&self.link_key)) else { continue };
            let token = token.as_text();
            let type_name = self.ticket_type(ticket.ticket_type_id()).await.map(|t| t.name().to_owned())?;
            out.push(TicketContext {
                type_name,
                code: ticket.short_code().to_string(),
                url: self.config.links.ticket.replace("{token}", &token),
                pdf_url: self.config.links.ticket_pdf.replace("{token}", &token),
            });
        }
        Ok(out)
    }

    /// Who is alerted about an event: its organizers and the superadmins, active, each once,
    /// by email address.
    async fn organisers(&self, event_id: EventId) -> Result<Vec<Recipient>, Error> {
        let mut users = self.store.users_with_role(Role::Superadmin).await?;
        for staff in self.store.event_staff(event_id).await? {
            if staff.duty == Duty::Organizer
                && let Some(user) = self.store.user(staff.user_id).await?
            {
                users.push(user);
            }
        }
        users.retain(|u| u.active);
        users.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
        users.dedup_by(|a, b| a.email.as_str().eq_ignore_ascii_case(b.email.as_str()));
        Ok(users
            .into_iter()
            .map(|u| Recipient {
                name: u.name,
                email: Some(u.email.as_str().to_owned()),
                phone: None,
                locale: Locale::En,
            })
            .collect())
    }
}
