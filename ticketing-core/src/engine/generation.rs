//! Bulk generation as a durable job, and the worker step that runs jobs.
//!
//! [`Ticketing::start_generation`] checks the request and enqueues a
//! [`JobTask::GenerateTickets`] job. A worker calls [`Ticketing::run_next_job`], which claims the
//! most urgent due job and generates its tickets a chunk at a time: each chunk is committed
//! together with the job's progress ([`JobQueue::commit_chunk`](crate::store::JobQueue::commit_chunk)), so a worker that dies leaves
//! the job at its last committed chunk. Once its lease lapses, the next claim resumes from there:
//! no duplicates, no gaps. Quota and capacity are checked again by every chunk's commit, so a
//! generation racing with sales never oversells; if the room runs out midway the job fails with
//! what it made so far counted in its progress.

use chrono::{DateTime, Utc};

use super::tickets::CODE_DRAWS;
use super::{Error, Ticketing};
use crate::event::EventStatus;
use crate::ids::{JobId, TicketTypeId};
use crate::job::{GenerateTickets, Job, JobEnd, JobTask, Lease, LeaseCheck};
use crate::magic_link::MagicLink;
use crate::quota;
use crate::secret_token::SecretToken;
use crate::status::TicketStatus;
use crate::store::{Store, StoreError, TicketBatch};
use crate::template::TemplatePin;
use crate::ticket::{Holder, HolderSpec};

/// A request to generate anonymous tickets of one type in the background.
#[derive(Clone, Debug)]
pub struct GenerationRequest {
    /// The type.
    pub ticket_type_id: TicketTypeId,
    /// How many tickets (at least one).
    pub count: u32,
    /// `issued`, `reserved` or `paid`.
    pub status: TicketStatus,
    /// Higher runs first.
    pub priority: i32,
    /// One holder per ticket, when not empty: then `count` must equal their number.
    pub holders: Vec<HolderSpec>,
    /// The template version the tickets are pinned to, if chosen.
    pub template: Option<TemplatePin>,
    /// Whether each ticket goes to its holder (email or text message, with its link), when the
    /// holder gave an address or a number. Only with holders.
    pub notify: bool,
}

/// What one call of [`Ticketing::run_next_job`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRun {
    /// The job as it is afterwards.
    pub job: Job,
    /// Units committed by this run (tickets, for a generation).
    pub made: u64,
}

/// A job a worker has claimed, and its lease: run it with
/// [`Ticketing::run_claimed_job`], keep it with [`Ticketing::heartbeat_job`].
#[derive(Clone, Debug)]
pub struct ClaimedJob {
    job: Job,
    lease: Lease,
}

impl ClaimedJob {
    /// The job as claimed.
    pub fn job(&self) -> &Job {
        &self.job
    }
}

/// How one run of a generation ended.
pub(super) enum Step {
    Done,
    Cancelled,
    LeaseLost,
    Failed(String),
    Abandoned(String),
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// Checks a generation and enqueues it as a job. Refused at once when the type's quota or the
    /// event's capacity has no room for `count` now; each chunk checks again as it commits.
    pub async fn start_generation(&self, request: &GenerationRequest) -> Result<Job, Error> {
        if request.count == 0 {
            return Err(Error::Invalid("a generation makes at least one ticket"));
        }
        if !request.status.is_initial() {
            return Err(Error::Invalid("tickets are generated issued, reserved or paid"));
        }
        if !request.holders.is_empty() && request.holders.len() != request.count as usize {
            return Err(Error::Invalid("a generation with holders makes one ticket per holder"));
        }
        if request.notify && request.holders.is_empty() {
            return Err(Error::Invalid("only tickets with holders can be sent to them"));
        }
        // Every holder is checked now, so the job cannot fail on one halfway.
        Holder::list(&request.holders)?;
        if let Some(pin) = request.template {
            self.store
                .template_version(pin.template_id, Some(pin.version))
                .await?
                .ok_or(Error::NotFound("template"))?;
        }
        let ticket_type = self.ticket_type(request.ticket_type_id).await?;
        let event = self.event(ticket_type.event_id()).await?;
        if matches!(event.status(), EventStatus::Cancelled | EventStatus::Ended) {
            return Err(Error::EventClosed(event.status()));
        }
        let allocation = self.store.allocation(ticket_type.id()).await?;
        quota::check_issue(ticket_type.quota(), event.capacity(), allocation, request.count)?;
        let task = JobTask::GenerateTickets(GenerateTickets {
            ticket_type_id: ticket_type.id(),
            status: request.status,
            chunk_size: self.config.generation_chunk.max(1),
            holders: request.holders.clone(),
            template: request.template,
            links: true,
            notify: request.notify,
        });
        let now = self.clock.now();
        let job =
            Job::new(JobId::generate(&*self.clock, &*self.rng), task, Some(event.id()), request.count.into(), now)
                .with_priority(request.priority);
        crate::audit::writing(&job);
        self.store.enqueue(&job).await?;
        Ok(job)
    }

