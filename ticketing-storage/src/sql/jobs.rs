//! The durable job queue in the database. Shared by the SQL backends; the claim's row locking is
//! the dialect's `SKIP_LOCKED` (`FOR UPDATE SKIP LOCKED` on Postgres, so concurrent claimers take
//! different jobs without waiting; nothing on SQLite, whose single writer already serialises the
//! claim's transaction).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};
use ticketing_core::audit;
use ticketing_core::ids::{EventId, JobId};
use ticketing_core::job::{
    Job, JobEnd, JobStatus, JobTask, JobsPurged, LAPSED_ON_LAST_ATTEMPT, Lease, LeaseCheck, Progress,
};
use ticketing_core::store::{JobFilter, JobQueue, StoreError, TicketBatch};
use uuid::Uuid;

use super::{Conn, Db, DbRow, DbStore, LISTED_TASK, SKIP_LOCKED, extras, tickets};
use crate::codec::{Param, corrupt, count, db_error, instant, micros, opt_instant};
use crate::exec::{Exec, Table};

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn job_from_row(row: &DbRow) -> Result<Job, StoreError> {
    let get_i64 = |c: &str| row.try_get::<i64, _>(c).map_err(db_error);
    let unsigned = |c: &str| get_i64(c).and_then(|n| u64::try_from(n).map_err(|_| corrupt(c, n)));
    let task: String = row.try_get("task").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    let owner: Option<String> = row.try_get("lease_owner").map_err(db_error)?;
    let until = opt_instant(row.try_get("lease_until").map_err(db_error)?)?;
    Ok(Job {
        id: JobId::from_uuid(row.try_get("id").map_err(db_error)?),
        task: serde_json::from_str::<JobTask>(&task).map_err(|e| corrupt("job task", e))?,
        event_id: row.try_get::<Option<Uuid>, _>("event_id").map_err(db_error)?.map(EventId::from_uuid),
        priority: i32::try_from(get_i64("priority")?).map_err(|e| corrupt("job priority", e))?,
        status: status.parse().map_err(|_| corrupt("job status", &status))?,
        attempts: count(get_i64("attempts")?)?,
        max_attempts: count(get_i64("max_attempts")?)?,
        run_at: instant(get_i64("run_at")?)?,
        lease: owner.zip(until).map(|(worker, until)| Lease { worker, until }),
        progress: Progress { done: unsigned("progress_done")?, total: unsigned("progress_total")? },
        cancel_requested: row.try_get("cancel_requested").map_err(db_error)?,
        last_error: row.try_get("last_error").map_err(db_error)?,
        created_at: instant(get_i64("created_at")?)?,
        updated_at: instant(get_i64("updated_at")?)?,
    })
}

/// Enqueues `job` on `conn`: inside the caller's transaction when `conn` is one, so the job is
/// written with the change that caused it or not at all.
pub async fn enqueue_in(conn: &mut Conn, job: &Job) -> Result<(), StoreError> {
    enqueue_on(conn, job).await
}

/// [`enqueue_in`] on any statement runner (a SQLite lane's transaction too).
pub(super) async fn enqueue_on<E: Exec>(e: &mut E, job: &Job) -> Result<(), StoreError> {
    let mut params = Vec::with_capacity(JOBS.width);
    job_params(job, &mut params)?;
    e.execute(JOBS.insert(1).into(), params).await.map(drop)
}

/// The jobs' insert.
pub(super) const JOBS: Table = Table {
    head: "INSERT INTO jobs (id, kind, task, event_id, priority, status, attempts, max_attempts, run_at, lease_owner, \
           lease_until, progress_done, progress_total, cancel_requested, last_error, created_at, updated_at)",
    width: 17,
};

