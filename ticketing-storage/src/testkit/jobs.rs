//! The job queue's semantics, the same-transaction enqueue, and bulk generation: in chunks,
//! within quota, and resumable after its worker is killed.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, SubsecRound as _, Utc};
use ticketing_core::engine::{Config, Error, GenerationRequest, IssueRequest, Ticketing};
use ticketing_core::env::{Clock, FixedClock};
use ticketing_core::event::EventStatus;
use ticketing_core::ids::{JobId, OrderId, TemplateId, TicketId, TicketTypeId};
use ticketing_core::job::{GenerateTickets, Job, JobEnd, JobStatus, JobTask, Lease, LeaseCheck};
use ticketing_core::magic_link::{LinkKey, MagicLink};
use ticketing_core::quota::QuotaError;
use ticketing_core::short_code::ShortCode;
use ticketing_core::status::TicketStatus;
use ticketing_core::store::{JobFilter, Store, StoreError, TicketBatch, TicketFilter};
use ticketing_core::template::TemplatePin;
use ticketing_core::ticket::{HolderSpec, NewTicket, Ticket};
use uuid::Uuid;

use super::support::{Backend, Options, TestRng, World, keyring};

const KIND: &str = JobTask::GENERATE_TICKETS;

fn job(n: u128, clock: &FixedClock, priority: i32) -> Job {
    let task = JobTask::GenerateTickets(GenerateTickets {
        ticket_type_id: TicketTypeId::from_uuid(Uuid::from_u128(n)),
        status: TicketStatus::Issued,
        chunk_size: 10,
        holders: vec![],
        template: None,
        links: false,
        notify: false,
    });
    Job::new(JobId::from_uuid(Uuid::from_u128(n)), task, None, 10, clock.now()).with_priority(priority)
}

fn lease(worker: &str, clock: &FixedClock) -> Lease {
    Lease { worker: worker.into(), until: clock.now() + Duration::seconds(60) }
}

async fn fresh(backend: &Backend) -> (Arc<FixedClock>, Arc<dyn Store>) {
    // Stores keep microseconds.
    let clock = Arc::new(FixedClock::new(Utc::now().trunc_subsecs(6)));
    let store = backend.store(clock.clone()).await;
    (clock, store)
}

/// An engine over the world's store that generates in chunks of `chunk`.
fn generator(world: &World, chunk: u32) -> Ticketing<dyn Store> {
    let config = Config { generation_chunk: chunk, ..Config::default() };
    Ticketing::new(world.engine.store().clone(), keyring(), world.clock.clone(), Arc::new(TestRng::new(11)), config)
}

async fn tickets_of(world: &World, ticket_type: TicketTypeId) -> Vec<Ticket> {
    let filter =
        TicketFilter { event_id: Some(world.event.id()), ticket_type_id: Some(ticket_type), ..Default::default() };
    world.engine.store().tickets(&filter).await.unwrap()
}

/// Conformance case.
pub async fn jobs_are_claimed_by_priority_then_due_time_then_age(backend: &Backend) {
    let (clock, store) = fresh(backend).await;
    let mut later = job(4, &clock, 9);
    later.run_at = clock.now() + Duration::hours(1);
    let mut earlier = job(3, &clock, 0);
    earlier.run_at = clock.now() - Duration::minutes(1);
    for j in [job(1, &clock, 0), job(2, &clock, 5), earlier, later] {
        store.enqueue(&j).await.unwrap();
    }
    assert!(matches!(store.enqueue(&job(1, &clock, 0)).await, Err(StoreError::Conflict(_))), "ids are unique");
    assert_eq!(store.claim(&["notify"], &lease("w", &clock), clock.now()).await.unwrap(), None, "other kinds wait");
    let mut order = Vec::new();
    for n in 0..4 {
        match store.claim(&[KIND], &lease(&format!("w{n}"), &clock), clock.now()).await.unwrap() {
            Some(claimed) => {
                assert_eq!((claimed.status, claimed.attempts), (JobStatus::Running, 1));
                assert_eq!(claimed.lease.as_ref().map(|l| l.worker.clone()), Some(format!("w{n}")));
                order.push(claimed.id.as_uuid().as_u128());
            }
            None => order.push(0),
        }
    }
    assert_eq!(order, [2, 3, 1, 0], "priority, then due time, then age; a job not yet due waits");
    clock.advance(Duration::hours(1));
    let due = store.claim(&[KIND], &lease("w9", &clock), clock.now()).await.unwrap().unwrap();
    assert_eq!(due.id.as_uuid().as_u128(), 4);
    let listed = store.jobs(&JobFilter { status: Some(JobStatus::Running), ..Default::default() }).await.unwrap();
    let listed: Vec<u128> = listed.iter().map(|j| j.id.as_uuid().as_u128()).collect();
    assert_eq!(listed, [4, 3, 2, 1], "listed newest first");
    assert_eq!(store.count_jobs(KIND, JobStatus::Running).await.unwrap(), 4);
    assert_eq!(store.count_jobs(KIND, JobStatus::Queued).await.unwrap(), 0);
    assert_eq!(store.count_jobs("notify", JobStatus::Running).await.unwrap(), 0);
}

