//! Conformance cases: notifications, their messages and the record of each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Duration;
use ticketing_core::engine::{LineRequest, OrderRequest};
use ticketing_core::job::{JobStatus, JobTask, NotificationTopic};
use ticketing_core::notification::{Channel, Courier, DeliveryStatus, Message, Undelivered};
use ticketing_core::order::{BuyerSpec, Locale};
use ticketing_core::payment::{NoticeKind, PaymentNotice};
use ticketing_core::store::JobFilter;

use super::support::{Backend, Options, World};

/// A channel as a test plays it: each recipient's answers from a script (then "sent"), and
/// every message handed to it, in order.
#[derive(Default)]
struct ScriptedCourier {
    answers: Mutex<HashMap<String, Vec<Result<(), Undelivered>>>>,
    sent: Mutex<Vec<Message>>,
}

#[async_trait::async_trait]
impl Courier for ScriptedCourier {
    async fn send(&self, message: &Message) -> Result<(), Undelivered> {
        self.sent.lock().unwrap().push(message.clone());
        let mut answers = self.answers.lock().unwrap();
        match answers.get_mut(message.recipient()) {
            Some(script) if !script.is_empty() => script.remove(0),
            _ => Ok(()),
        }
    }
}

/// An order placed by Zoë (email and phone, French) and paid by the provider's event `paid_by`:
/// its notification job queued.
async fn paid_order(w: &World, paid_by: &str) -> ticketing_core::engine::PlacedOrder {
    let request = OrderRequest {
        event_id: w.event.id(),
        lines: vec![LineRequest { ticket_type_id: w.standard.id(), quantity: 2 }],
        buyer: BuyerSpec {
            name: "Zoë Lefèvre".into(),
            email: "zoe@example.org".into(),
            phone: Some("+33612345678".into()),
            locale: Locale::Fr,
        },
        idempotency_key: None,
    };
    let placed = w.engine.place_order(&request).await.unwrap();
    let notice = PaymentNotice {
        event_id: paid_by.into(),
        event_type: "checkout.session.completed".into(),
        kind: NoticeKind::Succeeded,
        order_id: Some(placed.order.id()),
        amount: Some(placed.order.total()),
        reference: Some(format!("pi_{paid_by}")),
    };
    w.engine.apply_notice("stripe", &notice).await.unwrap();
    placed
}

/// Conformance case.
pub async fn a_payment_s_messages_are_each_sent_once_across_attempts(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    paid_order(&w, "evt_1").await;
    let courier = Arc::new(ScriptedCourier::default());
    courier.answers.lock().unwrap().insert("+33612345678".into(), vec![Err(Undelivered::Retry("503".into()))]);
    let engine = w.engine.clone().with_courier(courier.clone());

    assert!(engine.claim_next_job("other work").await.unwrap().is_none(), "notifications have their own workers");
    let claimed = engine.claim_next_notification("notifier").await.unwrap().expect("the payment's notification");
    let run = engine.run_claimed_job(claimed).await.unwrap();
    assert_eq!(run.job.status, JobStatus::Queued, "the text message asked to retry: {:?}", run.job.last_error);
    let records = w.engine.store().job_notifications(run.job.id).await.unwrap();
    let statuses: Vec<(Channel, &str, DeliveryStatus, u32)> =
        records.iter().map(|r| (r.channel, r.recipient.as_str(), r.status, r.attempts)).collect();
    assert_eq!(
        statuses,
        vec![
            (Channel::Email, "zoe@example.org", DeliveryStatus::Sent, 1),
            (Channel::Sms, "+33612345678", DeliveryStatus::Retrying, 1)
        ]
    );
    {
        let sent = courier.sent.lock().unwrap();
        let Message::Email(email) = &sent[0] else { panic!("the email first: {sent:?}") };
        assert_eq!(email.subject, format!("Vos billets pour {}", w.event.title()), "in the buyer's language");
        assert_eq!(email.attach.len(), 2, "both tickets' PDFs go with it");
        assert!(email.text.contains("8080/tickets/"), "each ticket's page: {}", email.text);
        let Message::Sms(sms) = &sent[1] else { panic!("then the text: {sent:?}") };
        assert!(sms.text.contains("8080/orders/"), "the order's page: {}", sms.text);
        assert!(ticketing_core::notification::sms_segments(&sms.text) <= 2);
    }

    assert!(engine.claim_next_notification("notifier").await.unwrap().is_none(), "it waits for its backoff");
    w.clock.advance(Duration::hours(1));
    let run = engine.run_next_notification("notifier").await.unwrap().expect("the retry");
    assert_eq!(run.job.status, JobStatus::Succeeded);
    let sent = courier.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 3, "only the text message is sent again: {sent:?}");
    assert_eq!(sent[2].message_id(), sent[1].message_id(), "with the same id");
    let records = w.engine.store().event_notifications(w.event.id(), 10).await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!((records[0].channel, records[0].status, records[0].attempts), (Channel::Sms, DeliveryStatus::Sent, 2));
    assert!(records.iter().all(|r| r.topic == NotificationTopic::PaymentSucceeded && r.event_id == Some(w.event.id())));
    assert!(records.iter().all(|r| r.job_id == run.job.id));
}

