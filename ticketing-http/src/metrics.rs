//! Prometheus metrics, kept per server (not in a process-global registry, so several servers in
//! one process, as in the tests, each count their own) and rendered in the text format at
//! `GET /metrics`.
//!
//! - `http_request_duration_seconds{method,route,status}`: a histogram per route template
//!   (`/api/v1/events/{id}`, never the raw path, so ids do not explode the series);
//! - the seed's generation families: `generation_queue_size`, the queue's count as last read
//!   (see below); `tickets_generated_total` and `ticket_generation_duration_seconds` (one sample per
//!   worker run: how long it held the job, whatever it made), by final `status` of the run; and
//!   `generation_errors_total`, runs that ended failed or that the queue refused, by `kind`;
//! - selling: `orders_total{status}` (orders this server placed, saw paid, or expired),
//!   `payment_webhooks_total{provider,outcome}` (`repeat` for a delivery recorded before,
//!   `bad_signature` and `invalid_webhook` for refused ones) and `holds_expired_total`;
//! - the queue: `queue_depth{kind}`, jobs queued of each kind (`notify`: notifications waiting to
//!   be sent or retried), counted in the durable queue by the server every second
//!   ([`Metrics::set_queued`]), never by a scrape: scrapers, however many, cost the database
//!   nothing; notifications: `notifications_total{kind,channel,outcome}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use ticketing_core::job::JobTask;

/// Generation run duration buckets, in seconds (a run makes up to a whole job).
const GENERATION_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0];

