//! The state a deployment's instances share beside the database, in Redis: the
//! [`Coordinator`] port of [`ticketing_core::fleet`].
//!
//! Every call is given 250 ms; after a failed one, calls fail at once for a second, so callers
//! (which all have a fallback) are not held up one timeout per call during an outage.
//!
//! - **Rate limits**: one Lua script per check runs the generic cell rate algorithm on the cell's
//!   theoretical arrival time, timed by Redis's own clock (`TIME`), so N requests a minute means
//!   N across every instance, whatever their clocks say. A cell expires when it is full again.
//! - **Revocations**: published on a channel every instance subscribes to. An instance whose
//!   subscription is down reports [`Coordinator::listening`] false (its server then checks every
//!   bearer token in the database) and, once subscribed again, forgets everything it cached,
//!   since news may have been missed meanwhile.
//! - **The suspicion watch**: the two patterns of [`ticketing_core::scan::SuspicionWatch`] counted
//!   in Redis by one script per scan request (a gate's recent bad signatures, where each ticket
//!   was last let through, each pattern's report throttle), so a forger spreading tries over the
//!   instances, or one QR code read at gates served by two instances, is still seen, and each
//!   finding is reported by one instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use redis::Script;
use redis::aio::ConnectionManager;
use ticketing_core::fleet::{CellRate, Coordinator, Revoked, ScanSeen};
use ticketing_core::ids::{GateId, TicketId};
use ticketing_core::scan::{ScanReason, Suspicion, SuspicionRules};
use ticketing_core::store::StoreError;

use crate::OpenError;

/// Counts a request in a GCRA cell. `KEYS[1]` the cell; `ARGV` the interval and tolerance in
/// microseconds and whether to count. Answers the wait in microseconds (0: it passes).
const RATE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - tonumber(ARGV[2])
if wait > 0 then return wait end
if ARGV[3] == '1' then
  local next = tat + tonumber(ARGV[1])
  redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.floor((next - now) / 1000) + 1)
end
return 0
";

/// One scan request shown to the shared watch. `KEYS`: the gate's bad signatures (a list of
/// instants), the ticket's last passage (`gate instant`), the gate's bad-signature throttle and
/// its two-gates throttle (hashes of `last` and `held`). `ARGV`: now (µs), the gate, whether the
/// request was a bad signature, whether its ticket counts (identified, not of another event),
/// whether it passed, the bad-signature threshold, and the two windows (µs). Answers the
/// findings: `{'bad', count, since}` and `{'two', first gate, µs apart, held back}`.
const OBSERVE: &str = r"
local now, gate = tonumber(ARGV[1]), ARGV[2]
local threshold, bad_window, two_window = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local found = {}
local function may_report(key, window, amount)
  local last = tonumber(redis.call('HGET', key, 'last') or '')
  if last and now - last < window then
    redis.call('HINCRBY', key, 'held', amount)
    return nil
  end
  local held = tonumber(redis.call('HGET', key, 'held') or '0')
  redis.call('HSET', key, 'last', string.format('%d', now), 'held', 0)
  redis.call('PEXPIRE', key, math.floor(window / 1000) * 10 + 1)
  return held
end
if ARGV[3] == '1' then
  redis.call('RPUSH', KEYS[1], string.format('%d', now))
  while true do
    local first = tonumber(redis.call('LINDEX', KEYS[1], 0) or '')
    if not first or now - first <= bad_window then break end
    redis.call('LPOP', KEYS[1])
  end
  redis.call('PEXPIRE', KEYS[1], math.floor(bad_window / 1000) + 1)
  local count = redis.call('LLEN', KEYS[1])
  if count >= threshold then
    local since = redis.call('LINDEX', KEYS[1], 0)
    redis.call('DEL', KEYS[1])
    local held = may_report(KEYS[3], bad_window, count)
    if held then table.insert(found, {'bad', string.format('%d', count + held), since}) end
  end