/// Conformance case.
pub async fn without_a_courier_messages_are_skipped_and_a_refusal_is_final(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    paid_order(&w, "evt_1").await;
    let run = w.engine.run_next_notification("notifier").await.unwrap().expect("the notification");
    assert_eq!(run.job.status, JobStatus::Succeeded, "skipped is not an error");
    let records = w.engine.store().job_notifications(run.job.id).await.unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.status == DeliveryStatus::Skipped), "{records:?}");
    assert!(records.iter().all(|r| r.last_error.as_deref() == Some("channel not configured")));

    let placed = paid_order(&w, "evt_2").await;
    let courier = Arc::new(ScriptedCourier::default());
    courier
        .answers
        .lock()
        .unwrap()
        .insert("zoe@example.org".into(), vec![Err(Undelivered::Final("550 no such user".into()))]);
    let engine = w.engine.clone().with_courier(courier.clone());
    let run = engine.run_next_notification("notifier").await.unwrap().expect("the second order's notification");
    assert_eq!(run.job.status, JobStatus::Succeeded, "a final refusal is recorded, not retried");
    let records = w.engine.store().job_notifications(run.job.id).await.unwrap();
    assert_eq!(
        records.iter().map(|r| (r.status, r.last_error.as_deref())).collect::<Vec<_>>(),
        vec![(DeliveryStatus::Failed, Some("550 no such user")), (DeliveryStatus::Sent, None)]
    );
    let jobs =
        w.engine.store().jobs(&JobFilter { event_id: Some(w.event.id()), status: None, limit: 100 }).await.unwrap();
    let notify = jobs.iter().filter(|j| matches!(&j.task, JobTask::Notify(n) if n.order_id == Some(placed.order.id())));
    assert_eq!(notify.count(), 1);
}

/// Conformance case.
pub async fn a_message_retried_past_the_last_attempt_is_dead(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    paid_order(&w, "evt_1").await;
    let courier = Arc::new(ScriptedCourier::default());
    let refusals = (0..ticketing_core::job::Notification::ATTEMPTS)
        .map(|_| Err(Undelivered::Retry("451 try later".into())))
        .collect();
    courier.answers.lock().unwrap().insert("zoe@example.org".into(), refusals);
    let engine = w.engine.clone().with_courier(courier.clone());
    let mut last = None;
    while let Some(run) = engine.run_next_notification("notifier").await.unwrap() {
        last = Some(run);
        w.clock.advance(Duration::hours(2));
    }
    let job = last.expect("the notification ran").job;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, job.max_attempts));
    let records = w.engine.store().job_notifications(job.id).await.unwrap();
    let email = records.iter().find(|r| r.channel == Channel::Email).unwrap();
    assert_eq!((email.status, email.attempts), (DeliveryStatus::Dead, job.max_attempts));
    let sms = records.iter().find(|r| r.channel == Channel::Sms).unwrap();
    assert_eq!((sms.status, sms.attempts), (DeliveryStatus::Sent, 1), "the text went once");
    let count = |channel| courier.sent.lock().unwrap().iter().filter(|m| m.channel() == channel).count() as u32;
    assert_eq!((count(Channel::Sms), count(Channel::Email)), (1, job.max_attempts));

    // A person retries the job: only the dead message goes again.
    w.engine.retry_job(job.id).await.unwrap();
    let run = engine.run_next_notification("notifier").await.unwrap().expect("the retried job");
    assert_eq!(run.job.status, JobStatus::Succeeded);
    assert_eq!((count(Channel::Sms), count(Channel::Email)), (1, job.max_attempts + 1), "the text is not sent again");
    let records = w.engine.store().job_notifications(job.id).await.unwrap();
    let email = records.iter().find(|r| r.channel == Channel::Email).unwrap();
    assert_eq!((email.status, email.attempts), (DeliveryStatus::Sent, job.max_attempts + 1));
}

