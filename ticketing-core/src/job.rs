//! Durable background jobs: what a job is, its life, and the retry rule. The queue itself is a
//! store port ([`crate::store::JobQueue`]): it lives in the same database as the data, so a job
//! can be enqueued in the same transaction as the change that caused it.
//!
//! A job's life:
//!
//! ```text
//! queued ──claim──▶ running ──succeed──▶ succeeded
//!   ▲   ╲              │ ╲───fail (attempts left)──▶ queued, run_at = now + backoff
//!   │    cancel        │ ╲──fail (no attempts left)─▶ failed ──retry──▶ queued
//!   │     ▼            │ ╲─cancel requested, seen by the worker─▶ cancelled
//!   │  cancelled       └── lease expires (worker crashed) ──▶ claimable again
//!   └──────────────────────────────── retry ─────────────────────────┘
//! ```
//!
//! A claim is a lease: the worker holds the job until `lease_until` and extends it as it makes
//! progress. A worker that dies stops extending it, and once it lapses any worker may claim the
//! job again, resuming from the progress that was committed. Work that must happen exactly once
//! (a chunk of generated tickets) is committed together with the progress it makes and is refused
//! once the lease is lost, so a late worker cannot do it twice.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::hook::Delivery;
use crate::ids::{EventId, JobId, OrderId, RefundId, TicketId, TicketTypeId};
use crate::status::TicketStatus;
use crate::template::TemplatePin;
use crate::ticket::HolderSpec;

/// Why a job whose worker's lease lapsed on its last attempt failed.
pub const LAPSED_ON_LAST_ATTEMPT: &str = "the worker's lease lapsed on its last attempt";

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at`, then for a worker.
    Queued,
    /// Held by a worker until its lease ends.
    Running,
    /// Done.
    Succeeded,
    /// Out of attempts, or failed for good. A person may retry it.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl JobStatus {
    /// Every status, in life order.
    pub const ALL: [JobStatus; 5] = [Self::Queued, Self::Running, Self::Succeeded, Self::Failed, Self::Cancelled];

    /// The stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the job has ended (it runs again only if retried).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown job status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job status {0:?}")]
pub struct UnknownJobStatus(pub String);

impl FromStr for JobStatus {
    type Err = UnknownJobStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => return Err(UnknownJobStatus(other.to_owned())),
        })
    }
}

/// Bulk generation of anonymous tickets of one type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateTickets {
    /// The type.
    pub ticket_type_id: TicketTypeId,
    /// The status the tickets are created in: `issued`, `reserved` or `paid`.
    pub status: TicketStatus,
    /// Tickets per committed chunk.
    pub chunk_size: u32,
    /// One holder per ticket, in order, when not empty (then there are as many tickets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<HolderSpec>,
    /// The template version every ticket is pinned to, if one was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplatePin>,
    /// Whether each ticket gets a magic link (that never expires) in the chunk that makes it.
    #[serde(default)]
    pub links: bool,
    /// Whether each ticket goes to its holder when they gave an email or a phone (a
    /// `ticket_created` notification, enqueued with the chunk that makes the ticket).
    #[serde(default)]
    pub notify: bool,
}

/// What a job does. Stored as JSON; the variant's name is the job's kind, which workers claim by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobTask {
    /// Generate `progress.total` tickets, a chunk at a time.
    GenerateTickets(GenerateTickets),
    /// End an order's hold when it runs out: a pending order expires, its reserved tickets
    /// become invalid and free their places. Due at the hold's end; an order paid meanwhile is
    /// left as it is.
    ExpireOrder {
        /// The order.
        order_id: OrderId,
    },
    /// Tell the buyer or the organisers something (sent by the notification workers).
    Notify(Notification),
    /// Ask the payment provider to pay a refund back (retried until it answers).
    RefundPayment {
        /// The refund.
        refund_id: RefundId,
    },
    /// Post a message to an integrator's endpoint (sent by the notification workers).
    DeliverWebhook(Delivery),
}

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationTopic {
    /// A ticket was issued to a holder with an email or a phone: it goes to them.
    TicketCreated,
    /// An order was paid: its tickets go to the buyer.
    PaymentSucceeded,
    /// Money came in that could not be applied (late with its places gone, or not the order's
    /// amount): the organisers must act.
    PaymentAlert,
    /// An order was refunded.
    Refunded,
    /// A suspicious pattern at a gate (forged codes, one ticket at two gates): the organisers
    /// are told, at most once per pattern per gate per window.
    SuspiciousActivity,
    /// Someone asked for their tickets again, by email address: the tickets of the event held
    /// under that address go to it (nothing is sent when there are none, and the asker is never
    /// told which).
    ResendTickets,
    /// An integrator's webhook endpoint failed for too long and was disabled: the organisers
    /// are told.
    EndpointDisabled,
}

impl NotificationTopic {
    /// Every topic.
    pub const ALL: [NotificationTopic; 7] = [
        Self::TicketCreated,
        Self::PaymentSucceeded,
        Self::PaymentAlert,
        Self::Refunded,
        Self::SuspiciousActivity,
        Self::ResendTickets,
        Self::EndpointDisabled,
    ];

    /// The stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TicketCreated => "ticket_created",
            Self::PaymentSucceeded => "payment_succeeded",
            Self::PaymentAlert => "payment_alert",
            Self::Refunded => "refunded",
            Self::SuspiciousActivity => "suspicious_activity",
            Self::ResendTickets => "resend_tickets",
            Self::EndpointDisabled => "endpoint_disabled",
        }
    }
}

impl FromStr for NotificationTopic {
    type Err = UnknownJobStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| UnknownJobStatus(s.to_owned()))
    }
}

/// A notification to send: about an order, or about a ticket issued to its holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// What it is about.
    pub topic: NotificationTopic,
    /// The order it concerns (every topic but `ticket_created`, and `suspicious_activity` and
    /// `resend_tickets`, which concern the job's event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// The ticket it concerns (`ticket_created`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<TicketId>,
    /// Why, for alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The email address whose tickets are asked for (`resend_tickets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Notification {
    /// A notification job's attempts (see [`Job::notify`]).
    pub const ATTEMPTS: u32 = 30;
}