end
if ARGV[4] == '1' then
  local last = redis.call('GET', KEYS[2])
  if last then
    local space = string.find(last, ' ', 1, true)
    local first_gate, when = string.sub(last, 1, space - 1), tonumber(string.sub(last, space + 1))
    if first_gate ~= gate and now - when <= two_window then
      local held = may_report(KEYS[4], two_window, 1)
      if held then
        table.insert(found, {'two', first_gate, string.format('%d', now - when), string.format('%d', held)})
      end
    end
  end
  if ARGV[5] == '1' then
    redis.call('SET', KEYS[2], gate .. ' ' .. string.format('%d', now), 'PX', math.floor(two_window / 1000) + 1)
  end
end
return found
";

/// How long a broken subscription waits before subscribing again.
const RESUBSCRIBE: Duration = Duration::from_millis(250);
/// How long a call may take: the callers have a fallback, and a gate's request a budget.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failed call, how long calls fail at once without asking Redis (so a request that
/// checks several limits during an outage waits for one timeout at most, not one each).
const REST: Duration = Duration::from_secs(1);

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn window_micros(d: chrono::Duration) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

/// The [`Coordinator`] over Redis.
pub struct RedisFleet {
    redis: ConnectionManager,
    prefix: String,
    /// The instant calls are timed from, and until when (ms after it) they fail at once.
    epoch: std::time::Instant,
    resting_until: std::sync::atomic::AtomicU64,
    listening: Arc<AtomicBool>,
    listener: tokio::task::JoinHandle<()>,
    rate: Script,
    observe: Script,
}

impl std::fmt::Debug for RedisFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFleet").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl Drop for RedisFleet {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl RedisFleet {
    /// Connects to Redis at `url`, with every key and the news channel under `prefix`, and
    /// subscribes to the news: `on_news` is called with each revocation any instance announces,
    /// and with `None` when the subscription is made again after a break (news may have been
    /// missed: forget everything). Commands time out after two seconds.
    pub async fn connect(
        url: &str,
        prefix: &str,
        on_news: Arc<dyn Fn(Option<Revoked>) + Send + Sync>,
    ) -> Result<Self, OpenError> {
        let (client, redis) = crate::redis::connect(url).await?;
        let channel = format!("{prefix}news");
        let listening = Arc::new(AtomicBool::new(false));
        // The first subscription is made before returning, so nothing announced after
        // `connect` is missed.
        let mut pubsub = client.get_async_pubsub().await.map_err(OpenError::Redis)?;
        pubsub.subscribe(&channel).await.map_err(OpenError::Redis)?;
        listening.store(true, Ordering::SeqCst);
        let listener = tokio::spawn(listen(client, channel, pubsub, listening.clone(), on_news));
        Ok(Self {
            redis,
            prefix: prefix.to_owned(),
            epoch: std::time::Instant::now(),
            resting_until: std::sync::atomic::AtomicU64::new(0),
            listening,
            listener,
            rate: Script::new(RATE),
            observe: Script::new(OBSERVE),
        })
    }
}

impl RedisFleet {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs one call, within [`CALL_TIMEOUT`]; after a failure, calls fail at once for [`REST`].
    async fn guarded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, redis::RedisError>>,
    ) -> Result<T, StoreError> {
        if self.now_ms() < self.resting_until.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable("Redis did not answer a moment ago".into()));
        }
        let failed = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => unavailable(e),
            Err(_) => StoreError::Unavailable("Redis did not answer in time".into()),
        };
        let rest = u64::try_from(REST.as_millis()).unwrap_or(u64::MAX);
        self.resting_until.store(self.now_ms().saturating_add(rest), Ordering::Relaxed);
        Err(failed)
    }
}

/// Hands each message on, and subscribes again after a break until the task is aborted.
async fn listen(
    client: redis::Client,
    channel: String,
    first: redis::aio::PubSub,
    listening: Arc<AtomicBool>,
    on_news: Arc<dyn Fn(Option<Revoked>) + Send + Sync>,
) {
    let mut pubsub = Some(first);
    loop {
        if let Some(subscribed) = pubsub.take() {
            let mut messages = subscribed.into_on_message();
            while let Some(message) = messages.next().await {
                let payload: Result<String, _> = message.get_payload();
                // Anything else on the channel (another version's news) is not ours to read.
                if let Some(news) = payload.ok().and_then(|text| serde_json::from_str::<Revoked>(&text).ok()) {
                    on_news(Some(news));
                }
            }
        }
        listening.store(false, Ordering::SeqCst);
        tokio::time::sleep(RESUBSCRIBE).await;
        let Ok(mut again) = client.get_async_pubsub().await else { continue };
        if again.subscribe(&channel).await.is_ok() {
            on_news(None);
            listening.store(true, Ordering::SeqCst);
            pubsub = Some(again);
        }
    }
}

