//! The job queue in memory: the same rules as the SQL queue, under the store's one mutex.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MemoryStore, State, page};
use crate::audit;
use crate::ids::JobId;
use crate::job::{Job, JobEnd, JobStatus, JobTask, JobsPurged, LAPSED_ON_LAST_ATTEMPT, Lease, LeaseCheck};
use crate::store::{JobFilter, JobQueue, StoreError, TicketBatch};

impl State {
    pub(super) fn push_job(&mut self, job: Job) {
        self.job_order.push(job.id);
        self.jobs.insert(job.id, job);
    }

    /// Whether `lease` still holds job `id`.
    fn check(&self, id: JobId, lease: &Lease) -> Result<LeaseCheck, StoreError> {
        let job = self.jobs.get(&id).ok_or(StoreError::NotFound("job"))?;
        let holds = job.status == JobStatus::Running && job.lease.as_ref().is_some_and(|l| l.worker == lease.worker);
        Ok(if !holds {
            LeaseCheck::Lost
        } else if job.cancel_requested {
            LeaseCheck::CancelRequested
        } else {
            LeaseCheck::Held
        })
    }

    fn job_mut(&mut self, id: JobId) -> Result<&mut Job, StoreError> {
        self.jobs.get_mut(&id).ok_or(StoreError::NotFound("job"))
    }
}

fn end(job: &mut Job, status: JobStatus, error: Option<String>, now: DateTime<Utc>) {
    job.status = status;
    job.lease = None;
    job.last_error = error;
    job.updated_at = now;
}