/// Conformance case.
pub async fn a_ticket_issued_to_a_reachable_holder_and_a_desk_sale_are_told(backend: &Backend) {
    use ticketing_core::engine::{IssueRequest, SaleRequest};
    use ticketing_core::ids::UserId;
    use ticketing_core::order::PaymentMethod;
    use ticketing_core::status::TicketStatus;
    use ticketing_core::ticket::HolderSpec;

    let w = World::new(backend, Options::default()).await;
    let holder =
        |name: &str, email: Option<&str>| HolderSpec { name: name.into(), email: email.map(Into::into), phone: None };
    let request = IssueRequest {
        ticket_type_id: w.vip.id(),
        count: 0,
        holders: vec![holder("Ana Silva", Some("ana@example.org")), holder("No Contact", None)],
        status: TicketStatus::Paid,
    };
    let issued = w.engine.issue_tickets_with_links(&request, None).await.unwrap();
    let unlinked = IssueRequest { holders: vec![holder("Ben", Some("ben@example.org"))], ..request.clone() };
    w.engine.issue_tickets(&unlinked).await.unwrap();
    let sale = SaleRequest {
        event_id: w.event.id(),
        lines: vec![LineRequest { ticket_type_id: w.standard.id(), quantity: 1 }],
        method: PaymentMethod::Cash,
        buyer: Some(BuyerSpec {
            name: "Chloé".into(),
            email: "chloe@example.org".into(),
            phone: None,
            locale: Locale::Fr,
        }),
        cashier: UserId::from_uuid(uuid::Uuid::from_u128(90)),
    };
    let sold = w.engine.sell_at_desk(&sale).await.unwrap();
    let anonymous = SaleRequest { buyer: None, ..sale.clone() };
    w.engine.sell_at_desk(&anonymous).await.unwrap();

    let jobs =
        w.engine.store().jobs(&JobFilter { event_id: Some(w.event.id()), status: None, limit: 100 }).await.unwrap();
    let told: Vec<(NotificationTopic, Option<ticketing_core::ids::TicketId>, Option<ticketing_core::ids::OrderId>)> =
        jobs.iter()
            .filter_map(|j| match &j.task {
                JobTask::Notify(n) => Some((n.topic, n.ticket_id, n.order_id)),
                _ => None,
            })
            .collect();
    assert_eq!(told.len(), 2, "the reachable holder with a link and the desk buyer: {told:?}");
    assert!(told.contains(&(NotificationTopic::TicketCreated, Some(issued[0].ticket.id()), None)));
    assert!(told.contains(&(NotificationTopic::PaymentSucceeded, None, Some(sold.order.id()))));

    let courier = Arc::new(ScriptedCourier::default());
    let engine = w.engine.clone().with_courier(courier.clone());
    while engine.run_next_notification("notifier").await.unwrap().is_some() {}
    let sent = courier.sent.lock().unwrap().clone();
    let emails: Vec<&ticketing_core::notification::EmailMessage> = sent
        .iter()
        .map(|m| match m {
            Message::Email(e) => e,
            Message::Sms(_) => panic!("nobody gave a phone"),
        })
        .collect();
    let ana = emails.iter().find(|e| e.to == "ana@example.org").expect("Ana's email");
    assert_eq!(ana.subject, format!("Your ticket for {}", w.event.title()));
    assert_eq!(ana.attach, vec![issued[0].ticket.id()]);
    assert!(ana.text.contains(&issued[0].link.as_text()), "her link: {}", ana.text);
    let chloe = emails.iter().find(|e| e.to == "chloe@example.org").expect("Chloé's email");
    assert_eq!(chloe.subject, format!("Vos billets pour {}", w.event.title()));
    assert_eq!(chloe.attach.len(), 1);
    assert_eq!(emails.len(), 2);
}