#[async_trait]
impl Coordinator for RedisFleet {
    async fn check_rate(&self, key: &str, rate: CellRate, count: bool) -> Result<Option<Duration>, StoreError> {
        let mut redis = self.redis.clone();
        let mut invocation = self.rate.key(format!("{}rate:{key}", self.prefix));
        invocation.arg(micros(rate.interval).max(1)).arg(micros(rate.tolerance)).arg(if count { "1" } else { "0" });
        let wait: i64 = self.guarded(invocation.invoke_async(&mut redis)).await?;
        Ok((wait > 0).then(|| Duration::from_micros(wait.unsigned_abs())))
    }

    async fn announce(&self, news: &Revoked) -> Result<(), StoreError> {
        let text = serde_json::to_string(news).map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let mut redis = self.redis.clone();
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(format!("{}news", self.prefix)).arg(text);
        let _: i64 = self.guarded(publish.query_async(&mut redis)).await?;
        Ok(())
    }

    fn listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    async fn observe_scan(&self, seen: ScanSeen, rules: &SuspicionRules) -> Result<Vec<Suspicion>, StoreError> {
        let p = &self.prefix;
        let gate = seen.gate_id.to_string();
        let ticket = seen.ticket_id.filter(|_| seen.reason != ScanReason::WrongEvent);
        let ticket_key = ticket.map_or_else(|| format!("{p}suspicion:seen:none"), |t| format!("{p}suspicion:seen:{t}"));
        let now = seen.at.timestamp_micros();
        let flag = |b: bool| if b { "1" } else { "0" };
        let mut redis = self.redis.clone();
        let mut invocation = self.observe.key(format!("{p}suspicion:bad:{gate}"));
        invocation
            .key(ticket_key)
            .key(format!("{p}suspicion:throttle:bad:{gate}"))
            .key(format!("{p}suspicion:throttle:two:{gate}"))
            .arg(now)
            .arg(&gate)
            .arg(flag(seen.reason == ScanReason::BadSignature))
            .arg(flag(ticket.is_some()))
            .arg(flag(seen.reason.is_ok()))
            .arg(rules.bad_signatures.max(1))
            .arg(window_micros(rules.bad_signature_window))
            .arg(window_micros(rules.two_gates_window));
        let found: Vec<Vec<String>> = self.guarded(invocation.invoke_async(&mut redis)).await?;
        found.iter().map(|f| finding(f, seen, ticket)).collect()
    }
}

/// A finding of the script as a [`Suspicion`].
fn finding(fields: &[String], seen: ScanSeen, ticket: Option<TicketId>) -> Result<Suspicion, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("suspicion finding {fields:?}"));
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<i64>().ok()).ok_or_else(corrupt);
    match fields.first().map(String::as_str) {
        Some("bad") => Ok(Suspicion::RepeatedBadSignatures {
            gate_id: seen.gate_id,
            count: usize::try_from(number(1)?).map_err(|_| corrupt())?,
            since: DateTime::<Utc>::from_timestamp_micros(number(2)?).ok_or_else(corrupt)?,
        }),
        Some("two") => Ok(Suspicion::TicketAtTwoGates {
            ticket_id: ticket.ok_or_else(corrupt)?,
            first_gate: fields.get(1).and_then(|g| g.parse::<GateId>().ok()).ok_or_else(corrupt)?,
            second_gate: seen.gate_id,
            seconds_apart: number(2)? / 1_000_000,
            held_back: usize::try_from(number(3)?).map_err(|_| corrupt())?,
        }),
        _ => Err(corrupt()),
    }
}