/// Conformance case: a claim over several kinds takes the most urgent due job of them all
/// (priority, then due time, then age, across kinds), past jobs of a higher priority not yet due,
/// and a job whose worker died in its turn.
pub async fn a_claim_over_several_kinds_takes_the_most_urgent_due_job(backend: &Backend) {
    let (clock, store) = fresh(backend).await;
    let expiry = |n: u128, priority: i32, due: Duration| {
        let task = JobTask::ExpireOrder { order_id: OrderId::from_uuid(Uuid::from_u128(n)) };
        let mut job =
            Job::new(JobId::from_uuid(Uuid::from_u128(n)), task, None, 10, clock.now()).with_priority(priority);
        job.run_at = clock.now() + due;
        job
    };
    let at = |n: u128, priority: i32, due: Duration| {
        let mut job = job(n, &clock, priority);
        job.run_at = clock.now() + due;
        job
    };
    // Enqueued in this order: seq breaks the tie of 5 and 6 (same priority, same due time).
    let jobs = [
        at(1, 0, Duration::minutes(-2)),
        expiry(2, 0, Duration::minutes(-3)),
        at(3, 7, Duration::hours(1)),
        expiry(4, 3, Duration::zero()),
        at(5, 3, Duration::minutes(-1)),
        expiry(6, 3, Duration::minutes(-1)),
        expiry(7, 9, Duration::hours(2)),
    ];
    for job in &jobs {
        store.enqueue(job).await.unwrap();
    }
    // Many jobs not yet due, of every priority: a claim reads past none of them.
    for n in 100..160 {
        store.enqueue(&expiry(n, (n % 4) as i32, Duration::minutes(30))).await.unwrap();
    }
    let kinds = [KIND, JobTask::EXPIRE_ORDER];
    let first = store.claim(&kinds, &lease("dies", &clock), clock.now()).await.unwrap().unwrap();
    assert_eq!(first.id.as_uuid().as_u128(), 5);
    // The worker of 5 dies: its lease lapses while 6 is claimed, and 5 comes back in its turn.
    clock.advance(Duration::seconds(61));
    let mut order = Vec::new();
    let mut held = Vec::new();
    for n in 0..6 {
        let worker = lease(&format!("w{n}"), &clock);
        match store.claim(&kinds, &worker, clock.now()).await.unwrap() {
            Some(claimed) => {
                order.push(claimed.id.as_uuid().as_u128());
                held.push((claimed.id, worker));
            }
            None => order.push(0),
        }
    }
    assert_eq!(order, [5, 6, 4, 2, 1, 0], "priority, due time, age across kinds; a lapsed job in its turn");
    for (id, worker) in &held {
        assert_eq!(store.finish_job(*id, worker, &JobEnd::Succeeded, clock.now()).await.unwrap(), LeaseCheck::Held);
    }
    clock.advance(Duration::hours(1));
    let due = store.claim(&kinds, &lease("w9", &clock), clock.now()).await.unwrap().unwrap();
    assert_eq!(due.id.as_uuid().as_u128(), 3, "a job not yet due waited, however urgent");
    // Of the sixty now due, the first of the highest priority: 103 (priority 3, the oldest).
    let later = store.claim(&[JobTask::EXPIRE_ORDER], &lease("w10", &clock), clock.now()).await.unwrap().unwrap();
    assert_eq!((later.id.as_uuid().as_u128(), later.priority), (103, 3), "the not-yet-due ones, by priority once due");
}