/// A generation asked to tell its holders enqueues, with each chunk, one `ticket_created` per
/// ticket whose holder gave an email or a phone (none for the others, none when not asked);
/// "send me my tickets again" finds a holder's usable tickets by address whatever its case, and
/// sends nothing for an address that holds none.
pub async fn a_generation_tells_its_holders_and_a_holder_gets_their_tickets_again(backend: &Backend) {
    use ticketing_core::engine::GenerationRequest;
    use ticketing_core::field::Email;
    use ticketing_core::status::TicketStatus;
    use ticketing_core::ticket::HolderSpec;

    let w = World::new(backend, Options::default()).await;
    let holder = |name: &str, email: Option<&str>, phone: Option<&str>| HolderSpec {
        name: name.into(),
        email: email.map(Into::into),
        phone: phone.map(Into::into),
    };
    let holders = vec![
        holder("Ana", Some("ana@example.org"), None),
        holder("Ana again", Some("Ana@Example.org"), None),
        holder("Ben", None, Some("+33612345678")),
        holder("Nobody", None, None),
    ];
    let request = GenerationRequest {
        ticket_type_id: w.vip.id(),
        count: 4,
        status: TicketStatus::Paid,
        priority: 0,
        holders: holders.clone(),
        template: None,
        notify: true,
    };
    w.engine.start_generation(&request).await.unwrap();
    let quiet = GenerationRequest { notify: false, ..request.clone() };
    w.engine.start_generation(&quiet).await.unwrap();
    let nameless = GenerationRequest { holders: vec![], notify: true, ..request.clone() };
    assert!(matches!(w.engine.start_generation(&nameless).await, Err(ticketing_core::engine::Error::Invalid(_))));
    while w.engine.run_next_job("worker").await.unwrap().is_some() {}

    let jobs =
        w.engine.store().jobs(&JobFilter { event_id: Some(w.event.id()), status: None, limit: 100 }).await.unwrap();
    let told: Vec<_> = jobs
        .iter()
        .filter_map(|j| match &j.task {
            JobTask::Notify(n) if n.topic == NotificationTopic::TicketCreated => n.ticket_id,
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 3, "Ana twice and Ben, from the job that asked: {jobs:?}");

    let courier = Arc::new(ScriptedCourier::default());
    let engine = w.engine.clone().with_courier(courier.clone());
    while engine.run_next_notification("notifier").await.unwrap().is_some() {}
    assert_eq!(courier.sent.lock().unwrap().len(), 3, "two emails and a text");
    courier.sent.lock().unwrap().clear();

    engine.resend_tickets(w.event.id(), &Email::parse("ANA@example.org").unwrap()).await.unwrap();
    engine.resend_tickets(w.event.id(), &Email::parse("nobody@example.org").unwrap()).await.unwrap();
    while engine.run_next_notification("notifier").await.unwrap().is_some() {}
    let sent = courier.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "one email for Ana, nothing for an unknown address: {sent:?}");
    let Message::Email(email) = &sent[0] else { panic!("an email: {sent:?}") };
    assert_eq!(email.to, "Ana@example.org", "to the address as the tickets hold it, the first in order");
    assert_eq!(email.topic, NotificationTopic::ResendTickets);
    // Each of her four tickets (two per job), each with its own link.
    assert_eq!(email.attach.len(), 4, "{email:?}");
    assert_eq!(email.text.matches("8080/tickets/").count(), 4, "a page each");
    assert_eq!(email.text.matches("8080/api/v1/public/tickets/").count(), 4, "a PDF link each");
}