/// The parameters of one job's row in [`JOBS`].
pub(super) fn job_params(job: &Job, params: &mut Vec<Param>) -> Result<(), StoreError> {
    let task = serde_json::to_string(&job.task).map_err(|e| corrupt("job task", e))?;
    params.extend([
        Param::Uuid(Some(*job.id.as_uuid())),
        Param::name(job.kind()),
        Param::Text(Some(task)),
        Param::Uuid(job.event_id.map(|e| *e.as_uuid())),
        Param::Int(Some(i64::from(job.priority))),
        Param::name(job.status.as_str()),
        Param::Int(Some(i64::from(job.attempts))),
        Param::Int(Some(i64::from(job.max_attempts))),
        Param::Int(Some(micros(job.run_at))),
        Param::Text(job.lease.as_ref().map(|l| l.worker.clone())),
        Param::Int(job.lease.as_ref().map(|l| micros(l.until))),
        Param::unsigned(job.progress.done),
        Param::unsigned(job.progress.total),
        Param::Flag(Some(job.cancel_requested)),
        Param::Text(job.last_error.clone()),
        Param::Int(Some(micros(job.created_at))),
        Param::Int(Some(micros(job.updated_at))),
    ]);
    Ok(())
}

async fn fetch(conn: &mut Conn, id: JobId) -> Result<Option<Job>, StoreError> {
    let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
        .bind(*id.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    row.as_ref().map(job_from_row).transpose()
}

/// Why a report from `lease` on job `id` was not applied.
async fn refused(conn: &mut Conn, id: JobId, lease: &Lease) -> Result<LeaseCheck, StoreError> {
    let job = fetch(conn, id).await?.ok_or(StoreError::NotFound("job"))?;
    let holds = job.status == JobStatus::Running && job.lease.is_some_and(|l| l.worker == lease.worker);
    Ok(if holds && job.cancel_requested { LeaseCheck::CancelRequested } else { LeaseCheck::Lost })
}

/// How many times a claim picks again when every due job of its pick's group was taken by other
/// claims meanwhile.
const CLAIM_RACES: usize = 8;

/// The most urgent due queued job of `kinds` (highest priority, then earliest due, then oldest)
/// as its kind, priority, due time and `seq`, in a few index probes however long the queue is: a
/// skip scan of `jobs_next` (kind, priority DESC, run_at, seq). It walks each kind's distinct
/// priorities (one probe each: a kind's jobs mostly share one), takes each priority's first due
/// job (one probe: the due time bounds the range), and keeps the best; each probe reads
/// `jobs_next` alone. A plain `ORDER BY … LIMIT 1` over the kinds sorted every due job on each
/// claim (a backlog of notifications made each claim cost milliseconds), and one over a single
/// kind walks every job not yet due (a sale's holds, due in minutes) when none is due. It locks
/// nothing: [`take_due`] takes a row of the group it found.
fn next_due(kinds: &[&str], now: DateTime<Utc>) -> QueryBuilder<Db> {
    let mut sql = QueryBuilder::<Db>::new("WITH RECURSIVE k(kind) AS (");
    for (i, kind) in kinds.iter().enumerate() {
        sql.push(if i == 0 { "SELECT " } else { " UNION ALL SELECT " }).push_bind(*kind);
    }
    sql.push(
        "), p(kind, priority) AS (SELECT k.kind, (SELECT j.priority FROM jobs j WHERE j.kind = k.kind \
         AND j.status = 'queued' ORDER BY j.priority DESC LIMIT 1) FROM k \
         UNION ALL SELECT p.kind, (SELECT j.priority FROM jobs j WHERE j.kind = p.kind AND j.status = 'queued' \
         AND j.priority < p.priority ORDER BY j.priority DESC LIMIT 1) FROM p WHERE p.priority IS NOT NULL), \
         c(kind, priority, run_at, seq) AS (SELECT p.kind, p.priority, (SELECT j.run_at FROM jobs j WHERE j.kind = p.kind \
         AND j.status = 'queued' AND j.priority = p.priority AND j.run_at <= ",
    )
    .push_bind(micros(now))
    .push(
        " ORDER BY j.run_at, j.seq LIMIT 1), (SELECT j.seq FROM jobs j WHERE j.kind = p.kind \
         AND j.status = 'queued' AND j.priority = p.priority AND j.run_at <= ",
    )
    .push_bind(micros(now))
    .push(
        " ORDER BY j.run_at, j.seq LIMIT 1) FROM p WHERE p.priority IS NOT NULL) \
         SELECT kind, priority, run_at, seq FROM c WHERE seq IS NOT NULL ORDER BY priority DESC, run_at, seq LIMIT 1",
    );
    sql
}

/// The first due queued job of a kind and priority that no other claim holds (`$1` kind, `$2`
/// priority, `$3` now), locked on Postgres: concurrent claimers take different jobs without
/// waiting for one another, in `jobs_next`'s order.
fn take_due() -> String {
    format!(
        "SELECT seq FROM jobs WHERE kind = $1 AND status = 'queued' AND priority = $2 AND run_at <= $3 \
         ORDER BY run_at, seq LIMIT 1{SKIP_LOCKED}"
    )
}

#[async_trait]
impl JobQueue for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "enqueue"))]
    async fn enqueue(&self, job: &Job) -> Result<(), StoreError> {
        if audit::due().is_none() {
            let mut conn = self.writer().acquire().await.map_err(db_error)?;
            return enqueue_in(&mut conn, job).await;
        }
        let mut tx = self.begin_write().await?;
        enqueue_in(&mut tx, job).await?;
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "claim"))]
    async fn claim(&self, kinds: &[&str], lease: &Lease, now: DateTime<Utc>) -> Result<Option<Job>, StoreError> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        // Lapsed jobs that must not run again end first: a finished one (its worker died before
        // saying so) succeeds, a cancelled one is cancelled, one out of attempts fails.
        let sweep = sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = CASE WHEN progress_total > 0 AND progress_done >= progress_total THEN 'succeeded' \
             WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END, \
             last_error = CASE WHEN progress_total > 0 AND progress_done >= progress_total THEN NULL \
             WHEN cancel_requested THEN last_error ELSE $2 END, \
             lease_owner = NULL, lease_until = NULL, updated_at = $1 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_until <= $1 \
             AND ((progress_total > 0 AND progress_done >= progress_total) OR cancel_requested \
             OR attempts >= max_attempts){SKIP_LOCKED})"
        ));
        sqlx::query(sweep).bind(micros(now)).bind(LAPSED_ON_LAST_ATTEMPT).execute(&mut *tx).await.map_err(db_error)?;
        // The most urgent of two candidates: a job whose worker died (locked, skipped when
        // another claim holds it), and a due queued job (`next_due`, then `take_due` locks one
        // of its group that no other claim holds). When other claims hold every due job of that
        // group, the pick runs again.
        for _ in 0..CLAIM_RACES {
            let mut lapsed = QueryBuilder::<Db>::new("SELECT priority, run_at, seq FROM jobs WHERE kind IN (");
            let mut list = lapsed.separated(", ");
            for kind in kinds {
                list.push_bind(*kind);
            }
            lapsed
                .push(") AND status = 'running' AND lease_until <= ")
                .push_bind(micros(now))
                // Repeats the sweep's conditions: a row the sweep skipped while it was locked
                // elsewhere must not be claimed past them.
                .push(" AND NOT cancel_requested AND attempts < max_attempts")
                .push(" AND NOT (progress_total > 0 AND progress_done >= progress_total)")
                .push(" ORDER BY priority DESC, run_at, seq LIMIT 1")
                .push(SKIP_LOCKED);
            let lapsed: Option<(i64, i64, i64)> =
                lapsed.build_query_as().fetch_optional(&mut *tx).await.map_err(db_error)?;
            let mut queued = next_due(kinds, now);
            let queued: Option<(String, i64, i64, i64)> =
                queued.build_query_as().fetch_optional(&mut *tx).await.map_err(db_error)?;
            let lapsed_first = match (&lapsed, &queued) {
                (Some(l), Some((_, priority, run_at, seq))) => (-l.0, l.1, l.2) < (-priority, *run_at, *seq),
                (l, _) => l.is_some(),
            };
            let seq = if lapsed_first {
                lapsed.map(|(_, _, seq)| seq)
            } else if let Some((kind, priority, _, _)) = queued {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(take_due()))
                    .bind(kind)
                    .bind(priority)
                    .bind(micros(now))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?
            } else {
                extras::commit(tx).await?;
                return Ok(None);
            };
            let Some(seq) = seq else { continue };
            // The row is this claim's (locked on Postgres; SQLite's one writer runs the claim
            // alone), and still as picked: queued and due, or running with its lease lapsed.
            let row = sqlx::query(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $2, lease_until = $3, \
                 updated_at = $4 WHERE seq = $1 AND ((status = 'queued' AND run_at <= $4) \
                 OR (status = 'running' AND lease_until <= $4)) RETURNING *",
            )
            .bind(seq)
            .bind(&lease.worker)
            .bind(micros(lease.until))
            .bind(micros(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            if let Some(row) = row {
                let job = job_from_row(&row)?;
                extras::commit(tx).await?;
                return Ok(Some(job));
            }
        }
        // Lost every race: the jobs are being taken by other claims; this worker looks again
        // after its idle wait.
        extras::commit(tx).await?;
        Ok(None)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "heartbeat"))]
    async fn heartbeat(
        &self,
        id: JobId,
        lease: &Lease,
        done: u64,
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError> {
        let mut conn = self.writer().acquire().await.map_err(db_error)?;
        let applied = sqlx::query(
            "UPDATE jobs SET progress_done = CASE WHEN $3 > progress_done THEN $3 ELSE progress_done END, \
             lease_until = $4, updated_at = $5 WHERE id = $1 AND status = 'running' \
             AND lease_owner = $2 AND NOT cancel_requested",
        )
        .bind(*id.as_uuid())
        .bind(&lease.worker)
        .bind(big(done))
        .bind(micros(lease.until))
        .bind(micros(now))
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        if applied.rows_affected() == 1 { Ok(LeaseCheck::Held) } else { refused(&mut conn, id, lease).await }
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "commit_chunk"))]
    async fn commit_chunk(
        &self,
        id: JobId,
        lease: &Lease,
        done_before: u64,
        batch: &TicketBatch<'_>,
        jobs: &[Job],
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError> {
        let mut tx = self.begin_write().await?;
        let applied = sqlx::query(
            "UPDATE jobs SET progress_done = $3, lease_until = $4, updated_at = $5 WHERE id = $1 AND status = 'running' \
             AND lease_owner = $2 AND NOT cancel_requested AND progress_done = $6",
        )
        .bind(*id.as_uuid())
        .bind(&lease.worker)
        .bind(big(done_before + batch.tickets.len() as u64))
        .bind(micros(lease.until))
        .bind(micros(now))
        .bind(big(done_before))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if applied.rows_affected() == 0 {
            return refused(&mut tx, id, lease).await;
        }
        tickets::insert_in(&mut *tx, batch, jobs).await?;
        extras::commit(tx).await?;
        self.grew(batch.tickets.len());
        Ok(LeaseCheck::Held)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "finish_job"))]
    async fn finish_job(
        &self,
        id: JobId,
        lease: &Lease,
        end: &JobEnd,
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError> {
        let (how, error, retry_at) = match end {
            JobEnd::Succeeded => ("succeeded", None, None),
            JobEnd::Cancelled => ("cancelled", None, None),
            JobEnd::Abandoned { error } => ("failed", Some(error.as_str()), None),
            JobEnd::Failed { error, retry_at } => ("retry", Some(error.as_str()), Some(micros(*retry_at))),
            JobEnd::Released => ("released", None, Some(micros(now))),
        };
        let mut conn = self.writer().acquire().await.map_err(db_error)?;
        // A failed attempt queues the job again while attempts are left; a released one is
        // queued again at once with its attempt given back (and its last error kept); a worker
        // that saw the cancel request may end the job as cancelled, and only that.
        let applied = sqlx::query(
            "UPDATE jobs SET status = CASE WHEN $3 = 'released' THEN 'queued' WHEN $3 <> 'retry' THEN $3 \
             WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
             run_at = CASE WHEN $3 = 'released' OR ($3 = 'retry' AND attempts < max_attempts) THEN $5 ELSE run_at END, \
             attempts = CASE WHEN $3 = 'released' AND attempts > 0 THEN attempts - 1 ELSE attempts END, \
             last_error = CASE WHEN $3 = 'released' THEN last_error ELSE $4 END, lease_owner = NULL, lease_until = NULL, \
             updated_at = $6 WHERE id = $1 AND status = 'running' AND lease_owner = $2 \
             AND (NOT cancel_requested OR $3 = 'cancelled')",
        )
        .bind(*id.as_uuid())
        .bind(&lease.worker)
        .bind(how)
        .bind(error)
        .bind(retry_at)
        .bind(micros(now))
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        if applied.rows_affected() == 1 { Ok(LeaseCheck::Held) } else { refused(&mut conn, id, lease).await }
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "cancel_job"))]
    async fn cancel_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE jobs SET status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END, \
             cancel_requested = (status = 'running'), updated_at = $2 \
             WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND NOT cancel_requested)) RETURNING *",
        )
        .bind(*id.as_uuid())
        .bind(micros(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        // A job that has ended already is left as it is, and answered as it is.
        let job = match row {
            Some(row) => job_from_row(&row)?,
            None => fetch(&mut tx, id).await?.ok_or(StoreError::NotFound("job"))?,
        };
        audit::writing(&job);
        extras::commit(tx).await?;
        Ok(job)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "retry_job"))]
    async fn retry_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = 0, cancel_requested = FALSE, run_at = $2, updated_at = $2 \
             WHERE id = $1 AND status IN ('failed', 'cancelled') RETURNING *",
        )
        .bind(*id.as_uuid())
        .bind(micros(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        match row {
            Some(row) => {
                let job = job_from_row(&row)?;
                audit::writing(&job);
                extras::commit(tx).await?;
                Ok(job)
            }
            None => match fetch(&mut tx, id).await? {
                Some(job) => Err(StoreError::Conflict(format!("a {} job cannot be retried", job.status))),
                None => Err(StoreError::NotFound("job")),
            },
        }
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "job"))]
    async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        fetch(&mut conn, id).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "jobs"))]
    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        // A listing leaves out the holder lists: a page of big generations stays small.
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT seq, id, kind, {LISTED_TASK} AS task, event_id, priority, status, attempts, max_attempts, run_at, \
             lease_owner, lease_until, progress_done, progress_total, cancel_requested, last_error, created_at, \
             updated_at FROM jobs WHERE 1 = 1"
        ));
        if let Some(event) = filter.event_id {
            q.push(" AND event_id = ").push_bind(*event.as_uuid());
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        let limit = if filter.limit == 0 { i64::MAX } else { i64::from(filter.limit) };
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
        let rows = q.build().fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(job_from_row).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "count_jobs"))]
    async fn count_jobs(&self, kind: &str, status: JobStatus) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND status = $2")
            .bind(kind)
            .bind(status.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        u64::try_from(n).map_err(|_| crate::codec::corrupt("job count", n))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "purge_jobs"))]
    async fn purge_jobs(&self, ended_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("DELETE FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') AND updated_at < $1")
                .bind(micros(ended_before))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        let purged = JobsPurged(done.rows_affected());
        audit::writing(&purged);
        extras::commit(tx).await?;
        Ok(purged.0)
    }
}