    /// A job by id.
    pub async fn job(&self, id: JobId) -> Result<Job, Error> {
        self.store.job(id).await?.ok_or(Error::NotFound("job"))
    }

    /// Cancels a job: a queued one at once, a running one at its worker's next chunk.
    pub async fn cancel_job(&self, id: JobId) -> Result<Job, Error> {
        Ok(self.store.cancel_job(id, self.clock.now()).await?)
    }

    /// Queues a failed or cancelled job again; a generation resumes where it stopped.
    pub async fn retry_job(&self, id: JobId) -> Result<Job, Error> {
        Ok(self.store.retry_job(id, self.clock.now()).await?)
    }

    /// Claims the most urgent due job and runs it until it ends or its lease is lost. Returns the
    /// job as it is afterwards with what this run made, or `None` when no job was due. `worker` names the calling worker
    /// (a random suffix makes each claim's lease unique). Storage failures during the run end the
    /// attempt with a retry. Errors: the claim, or the final report, failed; then the lease lapses
    /// and the job is claimed again (a job whose work was all committed then succeeds).
    ///
    /// A worker that can keep time splits this in two, to send heartbeats meanwhile:
    /// [`claim_next_job`](Self::claim_next_job), then [`run_claimed_job`](Self::run_claimed_job)
    /// beside [`heartbeat_job`](Self::heartbeat_job) every third of the lease.
    pub async fn run_next_job(&self, worker: &str) -> Result<Option<JobRun>, Error> {
        match self.claim_next_job(worker).await? {
            Some(claimed) => self.run_claimed_job(claimed).await.map(Some),
            None => Ok(None),
        }
    }

    /// Claims the most urgent due notification and runs it, like
    /// [`run_next_job`](Self::run_next_job) does other jobs.
    pub async fn run_next_notification(&self, worker: &str) -> Result<Option<JobRun>, Error> {
        match self.claim_next_notification(worker).await? {
            Some(claimed) => self.run_claimed_job(claimed).await.map(Some),
            None => Ok(None),
        }
    }

    /// Claims the most urgent due job for `worker`, under a lease of the configured length:
    /// a generation, a hold's expiry or a refund (notifications have workers of their own:
    /// [`claim_next_notification`](Self::claim_next_notification)).
    pub async fn claim_next_job(&self, worker: &str) -> Result<Option<ClaimedJob>, Error> {
        self.claim_of(&[JobTask::GENERATE_TICKETS, JobTask::EXPIRE_ORDER, JobTask::REFUND_PAYMENT], worker).await
    }

    /// Claims the most urgent due notification or webhook delivery for `worker`; run it with
    /// [`run_claimed_job`](Self::run_claimed_job). A slow channel or endpoint then never holds
    /// up a generation or a hold's end.
    pub async fn claim_next_notification(&self, worker: &str) -> Result<Option<ClaimedJob>, Error> {
        self.claim_of(&[JobTask::NOTIFY, JobTask::DELIVER_WEBHOOK], worker).await
    }