/// An event's own message templates: saved, replaced, read, listed by kind then language, and
/// dropped; one for an event that does not exist is refused; the engine writes a notification
/// from the event's own template and refuses one that fails its checks.
pub async fn an_event_s_own_message_templates_are_kept_per_kind_and_language(backend: &Backend) {
    use ticketing_core::ids::EventId;
    use ticketing_core::notification::templates::{MessageTemplate, TemplateParts};
    use ticketing_core::store::StoreError;

    let w = World::new(backend, Options::default()).await;
    let store = w.engine.store();
    let parts = |subject: &str| TemplateParts {
        subject: subject.into(),
        text: "{{ name }}: {{ order.total }} back at {{ order.url }}".into(),
        html: "<p>{{ name }}: {{ order.total }}</p>".into(),
        sms: "Refunded".into(),
    };
    let saved = w
        .engine
        .save_message_template(w.event.id(), NotificationTopic::Refunded, Locale::Fr, parts("Remboursé"))
        .await
        .unwrap();
    w.engine
        .save_message_template(w.event.id(), NotificationTopic::Refunded, Locale::En, parts("Refunded"))
        .await
        .unwrap();
    let replaced = w
        .engine
        .save_message_template(
            w.event.id(),
            NotificationTopic::Refunded,
            Locale::Fr,
            parts("Remboursée : {{ event.title }}"),
        )
        .await
        .unwrap();
    assert_eq!(saved.updated_at, replaced.updated_at, "the test clock stands still");
    let read = store.message_template(w.event.id(), NotificationTopic::Refunded, Locale::Fr).await.unwrap();
    assert_eq!(read.as_ref().map(|t| t.parts.subject.as_str()), Some("Remboursée : {{ event.title }}"));
    let listed: Vec<(NotificationTopic, Locale)> =
        store.message_templates(w.event.id()).await.unwrap().iter().map(|t| (t.topic, t.locale)).collect();
    assert_eq!(listed, [(NotificationTopic::Refunded, Locale::En), (NotificationTopic::Refunded, Locale::Fr)]);

    let bad = TemplateParts { text: "{{ secret }}".into(), ..parts("x") };
    let refused = w.engine.save_message_template(w.event.id(), NotificationTopic::Refunded, Locale::En, bad).await;
    assert!(
        matches!(refused, Err(ticketing_core::engine::Error::TemplateProblem(ref p)) if p.part == "text"),
        "{refused:?}"
    );
    let nowhere = MessageTemplate { event_id: EventId::from_uuid(uuid::Uuid::from_u128(404)), ..replaced.clone() };
    assert!(matches!(store.save_message_template(&nowhere).await, Err(StoreError::NotFound(_))));
    let preview = w.engine.preview_message(w.event.id(), NotificationTopic::Refunded, Locale::Fr, None).await.unwrap();
    assert_eq!(preview.subject, format!("Remboursée : {}", w.event.title()));

    assert!(store.delete_message_template(w.event.id(), NotificationTopic::Refunded, Locale::Fr).await.unwrap());
    assert!(!store.delete_message_template(w.event.id(), NotificationTopic::Refunded, Locale::Fr).await.unwrap());
    assert!(store.message_template(w.event.id(), NotificationTopic::Refunded, Locale::Fr).await.unwrap().is_none());
    let built_in = w.engine.preview_message(w.event.id(), NotificationTopic::Refunded, Locale::Fr, None).await.unwrap();
    assert_eq!(built_in.subject, format!("Votre commande pour {} est remboursée", w.event.title()));
}