/// Conformance case.
pub async fn a_lapsed_lease_passes_the_job_on_and_fences_the_old_worker(backend: &Backend) {
    let (clock, store) = fresh(backend).await;
    store.enqueue(&job(1, &clock, 0)).await.unwrap();
    let a = lease("a", &clock);
    let id = store.claim(&[KIND], &a, clock.now()).await.unwrap().unwrap().id;
    assert_eq!(store.claim(&[KIND], &lease("b", &clock), clock.now()).await.unwrap(), None, "held jobs are invisible");
    assert_eq!(store.heartbeat(id, &a, 3, clock.now()).await.unwrap(), LeaseCheck::Held);
    assert_eq!(store.heartbeat(id, &a, 1, clock.now()).await.unwrap(), LeaseCheck::Held);
    assert_eq!(store.job(id).await.unwrap().unwrap().progress.done, 3, "progress never goes back");
    clock.advance(Duration::seconds(61));
    let b = lease("b", &clock);
    let taken = store.claim(&[KIND], &b, clock.now()).await.unwrap().unwrap();
    assert_eq!((taken.id, taken.attempts, taken.progress.done), (id, 2, 3), "resumed from the reported progress");
    assert_eq!(store.heartbeat(id, &a, 5, clock.now()).await.unwrap(), LeaseCheck::Lost);
    assert_eq!(
        store.commit_chunk(id, &a, 3, &TicketBatch::plain(&[]), &[], clock.now()).await.unwrap(),
        LeaseCheck::Lost
    );
    assert_eq!(store.finish_job(id, &a, &JobEnd::Succeeded, clock.now()).await.unwrap(), LeaseCheck::Lost);
    let now = store.job(id).await.unwrap().unwrap();
    assert_eq!((now.status, now.progress.done, now.lease.map(|l| l.worker)), (JobStatus::Running, 3, Some("b".into())));
    assert_eq!(store.finish_job(id, &b, &JobEnd::Succeeded, clock.now()).await.unwrap(), LeaseCheck::Held);
    let done = store.job(id).await.unwrap().unwrap();
    assert_eq!((done.status, done.lease), (JobStatus::Succeeded, None));
    assert_eq!(store.claim(&[KIND], &lease("c", &clock), clock.now()).await.unwrap(), None, "ended jobs stay ended");
}

/// Conformance case.
pub async fn failed_attempts_back_off_then_fail_and_can_be_retried(backend: &Backend) {
    let (clock, store) = fresh(backend).await;
    store.enqueue(&job(1, &clock, 0).with_max_attempts(2)).await.unwrap();
    let first = lease("a", &clock);
    let id = store.claim(&[KIND], &first, clock.now()).await.unwrap().unwrap().id;
    let retry_at = clock.now() + Duration::seconds(10);
    let failed = JobEnd::Failed { error: "smtp timeout".into(), retry_at };
    assert_eq!(store.finish_job(id, &first, &failed, clock.now()).await.unwrap(), LeaseCheck::Held);
    let queued = store.job(id).await.unwrap().unwrap();
    assert_eq!(
        (queued.status, queued.run_at, queued.last_error.as_deref()),
        (JobStatus::Queued, retry_at, Some("smtp timeout"))
    );
    assert_eq!(store.claim(&[KIND], &lease("b", &clock), clock.now()).await.unwrap(), None, "backing off");
    clock.advance(Duration::seconds(10));
    let second = lease("b", &clock);
    assert_eq!(store.claim(&[KIND], &second, clock.now()).await.unwrap().unwrap().attempts, 2);
    let failed = JobEnd::Failed { error: "smtp timeout again".into(), retry_at: clock.now() };
    store.finish_job(id, &second, &failed, clock.now()).await.unwrap();
    assert_eq!(store.job(id).await.unwrap().unwrap().status, JobStatus::Failed, "no attempts left");
    assert_eq!(store.claim(&[KIND], &lease("c", &clock), clock.now()).await.unwrap(), None);
    let retried = store.retry_job(id, clock.now()).await.unwrap();
    assert_eq!((retried.status, retried.attempts), (JobStatus::Queued, 0));
    assert!(matches!(store.retry_job(id, clock.now()).await, Err(StoreError::Conflict(_))), "only ended jobs retry");
    assert!(matches!(
        store.retry_job(JobId::from_uuid(Uuid::from_u128(9)), clock.now()).await,
        Err(StoreError::NotFound(_))
    ));

    // A worker that dies on the last attempt fails the job when its lease lapses.
    store.enqueue(&job(2, &clock, 5).with_max_attempts(1)).await.unwrap();
    let lost = store.claim(&[KIND], &lease("d", &clock), clock.now()).await.unwrap().unwrap();
    assert_eq!(lost.id.as_uuid().as_u128(), 2);
    clock.advance(Duration::seconds(61));
    let next = store.claim(&[KIND], &lease("e", &clock), clock.now()).await.unwrap().unwrap();
    assert_eq!(next.id, id, "the retried job runs; the exhausted one does not");
    let exhausted = store.job(lost.id).await.unwrap().unwrap();
    assert_eq!(exhausted.status, JobStatus::Failed);
    assert!(exhausted.last_error.is_some_and(|e| e.contains("lapsed")));

    // A worker that committed all the work and died before saying so leaves a job that succeeds.
    store.enqueue(&job(3, &clock, 9).with_max_attempts(1)).await.unwrap();
    let finisher = lease("f", &clock);
    assert_eq!(store.claim(&[KIND], &finisher, clock.now()).await.unwrap().unwrap().id.as_uuid().as_u128(), 3);
    store.heartbeat(JobId::from_uuid(Uuid::from_u128(3)), &finisher, 10, clock.now()).await.unwrap();
    clock.advance(Duration::seconds(61));
    let next = store.claim(&[KIND], &lease("g", &clock), clock.now()).await.unwrap();
    assert_ne!(next.map(|j| j.id.as_uuid().as_u128()), Some(3), "finished work is not claimed again");
    let finished = store.job(JobId::from_uuid(Uuid::from_u128(3))).await.unwrap().unwrap();
    assert_eq!((finished.status, finished.last_error), (JobStatus::Succeeded, None));
}