impl JobTask {
    /// The kind name of [`JobTask::GenerateTickets`].
    pub const GENERATE_TICKETS: &'static str = "generate_tickets";
    /// The kind name of [`JobTask::ExpireOrder`].
    pub const EXPIRE_ORDER: &'static str = "expire_order";
    /// The kind name of [`JobTask::Notify`].
    pub const NOTIFY: &'static str = "notify";
    /// The kind name of [`JobTask::RefundPayment`].
    pub const REFUND_PAYMENT: &'static str = "refund_payment";
    /// The kind name of [`JobTask::DeliverWebhook`].
    pub const DELIVER_WEBHOOK: &'static str = "deliver_webhook";
    /// Every kind name.
    pub const KINDS: &'static [&'static str] =
        &[Self::GENERATE_TICKETS, Self::EXPIRE_ORDER, Self::NOTIFY, Self::REFUND_PAYMENT, Self::DELIVER_WEBHOOK];

    /// The kind name (the serde tag).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::GenerateTickets(_) => Self::GENERATE_TICKETS,
            Self::ExpireOrder { .. } => Self::EXPIRE_ORDER,
            Self::Notify(_) => Self::NOTIFY,
            Self::RefundPayment { .. } => Self::REFUND_PAYMENT,
            Self::DeliverWebhook(_) => Self::DELIVER_WEBHOOK,
        }
    }
}

/// How far a job has got: `done` of `total` units (tickets, for a generation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Units committed.
    pub done: u64,
    /// Units in all.
    pub total: u64,
}

/// A worker's hold on a running job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The worker's name (unique per worker process and task).
    pub worker: String,
    /// Until when; after this, another worker may claim the job.
    pub until: DateTime<Utc>,
}

/// How many ended jobs a purge deleted ([`crate::store::JobQueue::purge_jobs`]): what the purge
/// writes, for its audit entry ([`crate::audit::Pending`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct JobsPurged(pub u64);