#[async_trait]
impl JobQueue for MemoryStore {
    async fn enqueue(&self, job: &Job) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        s.insert_tickets(&TicketBatch::plain(&[]), std::slice::from_ref(job))?;
        s.audit_commit(due);
        Ok(())
    }

    async fn claim(&self, kinds: &[&str], lease: &Lease, now: DateTime<Utc>) -> Result<Option<Job>, StoreError> {
        let mut s = self.state();
        let lapsed = |j: &Job| j.status == JobStatus::Running && j.lease.as_ref().is_some_and(|l| l.until <= now);
        // Lapsed jobs that must not run again end first: a finished one (its worker died before
        // saying so) succeeds, a cancelled one is cancelled, one out of attempts fails.
        for job in s.jobs.values_mut().filter(|j| lapsed(j)) {
            if job.is_complete() {
                end(job, JobStatus::Succeeded, None, now);
            } else if job.cancel_requested {
                end(job, JobStatus::Cancelled, job.last_error.clone(), now);
            } else if job.attempts >= job.max_attempts {
                end(job, JobStatus::Failed, Some(LAPSED_ON_LAST_ATTEMPT.into()), now);
            }
        }
        let best = s
            .job_order
            .iter()
            .enumerate()
            .filter_map(|(seq, id)| s.jobs.get(id).map(|j| (seq, j)))
            .filter(|(_, j)| kinds.contains(&j.kind()))
            .filter(|(_, j)| (j.status == JobStatus::Queued && j.run_at <= now) || lapsed(j))
            .min_by_key(|(seq, j)| (std::cmp::Reverse(j.priority), j.run_at, *seq))
            .map(|(_, j)| j.id);
        let Some(id) = best else { return Ok(None) };
        let job = s.job_mut(id)?;
        job.status = JobStatus::Running;
        job.attempts += 1;
        job.lease = Some(lease.clone());
        job.updated_at = now;
        Ok(Some(job.clone()))
    }

    async fn heartbeat(
        &self,
        id: JobId,
        lease: &Lease,
        done: u64,
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError> {
        let mut s = self.state();
        let check = s.check(id, lease)?;
        if check != LeaseCheck::Held {
            return Ok(check);
        }
        let job = s.job_mut(id)?;
        // Progress never goes back: what is committed stays counted.
        job.progress.done = job.progress.done.max(done);
        job.lease = Some(lease.clone());
        job.updated_at = now;
        Ok(LeaseCheck::Held)
    }

    async fn commit_chunk(
        &self,
        id: JobId,
        lease: &Lease,
        done_before: u64,
        batch: &TicketBatch<'_>,
        jobs: &[Job],
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError> {
        let mut s = self.state();
        let check = s.check(id, lease)?;
        if check != LeaseCheck::Held {
            return Ok(check);
        }
        if s.job_mut(id)?.progress.done != done_before {
            return Ok(LeaseCheck::Lost);
        }
        s.insert_tickets(batch, jobs)?;
        let job = s.job_mut(id)?;
        job.progress.done = done_before + batch.tickets.len() as u64;
        job.lease = Some(lease.clone());
        job.updated_at = now;
        Ok(LeaseCheck::Held)
    }

    async fn finish_job(
        &self,
        id: JobId,
        lease: &Lease,
        how: &JobEnd,
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError> {
        let mut s = self.state();
        match s.check(id, lease)? {
            LeaseCheck::Held => {}
            // A worker that saw the cancel request ends the job as cancelled.
            LeaseCheck::CancelRequested if *how == JobEnd::Cancelled => {}
            check => return Ok(check),
        }
        let job = s.job_mut(id)?;
        match how {
            JobEnd::Succeeded => end(job, JobStatus::Succeeded, None, now),
            JobEnd::Cancelled => end(job, JobStatus::Cancelled, None, now),
            JobEnd::Abandoned { error } => end(job, JobStatus::Failed, Some(error.clone()), now),
            JobEnd::Failed { error, .. } if job.attempts >= job.max_attempts => {
                // run_at stays: the job will not run again unless retried.
                end(job, JobStatus::Failed, Some(error.clone()), now);
            }
            JobEnd::Failed { error, retry_at } => {
                end(job, JobStatus::Queued, Some(error.clone()), now);
                job.run_at = *retry_at;
            }
            JobEnd::Released => {
                let error = job.last_error.clone();
                end(job, JobStatus::Queued, error, now);
                job.run_at = now;
                job.attempts = job.attempts.saturating_sub(1);
            }
        }
        Ok(LeaseCheck::Held)
    }

    async fn cancel_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut s = self.state();
        let mut job = s.job_mut(id)?.clone();
        match job.status {
            JobStatus::Queued => {
                let error = job.last_error.clone();
                end(&mut job, JobStatus::Cancelled, error, now);
            }
            JobStatus::Running if !job.cancel_requested => {
                job.cancel_requested = true;
                job.updated_at = now;
            }
            _ => {}
        }
        audit::writing(&job);
        let due = s.audit_due()?;
        *s.job_mut(id)? = job.clone();
        s.audit_commit(due);
        Ok(job)
    }

    async fn retry_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut s = self.state();
        let mut job = s.job_mut(id)?.clone();
        if !matches!(job.status, JobStatus::Failed | JobStatus::Cancelled) {
            return Err(StoreError::Conflict(format!("a {} job cannot be retried", job.status)));
        }
        job.status = JobStatus::Queued;
        job.attempts = 0;
        job.cancel_requested = false;
        job.run_at = now;
        job.updated_at = now;
        audit::writing(&job);
        let due = s.audit_due()?;
        *s.job_mut(id)? = job.clone();
        s.audit_commit(due);
        Ok(job)
    }

    async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        Ok(self.state().jobs.get(&id).cloned())
    }

    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let s = self.state();
        let matching = s
            .job_order
            .iter()
            .rev()
            .filter_map(|id| s.jobs.get(id))
            .filter(|j| filter.event_id.is_none_or(|e| j.event_id == Some(e)))
            .filter(|j| filter.status.is_none_or(|st| j.status == st))
            .map(|j| {
                let mut listed = j.clone();
                if let JobTask::GenerateTickets(spec) = &mut listed.task {
                    spec.holders = Vec::new();
                }
                listed
            });
        Ok(page(matching, 0, filter.limit))
    }

    async fn count_jobs(&self, kind: &str, status: JobStatus) -> Result<u64, StoreError> {
        Ok(self.state().jobs.values().filter(|j| j.kind() == kind && j.status == status).count() as u64)
    }

    async fn purge_jobs(&self, ended_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut s = self.state();
        let gone: Vec<JobId> =
            s.jobs.values().filter(|j| j.status.is_final() && j.updated_at < ended_before).map(|j| j.id).collect();
        let purged = JobsPurged(gone.len() as u64);
        audit::writing(&purged);
        let due = s.audit_due()?;
        for id in &gone {
            s.jobs.remove(id);
        }
        s.job_order.retain(|id| !gone.contains(id));
        s.audit_commit(due);
        Ok(purged.0)
    }
}