/// Conformance case.
pub async fn cancel_stops_queued_jobs_at_once_and_running_ones_at_their_next_report(backend: &Backend) {
    let (clock, store) = fresh(backend).await;
    store.enqueue(&job(1, &clock, 0)).await.unwrap();
    let cancelled = store.cancel_job(JobId::from_uuid(Uuid::from_u128(1)), clock.now()).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(store.claim(&[KIND], &lease("a", &clock), clock.now()).await.unwrap(), None);

    store.enqueue(&job(2, &clock, 0)).await.unwrap();
    let a = lease("a", &clock);
    let id = store.claim(&[KIND], &a, clock.now()).await.unwrap().unwrap().id;
    let marked = store.cancel_job(id, clock.now()).await.unwrap();
    assert_eq!((marked.status, marked.cancel_requested), (JobStatus::Running, true));
    assert_eq!(store.heartbeat(id, &a, 4, clock.now()).await.unwrap(), LeaseCheck::CancelRequested);
    assert_eq!(
        store.commit_chunk(id, &a, 0, &TicketBatch::plain(&[]), &[], clock.now()).await.unwrap(),
        LeaseCheck::CancelRequested
    );
    assert_eq!(store.finish_job(id, &a, &JobEnd::Succeeded, clock.now()).await.unwrap(), LeaseCheck::CancelRequested);
    assert_eq!(store.finish_job(id, &a, &JobEnd::Cancelled, clock.now()).await.unwrap(), LeaseCheck::Held);
    let ended = store.job(id).await.unwrap().unwrap();
    assert_eq!(
        (ended.status, ended.progress.done),
        (JobStatus::Cancelled, 0),
        "the report after the cancel was not applied"
    );
    assert_eq!(store.cancel_job(id, clock.now()).await.unwrap(), ended, "ended jobs are left as they are");
    assert_eq!(
        store.retry_job(id, clock.now()).await.unwrap().status,
        JobStatus::Queued,
        "a cancelled job can run again"
    );
    assert!(matches!(
        store.cancel_job(JobId::from_uuid(Uuid::from_u128(9)), clock.now()).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Conformance case.
pub async fn jobs_are_written_with_the_tickets_that_cause_them_or_not_at_all(backend: &Backend) {
    let world = World::new(backend, Options { quota: 3, ..Options::default() }).await;
    let store = world.engine.store();
    let make = |n: u128| {
        Ticket::new(NewTicket {
            id: TicketId::from_uuid(Uuid::from_u128(n)),
            event_id: world.event.id(),
            ticket_type_id: world.standard.id(),
            short_code: ShortCode::from_value(n as u64 * 7919).unwrap(),
            holder: None,
            status: TicketStatus::Paid,
            created_at: world.clock.now(),
        })
        .unwrap()
    };
    let notify = |n: u128| job(100 + n, &world.clock, 0);
    store.insert_tickets(&TicketBatch::plain(&[make(1), make(2)]), &[notify(1)]).await.unwrap();
    assert!(store.job(notify(1).id).await.unwrap().is_some(), "the job came with its tickets");
    let over = store.insert_tickets(&TicketBatch::plain(&[make(3), make(4)]), &[notify(2)]).await;
    assert!(matches!(over, Err(StoreError::Quota(QuotaError::TypeQuota { .. }))), "{over:?}");
    assert_eq!(store.job(notify(2).id).await.unwrap(), None, "no tickets, no job");
    let taken_job = store.insert_tickets(&TicketBatch::plain(&[make(3)]), &[notify(1)]).await;
    assert!(matches!(taken_job, Err(StoreError::Conflict(_))), "{taken_job:?}");
    assert_eq!(store.ticket(make(3).id()).await.unwrap(), None, "no job, no tickets");
    assert_eq!(store.allocation(world.standard.id()).await.unwrap().type_live, 2, "the counters did not move");
    store.insert_tickets(&TicketBatch::plain(&[]), &[notify(3)]).await.unwrap();
    assert!(store.job(notify(3).id).await.unwrap().is_some(), "a job alone is enqueued too");
}

/// Conformance case.
pub async fn a_generation_runs_in_chunks_within_quota(backend: &Backend) {
    let world = World::new(backend, Options { quota: 1000, ..Options::default() }).await;
    let engine = generator(&world, 128);
    let request = |count| GenerationRequest {
        ticket_type_id: world.standard.id(),
        count,
        status: TicketStatus::Issued,
        priority: 0,
        holders: vec![],
        template: None,
        notify: false,
    };
    assert!(matches!(engine.start_generation(&request(1001)).await, Err(Error::Quota(_))), "refused up front");
    assert!(matches!(engine.start_generation(&request(0)).await, Err(Error::Invalid(_))));
    let job = engine.start_generation(&request(700)).await.unwrap();
    assert_eq!((job.status, job.progress.total), (JobStatus::Queued, 700));
    let ran = engine.run_next_job("worker").await.unwrap().unwrap().job;
    assert_eq!((ran.id, ran.status, ran.progress.done, ran.attempts), (job.id, JobStatus::Succeeded, 700, 1));
    assert_eq!(tickets_of(&world, world.standard.id()).await.len(), 700);
    assert_eq!(engine.run_next_job("worker").await.unwrap(), None, "nothing else is due");

    // Sales take the room a queued generation counted on: it stops at the quota, never past it.
    let racing = engine.start_generation(&request(300)).await.unwrap();
    let sale = IssueRequest {
        ticket_type_id: world.standard.id(),
        count: 100,
        holders: Vec::new(),
        status: TicketStatus::Paid,
    };
    world.engine.issue_tickets(&sale).await.unwrap();
    let ran = engine.run_next_job("worker").await.unwrap().unwrap().job;
    assert_eq!((ran.id, ran.status), (racing.id, JobStatus::Failed), "no retry can make room");
    assert!(ran.last_error.as_deref().is_some_and(|e| e.contains("places left")), "{:?}", ran.last_error);
    assert_eq!(ran.progress.done, 128, "the chunk that fitted is counted; the next did not fit");
    assert_eq!(store_live(&world).await, 700 + 100 + 128);
    assert_eq!(tickets_of(&world, world.standard.id()).await.len(), 928, "counters equal rows");

    // An event cancelled while a generation waits: the generation makes nothing.
    let vip = GenerationRequest { ticket_type_id: world.vip.id(), ..request(10) };
    let waiting = engine.start_generation(&vip).await.unwrap();
    world.engine.set_event_status(world.event.id(), EventStatus::Cancelled).await.unwrap();
    let ran = engine.run_next_job("worker").await.unwrap().unwrap().job;
    assert_eq!((ran.id, ran.status, ran.progress.done), (waiting.id, JobStatus::Failed, 0));
    assert!(tickets_of(&world, world.vip.id()).await.is_empty());
}

async fn store_live(world: &World) -> u32 {
    world.engine.store().allocation(world.standard.id()).await.unwrap().type_live
}

/// Conformance case.
pub async fn concurrent_workers_claim_each_job_once(backend: &Backend) {
    let (clock, store) = fresh(backend).await;
    for n in 1..=20 {
        store.enqueue(&job(n, &clock, (n % 3) as i32)).await.unwrap();
    }
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (store, clock) = (store.clone(), clock.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut n = 0;
                while let Some(job) =
                    store.claim(&[KIND], &lease(&format!("w{w}-{n}"), &clock), clock.now()).await.unwrap()
                {
                    mine.push(job.id);
                    n += 1;
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    let distinct: HashSet<JobId> = claimed.iter().copied().collect();
    assert_eq!((claimed.len(), distinct.len()), (20, 20), "every job claimed exactly once");
}

/// Generates `total` tickets in chunks of `chunk`, kills the worker (drops its task) once about
/// half are committed, lets its lease lapse, and runs the job again on another worker: exactly
/// `total` distinct tickets with distinct short codes, within quota, counters equal to rows.
pub async fn generation_survives_a_killed_worker(backend: &Backend, total: u32, chunk: u32) {
    let world = World::new(backend, Options { quota: total, capacity: total + 10, ..Options::default() }).await;
    let engine = generator(&world, chunk);
    let request = GenerationRequest {
        ticket_type_id: world.standard.id(),
        count: total,
        status: TicketStatus::Issued,
        priority: 0,
        holders: vec![],
        template: None,
        notify: false,
    };
    let job = engine.start_generation(&request).await.unwrap();
    let worker = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.run_next_job("doomed").await })
    };
    let store = world.engine.store().clone();
    loop {
        let seen = store.job(job.id).await.unwrap().unwrap();
        assert_ne!(seen.status, JobStatus::Succeeded, "the worker finished before it could be killed");
        if seen.progress.done >= u64::from(total / 2) {
            break;
        }
        tokio::task::yield_now().await;
    }
    worker.abort();
    assert!(worker.await.unwrap_err().is_cancelled(), "the worker was killed mid-run");
    let orphan = store.job(job.id).await.unwrap().unwrap();
    assert_eq!(orphan.status, JobStatus::Running, "held by a dead worker");
    assert!(orphan.progress.done < u64::from(total));
    assert_eq!(engine.run_next_job("early").await.unwrap(), None, "invisible until the lease lapses");

    world.clock.advance(engine.config().job_lease + Duration::seconds(1));
    // The killed worker's open transaction is rolled back when its connection goes back to the
    // pool, a moment after the kill; until then Postgres's SKIP LOCKED passes over the job.
    let mut resumed = None;
    for _ in 0..100 {
        resumed = engine.run_next_job("survivor").await.unwrap();
        if resumed.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let run = resumed.expect("the job is claimed again once the lease lapses");
    let left = u64::from(total - total / 2);
    assert!(run.made > 0 && run.made <= left, "the run reports what it made itself: {}", run.made);
    let resumed = run.job;
    assert_eq!((resumed.status, resumed.attempts, resumed.progress.done), (JobStatus::Succeeded, 2, u64::from(total)));
    let tickets = tickets_of(&world, world.standard.id()).await;
    let ids: HashSet<TicketId> = tickets.iter().map(Ticket::id).collect();
    let codes: HashSet<ShortCode> = tickets.iter().map(Ticket::short_code).collect();
    let total = total as usize;
    assert_eq!((tickets.len(), ids.len(), codes.len()), (total, total, total), "no duplicates, no gaps");
    assert_eq!(store_live(&world).await as usize, total, "counters equal rows");
}

/// Conformance case: [`generation_survives_a_killed_worker`] with a small generation.
pub async fn a_killed_generation_resumes_without_duplicates_or_gaps(backend: &Backend) {
    generation_survives_a_killed_worker(backend, 6_000, 200).await;
}

/// Conformance case.
pub async fn a_generation_writes_holders_links_and_pins_with_each_chunk(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let engine = generator(&world, 10);
    let store = world.engine.store();
    let template = TemplateId::from_uuid(Uuid::from_u128(0x7e77));
    store.save_template_version(template, Some(world.event.id()), "Job", "{}", world.clock.now()).await.unwrap();
    let pin = TemplatePin { template_id: template, version: 1 };
    let holders: Vec<HolderSpec> =
        (0..25).map(|i| HolderSpec { name: format!("Guest {i}"), ..HolderSpec::default() }).collect();
    let request = GenerationRequest {
        ticket_type_id: world.standard.id(),
        count: 25,
        status: TicketStatus::Paid,
        priority: 0,
        holders: holders.clone(),
        template: Some(pin),
        notify: false,
    };
    // Refused up front: a count that is not the holders', a bad holder, a missing version.
    let miscounted = engine.start_generation(&GenerationRequest { count: 24, ..request.clone() }).await;
    assert!(matches!(miscounted, Err(Error::Invalid(_))), "{miscounted:?}");
    let mut bad = holders.clone();
    bad[7].name = String::new();
    let nameless = engine.start_generation(&GenerationRequest { holders: bad, ..request.clone() }).await;
    assert!(matches!(&nameless, Err(Error::Holders(h)) if h.path() == "holders[7].name"), "{nameless:?}");
    let nowhere = TemplatePin { template_id: template, version: 2 };
    let unknown = engine.start_generation(&GenerationRequest { template: Some(nowhere), ..request.clone() }).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");

    let job = engine.start_generation(&request).await.unwrap();
    let holders_of = |job: &Job| match &job.task {
        JobTask::GenerateTickets(spec) => spec.holders.len(),
        other => panic!("not a generation: {other:?}"),
    };
    assert_eq!(holders_of(&store.job(job.id).await.unwrap().unwrap()), 25, "the job keeps its holders");
    let listed = store.jobs(&JobFilter { limit: 10, ..JobFilter::default() }).await.unwrap();
    assert_eq!(listed.iter().map(holders_of).collect::<Vec<_>>(), [0], "a listing leaves them out");
    let ran = engine.run_next_job("w").await.unwrap().unwrap().job;
    assert_eq!((ran.id, ran.status, ran.progress.done), (job.id, JobStatus::Succeeded, 25));
    let tickets = tickets_of(&world, world.standard.id()).await;
    let names: HashSet<String> = tickets.iter().filter_map(|t| t.holder().map(|h| h.name().to_owned())).collect();
    assert_eq!(names, holders.iter().map(|h| h.name.clone()).collect(), "one ticket per holder");
    let links = engine.live_magic_links(world.event.id(), None).await.unwrap();
    let linked: HashSet<TicketId> = links.iter().map(|(_, link)| link.ticket_id).collect();
    assert_eq!((links.len(), linked.len()), (25, 25), "one link per ticket");
    for ticket in &tickets {
        assert_eq!(store.ticket_template(ticket.id()).await.unwrap(), Some(pin), "pinned in its chunk");
    }
    for (token, link) in links.iter().take(3) {
        assert_eq!(engine.open_magic_link(&token.as_text()).await.unwrap().id(), link.ticket_id);
    }
    // Another key cannot give the links again (nor can anyone without a key).
    assert!(world.engine.live_magic_links(world.event.id(), None).await.unwrap().is_empty());
    // A re-issue revokes the link and makes another, which the key gives again.
    let ticket = tickets[0].id();
    let (fresh, _) = engine.reissue_magic_link(ticket, None).await.unwrap();
    let now_live = engine.live_magic_links(world.event.id(), Some(ticket)).await.unwrap();
    assert_eq!(now_live.iter().map(|(t, _)| t.as_text()).collect::<Vec<_>>(), [fresh.as_text()]);
}

/// Conformance case.
pub async fn a_batch_with_a_bad_pin_or_link_writes_nothing(backend: &Backend) {
    let world = World::new(backend, Options::default()).await;
    let store = world.engine.store();
    let make = |n: u128| {
        Ticket::new(NewTicket {
            id: TicketId::from_uuid(Uuid::from_u128(0xba7c + n)),
            event_id: world.event.id(),
            ticket_type_id: world.standard.id(),
            short_code: ShortCode::from_value(0xba7c + n as u64).unwrap(),
            holder: None,
            status: TicketStatus::Paid,
            created_at: world.clock.now(),
        })
        .unwrap()
    };
    let tickets = [make(1), make(2)];
    let missing = TemplatePin { template_id: TemplateId::from_uuid(Uuid::from_u128(0x7e78)), version: 1 };
    let pinned = TicketBatch { tickets: &tickets, links: &[], template: Some(missing) };
    assert!(matches!(store.insert_tickets(&pinned, &[]).await, Err(StoreError::NotFound(_))));
    let key = LinkKey::new([5; 32]);
    let (_, link) = MagicLink::issue(&key, tickets[0].id(), world.clock.now(), None);
    let twice = [link.clone(), link];
    let doubled = TicketBatch { tickets: &tickets, links: &twice, template: None };
    assert!(matches!(store.insert_tickets(&doubled, &[]).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.ticket(tickets[0].id()).await.unwrap(), None, "nothing was written");
    assert_eq!(store.allocation(world.standard.id()).await.unwrap().type_live, 0, "the counters did not move");
}

/// Conformance case.
pub async fn purging_removes_only_jobs_that_ended_before_the_cutoff(backend: &Backend) {
    let (clock, store) = fresh(backend).await;
    let id = |n: u128| JobId::from_uuid(Uuid::from_u128(n));
    for n in 1..=4 {
        store.enqueue(&job(n, &clock, 0)).await.unwrap();
    }
    store.cancel_job(id(1), clock.now()).await.unwrap();
    let a = lease("a", &clock);
    let running = store.claim(&[KIND], &a, clock.now()).await.unwrap().unwrap().id;
    clock.advance(Duration::hours(2));
    let late = (2..=4).map(id).find(|j| *j != running).unwrap();
    store.cancel_job(late, clock.now()).await.unwrap();
    let cutoff = clock.now() - Duration::hours(1);
    assert_eq!(store.purge_jobs(cutoff).await.unwrap(), 1, "only the job that ended before the cutoff");
    assert_eq!(store.job(id(1)).await.unwrap(), None);
    assert!(store.job(late).await.unwrap().is_some(), "ended after the cutoff");
    assert!(store.job(running).await.unwrap().is_some(), "a running job stays");
    assert_eq!(store.purge_jobs(clock.now() + Duration::hours(1)).await.unwrap(), 1, "the other cancelled one");
    let left: Vec<JobStatus> =
        store.jobs(&JobFilter { limit: 10, ..JobFilter::default() }).await.unwrap().iter().map(|j| j.status).collect();
    assert_eq!(left.len(), 2, "queued and running jobs are never purged: {left:?}");
}

/// Conformance case: a worker's heartbeats keep its claimed job past the lease it was claimed
/// with (no other worker takes it), and the run then finishes it; without them the lease lapses.
pub async fn heartbeats_keep_a_claimed_job(backend: &Backend) {
    let w = World::new(backend, Options::default()).await;
    let request = GenerationRequest {
        ticket_type_id: w.standard.id(),
        count: 10,
        status: TicketStatus::Paid,
        priority: 0,
        holders: vec![],
        template: None,
        notify: false,
    };
    w.engine.start_generation(&request).await.unwrap();
    let claimed = w.engine.claim_next_job("alive").await.unwrap().expect("a job to claim");
    for _ in 0..3 {
        w.clock.advance(Duration::seconds(50));
        assert_eq!(w.engine.heartbeat_job(&claimed).await.unwrap(), LeaseCheck::Held);
        assert!(w.engine.claim_next_job("other").await.unwrap().is_none(), "held by its heartbeats");
    }
    let run = w.engine.run_claimed_job(claimed).await.unwrap();
    assert_eq!((run.job.status, run.made, run.job.attempts), (JobStatus::Succeeded, 10, 1), "{:?}", run.job);

    w.engine.start_generation(&request).await.unwrap();
    let silent = w.engine.claim_next_job("silent").await.unwrap().expect("a job to claim");
    w.clock.advance(Duration::seconds(61));
    let taken = w.engine.claim_next_job("other").await.unwrap().expect("the lapsed lease passes the job on");
    assert_eq!(taken.job().id, silent.job().id);
    assert_eq!(w.engine.heartbeat_job(&silent).await.unwrap(), LeaseCheck::Lost, "the old worker is fenced");
}

/// Conformance case.
pub async fn a_released_job_is_queued_at_once_with_its_attempt_given_back(backend: &Backend) {
    let (clock, store) = fresh(backend).await;
    store.enqueue(&job(1, &clock, 0).with_max_attempts(1)).await.unwrap();
    let first = lease("a", &clock);
    let claimed = store.claim(&[KIND], &first, clock.now()).await.unwrap().unwrap();
    assert_eq!(claimed.attempts, 1, "its only attempt");
    assert_eq!(store.finish_job(claimed.id, &first, &JobEnd::Released, clock.now()).await.unwrap(), LeaseCheck::Held);
    let queued = store.job(claimed.id).await.unwrap().unwrap();
    assert_eq!((queued.status, queued.attempts, queued.run_at), (JobStatus::Queued, 0, clock.now()));
    assert!(queued.lease.is_none());
    let second = lease("b", &clock);
    let again = store.claim(&[KIND], &second, clock.now()).await.unwrap().expect("claimed again at once");
    assert_eq!(
        (again.id, again.attempts, again.status),
        (claimed.id, 1, JobStatus::Running),
        "not failed for want of attempts"
    );
    assert_eq!(
        store.finish_job(claimed.id, &first, &JobEnd::Released, clock.now()).await.unwrap(),
        LeaseCheck::Lost,
        "only the holder releases"
    );
}