/// Webhook endpoints: registered with a secret shown once and URLs checked; a paid order makes
/// one signed delivery per endpoint that wants it; a retried delivery keeps its id; an endpoint
/// failing past the limit is disabled by exactly one of ten attempts failing at once, which
/// enqueues the organisers' notice with it; a success ends a run of failures.
pub async fn webhook_endpoints_get_signed_deliveries_and_are_disabled_once(backend: &Backend) {
    use ticketing_core::env::Clock as _;
    use ticketing_core::hook::{Answer, HookSender, HookTopic, Secret};
    use ticketing_core::ids::JobId;
    use ticketing_core::job::{Job, Notification};
    use ticketing_core::store::HookAttempt;

    /// A post: the URL, the headers, the body.
    type Post = (String, Vec<(&'static str, String)>, String);
    /// An endpoint as a test plays it: answers from a script (then delivered); every post kept.
    #[derive(Default)]
    struct ScriptedSender {
        answers: Mutex<Vec<Answer>>,
        posted: Mutex<Vec<Post>>,
    }
    #[async_trait::async_trait]
    impl HookSender for ScriptedSender {
        async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Answer {
            self.posted.lock().unwrap().push((url.to_owned(), headers.to_vec(), body.to_owned()));
            let mut answers = self.answers.lock().unwrap();
            if answers.is_empty() { Answer::Delivered } else { answers.remove(0) }
        }
    }

    let w = World::new(backend, Options::default()).await;
    let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let refused = w.engine.register_endpoint(w.event.id(), "https://127.0.0.1/in", &names(&["order.paid"])).await;
    assert!(matches!(refused, Err(ticketing_core::engine::Error::Hook(_))), "{refused:?}");
    let paid =
        w.engine.register_endpoint(w.event.id(), "https://a.example.org/in", &names(&["order.paid"])).await.unwrap();
    let scans = w
        .engine
        .register_endpoint(w.event.id(), "https://b.example.org/in", &names(&["ticket.scanned"]))
        .await
        .unwrap();
    assert_eq!(w.engine.endpoints(w.event.id()).await.unwrap().len(), 2);
    assert_eq!(scans.endpoint.topics, [HookTopic::TicketScanned]);

    let sender = Arc::new(ScriptedSender::default());
    sender.answers.lock().unwrap().push(Answer::Retry("HTTP 503".into()));
    let engine = w.engine.clone().with_hook_sender(sender.clone());
    paid_order(&w, "evt_hook").await;
    for _ in 0..2 {
        while engine.run_next_notification("notifier").await.unwrap().is_some() {}
        w.clock.advance(Duration::minutes(5));
    }
    let posted = sender.posted.lock().unwrap().clone();
    assert_eq!(posted.len(), 2, "order.paid to the one endpoint that wants it, once more after a 503: {posted:?}");
    let secret = Secret::parse(&paid.secret).unwrap();
    for (url, headers, body) in &posted {
        assert_eq!(url, "https://a.example.org/in");
        let header = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap();
        let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
        assert_eq!(header("webhook-signature"), secret.sign(&header("webhook-id"), timestamp, body.as_bytes()));
        assert!(body.contains("\"type\":\"order.paid\""), "{body}");
    }
    let id = |n: usize| posted[n].1.iter().find(|(k, _)| *k == "webhook-id").map(|(_, v)| v.clone());
    assert_eq!(id(0), id(1), "a retry keeps its id");
    let endpoint = w.engine.endpoint(paid.endpoint.id).await.unwrap();
    assert!(endpoint.failing_since.is_none() && endpoint.last_success_at.is_some(), "{endpoint:?}");

    // Ten failures at once, past the limit: one disables it.
    let store = w.engine.store();
    let now = w.clock.now();
    let failed =
        HookAttempt { at: now, error: Some("HTTP 500".into()), disable_if_failing_since: now - Duration::days(1) };
    let notice = |n: u128| {
        let told = Notification {
            topic: NotificationTopic::EndpointDisabled,
            order_id: None,
            ticket_id: None,
            detail: Some("down".into()),
            address: None,
        };
        Job::notify(JobId::from_uuid(uuid::Uuid::from_u128(7000 + n)), told, Some(w.event.id()), now)
    };
    let first = store.record_hook_attempt(paid.endpoint.id, &failed, &notice(0)).await.unwrap();
    assert!(!first, "a first failure disables nothing");
    let later = HookAttempt {
        at: now + Duration::days(2),
        disable_if_failing_since: now + Duration::days(1),
        ..failed.clone()
    };
    let attempts = (0..10).map(|n| {
        let store = store.clone();
        let later = later.clone();
        let notice = notice(n + 1);
        async move { store.record_hook_attempt(paid.endpoint.id, &later, &notice).await.unwrap() }
    });
    let disabled: Vec<bool> = futures_join(attempts).await;
    assert_eq!(disabled.iter().filter(|d| **d).count(), 1, "{disabled:?}");
    let jobs = store.jobs(&JobFilter { event_id: Some(w.event.id()), status: None, limit: 100 }).await.unwrap();
    let notices = jobs
        .iter()
        .filter(|j| matches!(&j.task, JobTask::Notify(n) if n.topic == NotificationTopic::EndpointDisabled))
        .count();
    assert_eq!(notices, 1, "the organisers are told once, with the disabling");
    let endpoint = w.engine.endpoint(paid.endpoint.id).await.unwrap();
    assert!(!endpoint.enabled && endpoint.failing_since == Some(now), "{endpoint:?}");
    let enabled = w.engine.enable_endpoint(&endpoint).await.unwrap();
    assert!(enabled.enabled && enabled.failing_since.is_none());
    w.engine.delete_endpoint(&enabled).await.unwrap();
    assert!(matches!(w.engine.endpoint(enabled.id).await, Err(ticketing_core::engine::Error::NotFound(_))));
}

/// Runs `futures` side by side (each on its own task where the runtime has several threads).
async fn futures_join<T: Send + 'static>(
    futures: impl Iterator<Item = impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