/// Request duration buckets, in seconds.
const HTTP_BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug, Default)]
struct Histogram {
    /// Cumulative counts, one per bucket.
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.buckets.len() != bounds.len() {
            self.buckets = vec![0; bounds.len()];
        }
        for (bound, n) in bounds.iter().zip(&mut self.buckets) {
            if value <= *bound {
                *n += 1;
            }
        }
        self.count += 1;
        self.sum += value;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        for (bound, n) in bounds.iter().zip(&self.buckets) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// A label value, escaped for the text format.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[derive(Debug, Default)]
struct Inner {
    /// By (method, route, status).
    requests: BTreeMap<(String, String, u16), Histogram>,
    /// Tickets generated, by the run's final job status.
    generated: BTreeMap<&'static str, u64>,
    /// Run durations, by the run's final job status.
    runs: BTreeMap<&'static str, Histogram>,
    /// Generation errors, by kind (`failed`: the job's attempt failed; `queue`: the queue could
    /// not be reached).
    errors: BTreeMap<&'static str, u64>,
    /// Orders moved to a status, by status.
    orders: BTreeMap<&'static str, u64>,
    /// Payment webhook deliveries, by (provider, outcome).
    webhooks: BTreeMap<(&'static str, &'static str), u64>,
    /// Orders whose hold ended unpaid.
    holds_expired: u64,
    /// Notification messages, by (kind, channel, outcome).
    notifications: BTreeMap<(&'static str, &'static str, &'static str), u64>,
    /// Jobs queued, by kind, as last counted.
    queued: Vec<(&'static str, u64)>,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one answered request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.inner()
            .requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default()
            .observe(&HTTP_BUCKETS, elapsed.as_secs_f64());
    }

    /// Records one worker run of a generation: `made` tickets in `elapsed`, leaving the job
    /// in `status` (a run that left it `failed`, or `queued` for a retry with an error, counts as
    /// an error).
    pub fn observe_generation(&self, status: &'static str, made: u64, elapsed: Duration, failed: bool) {
        let mut inner = self.inner();
        *inner.generated.entry(status).or_default() += made;
        inner.runs.entry(status).or_default().observe(&GENERATION_BUCKETS, elapsed.as_secs_f64());
        if failed {
            *inner.errors.entry("failed").or_default() += 1;
        }
    }

    /// Records a worker that could not reach the queue.
    pub fn observe_queue_error(&self) {
        *self.inner().errors.entry("queue").or_default() += 1;
    }

    /// Records orders moved to `status` (placed: `pending`; paid; expired…).
    pub fn order_status(&self, status: &'static str) {
        *self.inner().orders.entry(status).or_default() += 1;
    }

    /// Records a payment webhook delivery and what came of it.
    pub fn webhook(&self, provider: &'static str, outcome: &'static str) {
        *self.inner().webhooks.entry((provider, outcome)).or_default() += 1;
    }

    /// Records one notification message handed to its channel, and what came of it (`sent`,
    /// `skipped`, `retry`, `failed`, `limited`).
    pub fn notification(&self, kind: &'static str, channel: &'static str, outcome: &'static str) {
        *self.inner().notifications.entry((kind, channel, outcome)).or_default() += 1;
    }

    /// Records `n` orders whose hold ended unpaid.
    pub fn holds_expired(&self, n: u64) {
        let mut inner = self.inner();
        inner.holds_expired += n;
        *inner.orders.entry("expired").or_default() += n;
    }

    /// Sets the jobs queued of each kind, as counted now (a kind left out is not shown, as when
    /// the queue could not be read).
    pub fn set_queued(&self, queued: Vec<(&'static str, u64)>) {
        self.inner().queued = queued;
    }

    /// The text exposition (the generation jobs queued are the seed's `generation_queue_size`).
    pub fn render(&self) -> String {
        let inner = self.inner();
        let queued = &inner.queued;
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP http_request_duration_seconds Time to answer a request, by route template.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in &inner.requests {
            let labels = format!("method=\"{}\",route=\"{}\",status=\"{status}\"", label(method), label(route));
            h.render(&mut out, "http_request_duration_seconds", &labels, &HTTP_BUCKETS);
        }
        out.push_str("# HELP tickets_generated_total Total number of tickets generated\n");
        out.push_str("# TYPE tickets_generated_total counter\n");
        for (status, n) in &inner.generated {
            let _ = writeln!(out, "tickets_generated_total{{status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP ticket_generation_duration_seconds Ticket generation duration\n");
        out.push_str("# TYPE ticket_generation_duration_seconds histogram\n");
        for (status, h) in &inner.runs {
            h.render(
                &mut out,
                "ticket_generation_duration_seconds",
                &format!("status=\"{status}\""),
                &GENERATION_BUCKETS,
            );
        }
        out.push_str("# HELP generation_queue_size Current generation queue size\n");
        out.push_str("# TYPE generation_queue_size gauge\n");
        if let Some((_, n)) = queued.iter().find(|(kind, _)| *kind == JobTask::GENERATE_TICKETS) {
            let _ = writeln!(out, "generation_queue_size{{queue_name=\"generation\"}} {n}");
        }
        out.push_str("# HELP queue_depth Jobs queued (waiting to run, or for their retry), by kind\n");
        out.push_str("# TYPE queue_depth gauge\n");
        for (kind, n) in queued {
            let _ = writeln!(out, "queue_depth{{kind=\"{kind}\"}} {n}");
        }
        out.push_str("# HELP generation_errors_total Total number of generation errors\n");
        out.push_str("# TYPE generation_errors_total counter\n");
        for (kind, n) in &inner.errors {
            let _ = writeln!(out, "generation_errors_total{{kind=\"{kind}\"}} {n}");
        }
        out.push_str("# HELP orders_total Orders moved to a status by this server, by status\n");
        out.push_str("# TYPE orders_total counter\n");
        for (status, n) in &inner.orders {
            let _ = writeln!(out, "orders_total{{status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP payment_webhooks_total Payment webhook deliveries, by provider and outcome\n");
        out.push_str("# TYPE payment_webhooks_total counter\n");
        for ((provider, outcome), n) in &inner.webhooks {
            let _ = writeln!(out, "payment_webhooks_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {n}");
        }
        out.push_str("# HELP holds_expired_total Orders whose hold ended unpaid, their tickets released\n");
        out.push_str("# TYPE holds_expired_total counter\n");
        let _ = writeln!(out, "holds_expired_total {}", inner.holds_expired);
        out.push_str(
            "# HELP notifications_total Notification messages handed to their channel, by kind, channel and outcome\n",
        );
        out.push_str("# TYPE notifications_total counter\n");
        for ((kind, channel, outcome), n) in &inner.notifications {
            let _ =
                writeln!(out, "notifications_total{{kind=\"{kind}\",channel=\"{channel}\",outcome=\"{outcome}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_bucketed_by_route_template() {
        let m = Metrics::default();
        m.observe_request("GET", "/api/v1/events/{id}", 200, Duration::from_millis(3));
        m.observe_request("GET", "/api/v1/events/{id}", 200, Duration::from_millis(30));
        m.set_queued(vec![("generate_tickets", 4), ("notify", 7)]);
        let text = m.render();
        let series = "method=\"GET\",route=\"/api/v1/events/{id}\",status=\"200\"";
        assert!(text.contains(&format!("http_request_duration_seconds_bucket{{{series},le=\"0.005\"}} 1")), "{text}");
        assert!(text.contains(&format!("http_request_duration_seconds_bucket{{{series},le=\"0.05\"}} 2")), "{text}");
        assert!(text.contains(&format!("http_request_duration_seconds_count{{{series}}} 2")), "{text}");
        assert!(text.contains("generation_queue_size{queue_name=\"generation\"} 4"));
        assert!(text.contains("queue_depth{kind=\"generate_tickets\"} 4"), "{text}");
        assert!(text.contains("queue_depth{kind=\"notify\"} 7"), "{text}");
        for family in [
            "tickets_generated_total",
            "ticket_generation_duration_seconds",
            "generation_errors_total",
            "orders_total",
            "payment_webhooks_total",
            "holds_expired_total",
            "notifications_total",
        ] {
            assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
        }
    }

    #[test]
    fn generation_runs_are_counted() {
        let m = Metrics::default();
        m.observe_generation("succeeded", 1000, Duration::from_millis(80), false);
        m.observe_generation("succeeded", 500, Duration::from_millis(300), false);
        m.observe_generation("queued", 200, Duration::from_millis(20), true);
        m.observe_queue_error();
        let text = m.render();
        assert!(text.contains("tickets_generated_total{status=\"succeeded\"} 1500"), "{text}");
        assert!(text.contains("tickets_generated_total{status=\"queued\"} 200"), "{text}");
        assert!(
            text.contains("ticket_generation_duration_seconds_bucket{status=\"succeeded\",le=\"0.1\"} 1"),
            "{text}"
        );
        assert!(text.contains("ticket_generation_duration_seconds_count{status=\"succeeded\"} 2"), "{text}");
        assert!(text.contains("generation_errors_total{kind=\"failed\"} 1"), "{text}");
        assert!(text.contains("generation_errors_total{kind=\"queue\"} 1"), "{text}");
    }

    #[test]
    fn selling_is_counted() {
        let m = Metrics::default();
        m.order_status("pending");
        m.order_status("pending");
        m.webhook("stripe", "paid");
        m.webhook("stripe", "repeat");
        m.holds_expired(1);
        let text = m.render();
        assert!(text.contains("orders_total{status=\"pending\"} 2"), "{text}");
        assert!(text.contains("orders_total{status=\"expired\"} 1"), "{text}");
        assert!(text.contains("payment_webhooks_total{provider=\"stripe\",outcome=\"repeat\"} 1"), "{text}");
        assert!(text.contains("holds_expired_total 1"), "{text}");
    }
}