    async fn claim_of(&self, kinds: &[&str], worker: &str) -> Result<Option<ClaimedJob>, Error> {
        let now = self.clock.now();
        let lease = Lease {
            worker: format!("{worker}/{}", SecretToken::<12>::generate(&*self.rng).as_text()),
            until: now + self.config.job_lease,
        };
        let job = self.store.claim(kinds, &lease, now).await?;
        Ok(job.map(|job| ClaimedJob { job, lease }))
    }

    /// Extends a claimed job's lease to a full lease from now, while its run goes on (between
    /// two committed chunks, or during a long one). `Lost` or `CancelRequested`: stop beating;
    /// the run sees it at its next report.
    pub async fn heartbeat_job(&self, claimed: &ClaimedJob) -> Result<LeaseCheck, Error> {
        let now = self.clock.now();
        let lease = Lease { worker: claimed.lease.worker.clone(), until: now + self.config.job_lease };
        // Progress only ever moves forward: the claim's own is never more than the committed one.
        Ok(self.store.heartbeat(claimed.job.id, &lease, claimed.job.progress.done, now).await?)
    }

    /// Gives a claimed job back to the queue, for a worker that stops before the job ends (its
    /// server shutting down): it is queued again, due now, with its attempt given back
    /// ([`JobEnd::Released`]), so the next claim of any worker resumes it from its last committed
    /// chunk. `Lost` when the worker no longer held it. The worker must not run it any further.
    pub async fn release_job(&self, claimed: &ClaimedJob) -> Result<LeaseCheck, Error> {
        Ok(self.store.finish_job(claimed.job.id, &claimed.lease, &JobEnd::Released, self.clock.now()).await?)
    }

    /// Runs a job claimed by [`claim_next_job`](Self::claim_next_job) until it ends or its lease
    /// is lost (see [`run_next_job`](Self::run_next_job)).
    pub async fn run_claimed_job(&self, claimed: ClaimedJob) -> Result<JobRun, Error> {
        let ClaimedJob { job, mut lease } = claimed;
        let mut expired = 0;
        let step = match &job.task {
            JobTask::GenerateTickets(spec) => self.generate(&job, spec, &mut lease).await,
            JobTask::ExpireOrder { order_id } => match self.expire_order(*order_id, false).await {
                Ok((_, changed)) => {
                    expired = u64::from(changed);
                    Step::Done
                }
                Err(Error::NotFound(what)) => Step::Abandoned(format!("{what} not found")),
                Err(e) => Step::Failed(e.to_string()),
            },
            JobTask::Notify(notification) => self.notify(&job, notification).await,
            JobTask::RefundPayment { refund_id } => match self.send_refund(*refund_id).await {
                Ok(_) => Step::Done,
                Err(super::SendError::Gone) => Step::Abandoned("refund not found".into()),
                Err(super::SendError::Retry(why)) => Step::Failed(why),
            },
            JobTask::DeliverWebhook(delivery) => self.deliver(&job, delivery).await,
        };
        let now = self.clock.now();
        let report = |after: Job| {
            let made = after.progress.done.saturating_sub(job.progress.done) + expired;
            Ok(JobRun { job: after, made })
        };
        let end = match step {
            Step::LeaseLost => return report(self.job(job.id).await?),
            Step::Done => JobEnd::Succeeded,
            Step::Cancelled => JobEnd::Cancelled,
            Step::Abandoned(error) => JobEnd::Abandoned { error },
            Step::Failed(error) => JobEnd::Failed { error, retry_at: now + self.config.job_retry.delay(job.attempts) },
        };
        // If this report fails too, the lease lapses and the job is claimed again: nothing lost.
        // A cancel asked after the last chunk still ends the job as cancelled.
        if self.store.finish_job(job.id, &lease, &end, now).await? == LeaseCheck::CancelRequested {
            self.store.finish_job(job.id, &lease, &JobEnd::Cancelled, now).await?;
        }
        report(self.job(job.id).await?)
    }