/// A job and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The id.
    pub id: JobId,
    /// What to do.
    pub task: JobTask,
    /// The event it concerns, for listings and permissions.
    pub event_id: Option<EventId>,
    /// Higher runs first among jobs due at the same time.
    pub priority: i32,
    /// Where it is.
    pub status: JobStatus,
    /// Claims so far (the first run is attempt 1).
    pub attempts: u32,
    /// Claims allowed before it fails for good.
    pub max_attempts: u32,
    /// Not claimed before this.
    pub run_at: DateTime<Utc>,
    /// The current hold, while running.
    pub lease: Option<Lease>,
    /// How far it has got.
    pub progress: Progress,
    /// A cancel was asked while it ran; the worker stops at its next step.
    pub cancel_requested: bool,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Job {
    /// A queued job, due at `now`, with [`RetryPolicy::DEFAULT_ATTEMPTS`] attempts.
    pub fn new(id: JobId, task: JobTask, event_id: Option<EventId>, total: u64, now: DateTime<Utc>) -> Self {
        Self {
            id,
            task,
            event_id,
            priority: 0,
            status: JobStatus::Queued,
            attempts: 0,
            max_attempts: RetryPolicy::DEFAULT_ATTEMPTS,
            run_at: now,
            lease: None,
            progress: Progress { done: 0, total },
            cancel_requested: false,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// A notification job, due at `now`. It has [`Notification::ATTEMPTS`] attempts: with the
    /// default backoff (10 s, doubling, at most an hour) a channel may be out for about a day
    /// before its messages are dead.
    pub fn notify(id: JobId, notification: Notification, event_id: Option<EventId>, now: DateTime<Utc>) -> Self {
        Self { max_attempts: Notification::ATTEMPTS, ..Self::new(id, JobTask::Notify(notification), event_id, 1, now) }
    }

    /// A webhook delivery job, due at `now`, with [`Delivery::ATTEMPTS`] attempts.
    pub fn deliver(id: JobId, delivery: Delivery, event_id: Option<EventId>, now: DateTime<Utc>) -> Self {
        Self { max_attempts: Delivery::ATTEMPTS, ..Self::new(id, JobTask::DeliverWebhook(delivery), event_id, 1, now) }
    }

    /// The same job with another priority.
    #[must_use]
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// The same job with another attempt budget (at least one).
    #[must_use]
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// The kind name workers claim it by.
    pub fn kind(&self) -> &'static str {
        self.task.kind()
    }

    /// Whether every unit of work is committed.
    pub fn is_complete(&self) -> bool {
        self.progress.total > 0 && self.progress.done >= self.progress.total
    }
}

/// How a worker ends its hold on a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEnd {
    /// The work is done.
    Succeeded,
    /// This attempt failed; it runs again at `retry_at` if attempts are left, else it fails.
    Failed {
        /// Why.
        error: String,
        /// When to try again.
        retry_at: DateTime<Utc>,
    },
    /// Failed in a way another attempt cannot fix (a quota is full, the type is gone).
    Abandoned {
        /// Why.
        error: String,
    },
    /// The worker saw a cancel request and stopped.
    Cancelled,
    /// The worker stops before the job ends (its server is shutting down): the job is queued
    /// again, due now, with its progress as committed and the attempt given back, so the next
    /// claim of any worker resumes it.
    Released,
}

/// The answer to a worker that reports on a job it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseCheck {
    /// The worker still holds the job; the report was applied.
    Held,
    /// A cancel was requested: nothing was applied; stop and end the job as cancelled.
    CancelRequested,
    /// The lease lapsed or the job changed hands: nothing was applied; stop without ending it.
    Lost,
}

/// The retry rule: exponential backoff from `base`, doubled per failed attempt, capped at `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl RetryPolicy {
    /// Attempts a new job gets unless told otherwise.
    pub const DEFAULT_ATTEMPTS: u32 = 5;

    /// The delay before attempt `attempts + 1`, after `attempts` failures (1 or more).
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        let factor = 1i32 << doublings;
        self.base.checked_mul(factor).map_or(self.max, |d| d.min(self.max))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::seconds(10), max: Duration::hours(1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let policy = RetryPolicy { base: Duration::seconds(10), max: Duration::minutes(5) };
        let delays: Vec<i64> = (1..=7).map(|a| policy.delay(a).num_seconds()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(policy.delay(u32::MAX), Duration::minutes(5));
    }

    #[test]
    fn statuses_round_trip_and_final_ones_are_known() {
        for status in
            [JobStatus::Queued, JobStatus::Running, JobStatus::Succeeded, JobStatus::Failed, JobStatus::Cancelled]
        {
            assert_eq!(status.as_str().parse::<JobStatus>(), Ok(status));
        }
        assert!(JobStatus::Failed.is_final() && !JobStatus::Running.is_final());
        assert!("paused".parse::<JobStatus>().is_err());
    }
}