    async fn generate(&self, job: &Job, spec: &GenerateTickets, lease: &mut Lease) -> Step {
        let ticket_type = match self.ticket_type(spec.ticket_type_id).await {
            Ok(ticket_type) => ticket_type,
            Err(Error::NotFound(what)) => return Step::Abandoned(format!("{what} not found")),
            Err(e) => return Step::Failed(e.to_string()),
        };
        // The event may have closed since the job was queued (or before a retry).
        match self.event(ticket_type.event_id()).await {
            Ok(event) if matches!(event.status(), EventStatus::Cancelled | EventStatus::Ended) => {
                return Step::Abandoned(Error::EventClosed(event.status()).to_string());
            }
            Ok(_) => {}
            Err(Error::NotFound(what)) => return Step::Abandoned(format!("{what} not found")),
            Err(e) => return Step::Failed(e.to_string()),
        }
        let chunk = spec.chunk_size.max(1) as usize;
        let holders: Vec<Option<Holder>> = if spec.holders.is_empty() {
            vec![None; usize::try_from(job.progress.total).unwrap_or(usize::MAX).min(chunk)]
        } else {
            match Holder::list(&spec.holders) {
                Ok(holders) => holders.into_iter().map(Some).collect(),
                Err(e) => return Step::Abandoned(e.to_string()),
            }
        };
        let mut done = job.progress.done;
        while done < job.progress.total {
            let left = usize::try_from(job.progress.total - done).unwrap_or(usize::MAX).min(chunk);
            let these = if spec.holders.is_empty() {
                holders.get(..left)
            } else {
                usize::try_from(done).ok().and_then(|from| holders.get(from..from.saturating_add(left)))
            };
            let Some(these) = these.filter(|h| !h.is_empty()) else {
                return Step::Abandoned("the job's holders do not match its count".into());
            };
            match self.commit_chunk(job.id, lease, &ticket_type, these, spec, done).await {
                Ok(LeaseCheck::Held) => {
                    done += these.len() as u64;
                    // A store that never waits (memory) must not hold the executor for a whole run.
                    yield_now().await;
                }
                Ok(LeaseCheck::CancelRequested) => return Step::Cancelled,
                Ok(LeaseCheck::Lost) => return Step::LeaseLost,
                Err(e @ (Error::Quota(_) | Error::NotFound(_) | Error::Invalid(_) | Error::Ticket(_))) => {
                    return Step::Abandoned(e.to_string());
                }
                Err(e) => return Step::Failed(e.to_string()),
            }
        }
        Step::Done
    }

    /// One chunk, drawn again if a short code collides.
    async fn commit_chunk(
        &self,
        id: JobId,
        lease: &mut Lease,
        ticket_type: &crate::ticket_type::TicketType,
        holders: &[Option<Holder>],
        spec: &GenerateTickets,
        done: u64,
    ) -> Result<LeaseCheck, Error> {
        for draw in 1..=CODE_DRAWS {
            let now: DateTime<Utc> = self.clock.now();
            lease.until = now + self.config.job_lease;
            let codes = self.fresh_codes(holders.len()).await?;
            let tickets = self.draw_tickets(ticket_type, holders, codes, spec.status, now)?;
            let links: Vec<MagicLink> = if spec.links || spec.notify {
                self.links_for(&tickets, now, None).into_iter().map(|(_, link)| link).collect()
            } else {
                vec![]
            };
            let mut told: Vec<Job> = if spec.notify {
                tickets
                    .iter()
                    .filter(|t| t.holder().is_some_and(Holder::reachable))
                    .map(|t| self.ticket_created(t))
                    .collect()
            } else {
                vec![]
            };
            told.extend(self.created_hooks(&tickets).await?);
            let batch = TicketBatch { tickets: &tickets, links: &links, template: spec.template };
            match self.store.commit_chunk(id, lease, done, &batch, &told, now).await {
                Err(StoreError::Conflict(_)) if draw < CODE_DRAWS => continue,
                other => return Ok(other?),
            }
        }
        Err(Error::Conflict("could not draw unique short codes".into()))
    }
}

/// Gives the executor a turn: pending once, then ready. Runtime-agnostic, so the core stays free of
/// any runtime.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}
