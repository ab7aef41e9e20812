//! The server's settings: built-in defaults, then an optional TOML file, then environment
//! variables, each layer overriding the one before. Every setting has one name in the file and
//! one `TICKETING_*` variable; a malformed value stops the start with a message naming both.
//!
//! | file key | variable | default |
//! |---|---|---|
//! | `listen` | `TICKETING_LISTEN` | `127.0.0.1:8080` |
//! | `metrics_listen` | `TICKETING_METRICS_LISTEN`: `GET /metrics` is served there only, on a listener of its own (a port the public never reaches) | none: `/metrics` beside the API |
//! | `data_dir` | `TICKETING_DATA_DIR` | `./ticketing-data` |
//! | `database_url` | `TICKETING_DATABASE_URL` | `sqlite://<data_dir>/ticketing.db` |
//! | `redis_url` | `TICKETING_REDIS_URL` | none |
//! | `redis_prefix` | `TICKETING_REDIS_PREFIX`: the start of every Redis key, so several deployments can share one Redis | `ticketing:` |
//! | `qr_keys` | `TICKETING_QR_KEYS` | generated once, kept in `<data_dir>/keys.toml` |
//! | `qr_keys_file` | `TICKETING_QR_KEYS_FILE`: a file holding the QR keys, one item a line (a Docker or Kubernetes secret, so a fleet signs alike); not with `qr_keys` | none |
//! | `link_key_file` | `TICKETING_LINK_KEY_FILE`: a file holding the magic-link key (64 hex digits), never created | none: `<data_dir>/link.key`, made on the first start |
//! | `access_token_ttl_secs` | `TICKETING_ACCESS_TOKEN_TTL_SECS` | 900 |
//! | `refresh_token_ttl_secs` | `TICKETING_REFRESH_TOKEN_TTL_SECS` | 2,592,000 (30 days) |
//! | `rate_window_secs` | `TICKETING_RATE_WINDOW_SECS` | 900 |
//! | `rate_token` | `TICKETING_RATE_TOKEN` | 100 per window, per IP |
//! | `rate_generation` | `TICKETING_RATE_GENERATION`: work done at once: tickets issued now (`POST …/tickets`, up to 100 each), desk sales, template previews | 300 per window, per user |
//! | `rate_batch` | `TICKETING_RATE_BATCH`: bulk work: generation jobs queued, ZIP exports of an event's tickets | 50 per window, per user |
//! | `rate_download` | `TICKETING_RATE_DOWNLOAD` | 100 per window, per IP |
//! | `rate_scan_agent` | `TICKETING_RATE_SCAN_AGENT`: scan requests | 1,800 per window, per agent (2 a second) |
//! | `rate_scan_gate` | `TICKETING_RATE_SCAN_GATE`: scan requests | 9,000 per window, per gate (10 a second) |
//! | `rate_order_address` | `TICKETING_RATE_ORDER_ADDRESS`: orders placed | 30 per window, per IP |
//! | `rate_order_event` | `TICKETING_RATE_ORDER_EVENT`: orders placed | 30,000 per window, per event |
//! | `rate_resend` | `TICKETING_RATE_RESEND`: "email me my tickets again" | 10 per window, per IP (and 3 per window per asked address) |
//! | `order_hold_secs` | `TICKETING_ORDER_HOLD_SECS` (1 to 86,400): how long an order's tickets are held for its payment | 900 |
//! | `public_url` | `TICKETING_PUBLIC_URL`: this server as buyers reach it (the payment link's `{return_url}` is the order's page under it) | `http://<listen>` |
//! | `stripe_webhook_secrets` | `TICKETING_STRIPE_WEBHOOK_SECRETS` (comma-separated, one or two during a rotation) | none: Stripe deliveries are refused |
//! | `generic_webhook_secrets` | `TICKETING_GENERIC_WEBHOOK_SECRETS` (comma-separated, one or two during a rotation) | none: generic deliveries are refused |
//! | `stripe_api_key` | `TICKETING_STRIPE_API_KEY`: the secret key refunds are asked with | none: Stripe refunds wait (their jobs retry) |
//! | `stripe_api_base` | `TICKETING_STRIPE_API_BASE` | `https://api.stripe.com` |
//! | `generic_refund_url` | `TICKETING_GENERIC_REFUND_URL`: where generic refunds are asked (signed with the first generic secret) | none: generic refunds wait |
//! | `smtp_url` | `TICKETING_SMTP_URL`: where emails go: `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465` (implicit TLS) | none: emails are skipped |
//! | `mail_from` | `TICKETING_MAIL_FROM`: the sender, `Name <address>` or an address | `Ticketing <tickets@localhost>` |
//! | `sms_provider` | `TICKETING_SMS_PROVIDER`: `twilio` or `webhook` | none: text messages are skipped |
//! | `sms_url` | `TICKETING_SMS_URL`: Twilio's API base, or the webhook's URL | `https://api.twilio.com` for Twilio; required for a webhook |
//! | `sms_account` | `TICKETING_SMS_ACCOUNT`: the Twilio account SID | required for Twilio |
//! | `sms_token` | `TICKETING_SMS_TOKEN`: Twilio's auth token, or the webhook's bearer token | required for Twilio; none for a webhook |
//! | `sms_from` | `TICKETING_SMS_FROM`: the sending number | required for Twilio |
//! | `notify_workers` | `TICKETING_NOTIFY_WORKERS` (0 to 64; 0: notifications are sent by another instance): messages sent side by side, each worker with its own SMTP connection (16 send about 270 emails a second here: see BENCHMARKS.md) | 2 |
//! | `webhook_allow_http_loopback` | `TICKETING_WEBHOOK_ALLOW_HTTP_LOOPBACK`: webhook endpoints may be plain `http://` to a loopback address (tests, a local relay) | false |
//! | `webhook_allow_private` | `TICKETING_WEBHOOK_ALLOW_PRIVATE`: webhook endpoints may be (or resolve to) private, loopback or link-local addresses | false |
//! | `webhook_disable_after_secs` | `TICKETING_WEBHOOK_DISABLE_AFTER_SECS` (1 to 604,800): how long an endpoint may fail every delivery before it is disabled and the organisers told | 86,400 (a day) |
//! | `job_retry_secs` | `TICKETING_JOB_RETRY_SECS` (1 to 3,600): a failed job's first retry, doubling, at most an hour | 10 |
//! | `cors_origins` | `TICKETING_CORS_ORIGINS` (comma-separated) | none |
//! | `trusted_proxies` | `TICKETING_TRUSTED_PROXIES` (comma-separated addresses or networks, `10.0.0.0/8`): peers whose `Forwarded` / `X-Forwarded-For` name the client, for the per-address limits, and whose `x-request-id` is the request's id | none: the peer is the client |
//! | `body_limit_bytes` | `TICKETING_BODY_LIMIT_BYTES` | 1,048,576 |
//! | `workers` | `TICKETING_WORKERS` (0 to 64; 0: jobs run on another instance) | 2 job workers |
//! | `job_lease_secs` | `TICKETING_JOB_LEASE_SECS` (5 to 3,600): how long a job whose worker died waits before another worker resumes it (a live worker sends a heartbeat every third of it) | 15 |
//! | `scan_session_ttl_secs` | `TICKETING_SCAN_SESSION_TTL_SECS` (5 to 600): how long a scan request's `scan_session_token` works | 30 |
//! | `scan_budget_ms` | `TICKETING_SCAN_BUDGET_MS` (100 to 30,000): how long a scan request or confirmation may wait for storage before the gate gets 503 | 1,000 |
//! | `log_format` | `TICKETING_LOG_FORMAT` (`text` or `json`) | `text` |
//! | `log_level` | `TICKETING_LOG_LEVEL` | `info` |
//! | `superadmin_email` | `TICKETING_SUPERADMIN_EMAIL` | `admin@ticketing.local` |
//! | `superadmin_password` | `TICKETING_SUPERADMIN_PASSWORD` | generated, printed once |
//!
//! Staff limits stop abuse, not a box office's ordinary day. A cashier at a busy desk issues
//! hundreds of tickets an hour: 300 issues per 15 minutes (1,200 an hour, one every 3 s) leaves
//! room for a rush, and 50 generation jobs per 15 minutes for an organiser splitting a list.
//! A busy gate lane scans about one ticket a second: an agent may send 2 scan requests a second
//! (a retry, a second look), a gate 10 (ten lanes behind one gate), each with a full window's
//! burst; a flood of forged codes from one device is stopped within the window.
//!
//! The file is read from `TICKETING_CONFIG` when set. QR keys are `id:state:hex` items for
//! HMAC-SHA256 (`state` is `current` or `verify`, the secret at least 32 bytes in hex) or
//! `id:state:ed25519:hex` for Ed25519 (a 32-byte secret key, whose public key scanners get from
//! `/api/v1/events/{id}/scanner-keys`), comma-separated in the variable, a list of strings in
//! the file; `ticketing keys generate [--ed25519]` prints one. Tickets are signed by the one
//! `current` key, whatever its algorithm: rotating adds a new `current` key and turns the old
//! one to `verify`, so tickets already sent keep scanning.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use ticketing_core::signing::KeySetting;

use serde::Deserialize;
use thiserror::Error;

/// A setting that stops the start.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A value could not be used.
    #[error("setting `{key}` ({env}): {problem}")]
    Invalid {
        /// The key in the file.
        key: &'static str,
        /// The environment variable.
        env: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The file could not be read or parsed.
    #[error("configuration file {path}: {problem}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("must be `text` or `json`".into()),
        }
    }
}

/// One rate limit: `burst` requests at once, refilled evenly over `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in one window.
    pub burst: u32,
    /// The window.
    pub window: Duration,
}

/// The rate limits (the seed's defaults: 100 requests per 15 minutes, 20 generations, 5 batches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// `/oauth/token`, per client IP.
    pub token: RateLimit,
    /// Work done at once, per user (`TICKETING_RATE_GENERATION`): tickets issued now, desk sales
    /// and template previews.
    pub issue_now: RateLimit,
    /// Bulk work, per user (`TICKETING_RATE_BATCH`): generation jobs and ZIP exports.
    pub bulk: RateLimit,
    /// Downloads through magic links, per IP.
    pub download: RateLimit,
    /// Scan requests, per agent.
    pub scan_agent: RateLimit,
    /// Scan requests, per gate.
    pub scan_gate: RateLimit,
    /// Orders placed, per client IP.
    pub order_address: RateLimit,
    /// Orders placed, per event.
    pub order_event: RateLimit,
    /// "Email me my tickets again", per client IP (and 3 a window per asked address).
    pub resend: RateLimit,
}

/// The server's settings, checked. Its `Debug` leaves out the superadmin password and the
/// URLs (which may carry credentials).
#[derive(Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where `/metrics` is served alone, when not beside the API.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the SQLite file and generated keys live.
    pub data_dir: PathBuf,
    /// The database.
    pub database_url: String,
    /// Redis, for scan sessions and locks.
    pub redis_url: Option<String>,
    /// The start of every Redis key.
    pub redis_prefix: String,
    /// QR signing keys (from `TICKETING_QR_KEYS` or its file); empty: generated and kept in the
    /// data directory.
    pub qr_keys: Vec<KeySetting>,
    /// The file the QR keys were read from (`TICKETING_QR_KEYS_FILE`), if they were.
    pub qr_keys_file: Option<PathBuf>,
    /// The file the magic-link key is read from; none: the data directory's `link.key`.
    pub link_key_file: Option<PathBuf>,
    /// How long a bearer token works.
    pub access_token_ttl: Duration,
    /// How long a refresh token works.
    pub refresh_token_ttl: Duration,
    /// The rate limits.
    pub rate_limits: RateLimits,
    /// Origins allowed by CORS (none: no CORS headers).
    pub cors_origins: Vec<String>,
    /// The proxies whose forwarding headers name the client.
    pub trusted_proxies: crate::client::TrustedProxies,
    /// The largest request body accepted.
    pub body_limit_bytes: usize,
    /// Job workers in this server (bulk generation); 0 leaves the jobs to other instances.
    pub workers: usize,
    /// How long a worker holds a job between reports; a job whose worker died is resumed by
    /// another once this has passed.
    pub job_lease: Duration,
    /// How long a scan session works.
    pub scan_session_ttl: Duration,
    /// How long a scan step may wait for storage before answering 503.
    pub scan_budget: Duration,
    /// Log lines as text or JSON.
    pub log_format: LogFormat,
    /// The log filter (`info`, `debug`, `ticketing_http=debug,info`…).
    pub log_level: String,
    /// The first superadmin's email.
    pub superadmin_email: String,
    /// Their password; none: generated and printed once.
    pub superadmin_password: Option<String>,
    /// How long an order's tickets are held for its payment.
    pub order_hold: Duration,
    /// This server as buyers reach it, without a trailing slash.
    pub public_url: String,
    /// The secrets Stripe signs its deliveries with (two during a rotation); never logged.
    pub stripe_webhook_secrets: Vec<String>,
    /// The secrets generic deliveries are signed with (two during a rotation); never logged.
    pub generic_webhook_secrets: Vec<String>,
    /// Stripe's secret key, for refunds; never logged.
    pub stripe_api_key: Option<String>,
    /// Stripe's API, without a trailing slash.
    pub stripe_api_base: String,
    /// Where generic refunds are asked.
    pub generic_refund_url: Option<String>,
    /// A failed job's first retry.
    pub job_retry: Duration,
    /// Where emails go; none: they are skipped.
    pub smtp: Option<crate::courier::SmtpSettings>,
    /// The SMS provider; none: text messages are skipped.
    pub sms: Option<crate::courier::SmsApi>,
    /// Notification workers.
    pub notify_workers: usize,
    /// Which webhook endpoint URLs are accepted and reached.
    pub webhook_urls: ticketing_core::hook::UrlPolicy,
    /// How long an endpoint may fail every delivery before it is disabled.
    pub webhook_disable_after: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("data_dir", &self.data_dir)
            .field("redis", &self.redis_url.is_some())
            .field("redis_prefix", &self.redis_prefix)
            .field("qr_keys", &self.qr_keys)
            .field("qr_keys_file", &self.qr_keys_file)
            .field("link_key_file", &self.link_key_file)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("rate_limits", &self.rate_limits)
            .field("cors_origins", &self.cors_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("workers", &self.workers)
            .field("job_lease", &self.job_lease)
            .field("scan_session_ttl", &self.scan_session_ttl)
            .field("scan_budget", &self.scan_budget)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("superadmin_email", &self.superadmin_email)
            .field("order_hold", &self.order_hold)
            .field("public_url", &self.public_url)
            .field("stripe_webhook_secrets", &self.stripe_webhook_secrets.len())
            .field("generic_webhook_secrets", &self.generic_webhook_secrets.len())
            .field("stripe_api_key", &self.stripe_api_key.is_some())
            .field("stripe_api_base", &self.stripe_api_base)
            .field("generic_refund_url", &self.generic_refund_url)
            .field("job_retry", &self.job_retry)
            .field("smtp", &self.smtp.is_some())
            .field("mail_from", &self.smtp.as_ref().map(|s| s.from.as_str()))
            .field("sms", &self.sms)
            .field("notify_workers", &self.notify_workers)
            .field("webhook_urls", &self.webhook_urls)
            .field("webhook_disable_after", &self.webhook_disable_after)
            .finish_non_exhaustive()
    }
}

/// The file's shape: every key optional, unknown keys refused.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    metrics_listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    qr_keys: Option<Vec<String>>,
    qr_keys_file: Option<String>,
    link_key_file: Option<String>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    rate_window_secs: Option<u64>,
    rate_token: Option<u32>,
    rate_generation: Option<u32>,
    rate_batch: Option<u32>,
    rate_download: Option<u32>,
    rate_scan_agent: Option<u32>,
    rate_scan_gate: Option<u32>,
    cors_origins: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    body_limit_bytes: Option<usize>,
    workers: Option<usize>,
    job_lease_secs: Option<u64>,
    scan_session_ttl_secs: Option<u64>,
    scan_budget_ms: Option<u64>,
    log_format: Option<String>,
    log_level: Option<String>,
    superadmin_email: Option<String>,
    superadmin_password: Option<String>,
    rate_order_address: Option<u32>,
    rate_resend: Option<u32>,
    rate_order_event: Option<u32>,
    order_hold_secs: Option<u64>,
    public_url: Option<String>,
    stripe_webhook_secrets: Option<Vec<String>>,
    generic_webhook_secrets: Option<Vec<String>>,
    stripe_api_key: Option<String>,
    stripe_api_base: Option<String>,
    generic_refund_url: Option<String>,
    job_retry_secs: Option<u64>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    sms_provider: Option<String>,
    sms_url: Option<String>,
    sms_account: Option<String>,
    sms_token: Option<String>,
    sms_from: Option<String>,
    notify_workers: Option<usize>,
    webhook_allow_http_loopback: Option<bool>,
    webhook_allow_private: Option<bool>,
    webhook_disable_after_secs: Option<u64>,
}

/// `url` if it is an http(s) URL of at most 500 characters, without a trailing slash.
fn http_url(key: &'static str, env: &'static str, url: String) -> Result<String, ConfigError> {
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.len() > 500
        || url.contains(char::is_whitespace)
    {
        return Err(ConfigError::Invalid {
            key,
            env,
            problem: "must be an http or https URL of at most 500 characters".into(),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The SMS provider from its settings: none without a provider; every setting it needs, else
/// the first one missing is named.
fn sms_api(
    provider: Option<String>,
    url: Option<String>,
    account: Option<String>,
    token: Option<String>,
    from: Option<String>,
) -> Result<Option<crate::courier::SmsApi>, ConfigError> {
    let missing = |key: &'static str, env: &'static str| ConfigError::Invalid {
        key,
        env,
        problem: format!("required with the SMS provider {:?}", provider.as_deref().unwrap_or_default()),
    };
    let url = url.map(|u| http_url("sms_url", "TICKETING_SMS_URL", u)).transpose()?;
    Ok(match provider.as_deref() {
        None => None,
        Some("twilio") => Some(crate::courier::SmsApi::Twilio {
            base: url.unwrap_or_else(|| "https://api.twilio.com".into()),
            account: account.ok_or_else(|| missing("sms_account", "TICKETING_SMS_ACCOUNT"))?,
            token: token.ok_or_else(|| missing("sms_token", "TICKETING_SMS_TOKEN"))?,
            from: from.ok_or_else(|| missing("sms_from", "TICKETING_SMS_FROM"))?,
        }),
        Some("webhook") => Some(crate::courier::SmsApi::Webhook {
            url: url.ok_or_else(|| missing("sms_url", "TICKETING_SMS_URL"))?,
            token,
        }),
        Some(_) => {
            return Err(ConfigError::Invalid {
                key: "sms_provider",
                env: "TICKETING_SMS_PROVIDER",
                problem: "must be `twilio` or `webhook`".into(),
            });
        }
    })
}

/// Webhook secrets from a list: one or two (a rotation), each at least 16 characters.
fn webhook_secrets(key: &'static str, env: &'static str, list: Vec<String>) -> Result<Vec<String>, ConfigError> {
    if list.len() > 2 {
        return Err(ConfigError::Invalid { key, env, problem: "at most two secrets (during a rotation)".into() });
    }
    if list.iter().any(|s| s.len() < 16) {
        return Err(ConfigError::Invalid { key, env, problem: "a secret is at least 16 characters".into() });
    }
    Ok(list)
}

/// Reads one setting: the variable if set, else the file's value, else `None`. Values from
/// either source are parsed the same way.
struct Layers<'a> {
    env: &'a BTreeMap<String, String>,
}

impl Layers<'_> {
    fn get<T: FromStr>(
        &self,
        key: &'static str,
        env: &'static str,
        file: Option<String>,
    ) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let raw = self.env.get(env).cloned().or(file);
        raw.filter(|v| !v.trim().is_empty())
            .map(|v| v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid { key, env, problem: e.to_string() }))
            .transpose()
    }

    fn list(&self, env: &'static str, file: Option<Vec<String>>) -> Vec<String> {
        match self.env.get(env) {
            Some(v) => v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            None => file.unwrap_or_default(),
        }
    }
}

/// `value` if it is from 1 to `max` (the bounds keep time arithmetic far from overflow).
fn bounded<T: PartialOrd + Default + std::fmt::Display>(
    key: &'static str,
    env: &'static str,
    value: T,
    max: T,
) -> Result<T, ConfigError> {
    if value <= T::default() {
        Err(ConfigError::Invalid { key, env, problem: "must be greater than zero".into() })
    } else if value > max {
        Err(ConfigError::Invalid { key, env, problem: format!("must be at most {max}") })
    } else {
        Ok(value)
    }
}

/// `value`, unless it is under `min` seconds.
fn at_least(key: &'static str, env: &'static str, value: Duration, min: u64) -> Result<Duration, ConfigError> {
    if value < Duration::from_secs(min) {
        return Err(ConfigError::Invalid { key, env, problem: format!("must be at least {min}") });
    }
    Ok(value)
}

/// A day, in seconds: the longest access token and rate-limit window.
const DAY: u64 = 24 * 3600;
/// The most requests a rate-limit window may allow.
const MAX_RATE: u32 = 1_000_000;
/// The largest request body that may be allowed.
const MAX_BODY: usize = 64 << 20;

impl Config {
    /// The settings from the process environment (and the file `TICKETING_CONFIG` names).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().filter(|(k, _)| k.starts_with("TICKETING_")).collect())
    }

    /// The settings from `vars` (and the file their `TICKETING_CONFIG` names): for tests and
    /// embedding.
    pub fn from_vars(vars: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let file = match vars.get("TICKETING_CONFIG") {
            Some(path) => {
                let path = PathBuf::from(path);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError::File { path: path.clone(), problem: e.to_string() })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::File { path, problem: e.to_string() })?
            }
            None => FileConfig::default(),
        };
        let l = Layers { env: &vars };
        let data_dir: PathBuf =
            l.get("data_dir", "TICKETING_DATA_DIR", file.data_dir)?.unwrap_or_else(|| "./ticketing-data".into());
        let database_url = l
            .get::<String>("database_url", "TICKETING_DATABASE_URL", file.database_url)?
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("ticketing.db").display()));
        let listed = l.list("TICKETING_QR_KEYS", file.qr_keys);
        let qr_keys_file = l.get::<PathBuf>("qr_keys_file", "TICKETING_QR_KEYS_FILE", file.qr_keys_file)?;
        let (listed, key, env) = match &qr_keys_file {
            None => (listed, "qr_keys", "TICKETING_QR_KEYS"),
            Some(_) if !listed.is_empty() => {
                return Err(ConfigError::Invalid {
                    key: "qr_keys_file",
                    env: "TICKETING_QR_KEYS_FILE",
                    problem: "give the QR keys in the file or in TICKETING_QR_KEYS, not both".into(),
                });
            }
            Some(path) => {
                let (key, env) = ("qr_keys_file", "TICKETING_QR_KEYS_FILE");
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
                    key,
                    env,
                    problem: format!("{}: {e}", path.display()),
                })?;
                let items = text.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
                let items: Vec<String> = items.collect();
                if items.is_empty() {
                    return Err(ConfigError::Invalid { key, env, problem: format!("{} holds no key", path.display()) });
                }
                (items, key, env)
            }
        };
        let qr_keys = listed
            .iter()
            .map(|k| k.parse())
            .collect::<Result<Vec<KeySetting>, String>>()
            .map_err(|problem| ConfigError::Invalid { key, env, problem })?;
        if !qr_keys.is_empty() && qr_keys.iter().filter(|k| k.current).count() != 1 {
            return Err(ConfigError::Invalid { key, env, problem: "exactly one key must be `current`".into() });
        }
        let window = Duration::from_secs(bounded(
            "rate_window_secs",
            "TICKETING_RATE_WINDOW_SECS",
            l.get("rate_window_secs", "TICKETING_RATE_WINDOW_SECS", file.rate_window_secs.map(|v| v.to_string()))?
                .unwrap_or(900u64),
            DAY,
        )?);
        let limit = |burst| RateLimit { burst, window };
        let rate = |key, env, file: Option<u32>, default: u32| -> Result<u32, ConfigError> {
            bounded(key, env, l.get(key, env, file.map(|v| v.to_string()))?.unwrap_or(default), MAX_RATE)
        };
        let secs = |key, env, file: Option<u64>, default: u64, max: u64| -> Result<Duration, ConfigError> {
            let value = l.get(key, env, file.map(|v| v.to_string()))?.unwrap_or(default);
            Ok(Duration::from_secs(bounded(key, env, value, max)?))
        };
        Ok(Self {
            listen: l
                .get("listen", "TICKETING_LISTEN", file.listen)?
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            metrics_listen: l.get("metrics_listen", "TICKETING_METRICS_LISTEN", file.metrics_listen)?,
            data_dir,
            database_url,
            redis_url: l.get("redis_url", "TICKETING_REDIS_URL", file.redis_url)?,
            redis_prefix: match l.get::<String>("redis_prefix", "TICKETING_REDIS_PREFIX", file.redis_prefix)? {
                Some(p) if p.len() > 64 || !p.bytes().all(|b| b.is_ascii_graphic()) => {
                    return Err(ConfigError::Invalid {
                        key: "redis_prefix",
                        env: "TICKETING_REDIS_PREFIX",
                        problem: "must be 1 to 64 printable ASCII characters".into(),
                    });
                }
                Some(p) => p,
                None => ticketing_storage::REDIS_PREFIX.to_owned(),
            },
            qr_keys,
            qr_keys_file,
            link_key_file: l.get("link_key_file", "TICKETING_LINK_KEY_FILE", file.link_key_file)?,
            access_token_ttl: secs(
                "access_token_ttl_secs",
                "TICKETING_ACCESS_TOKEN_TTL_SECS",
                file.access_token_ttl_secs,
                900,
                DAY,
            )?,
            refresh_token_ttl: secs(
                "refresh_token_ttl_secs",
                "TICKETING_REFRESH_TOKEN_TTL_SECS",
                file.refresh_token_ttl_secs,
                30 * DAY,
                366 * DAY,
            )?,
            rate_limits: RateLimits {
                token: limit(rate("rate_token", "TICKETING_RATE_TOKEN", file.rate_token, 100)?),
                issue_now: limit(rate("rate_generation", "TICKETING_RATE_GENERATION", file.rate_generation, 300)?),
                bulk: limit(rate("rate_batch", "TICKETING_RATE_BATCH", file.rate_batch, 50)?),
                download: limit(rate("rate_download", "TICKETING_RATE_DOWNLOAD", file.rate_download, 100)?),
                scan_agent: limit(rate("rate_scan_agent", "TICKETING_RATE_SCAN_AGENT", file.rate_scan_agent, 1800)?),
                scan_gate: limit(rate("rate_scan_gate", "TICKETING_RATE_SCAN_GATE", file.rate_scan_gate, 9000)?),
                order_address: limit(rate(
                    "rate_order_address",
                    "TICKETING_RATE_ORDER_ADDRESS",
                    file.rate_order_address,
                    30,
                )?),
                order_event: limit(rate(
                    "rate_order_event",
                    "TICKETING_RATE_ORDER_EVENT",
                    file.rate_order_event,
                    30_000,
                )?),
                resend: limit(rate("rate_resend", "TICKETING_RATE_RESEND", file.rate_resend, 10)?),
            },
            order_hold: {
                let (key, env) = ("order_hold_secs", "TICKETING_ORDER_HOLD_SECS");
                secs(key, env, file.order_hold_secs, 900, DAY)?
            },
            public_url: match l.get::<String>("public_url", "TICKETING_PUBLIC_URL", file.public_url)? {
                Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 200 => {
                    return Err(ConfigError::Invalid {
                        key: "public_url",
                        env: "TICKETING_PUBLIC_URL",
                        problem: "must be an http or https URL of at most 200 characters".into(),
                    });
                }
                Some(url) => url.trim_end_matches('/').to_owned(),
                None => String::new(),
            },
            stripe_webhook_secrets: webhook_secrets(
                "stripe_webhook_secrets",
                "TICKETING_STRIPE_WEBHOOK_SECRETS",
                l.list("TICKETING_STRIPE_WEBHOOK_SECRETS", file.stripe_webhook_secrets),
            )?,
            generic_webhook_secrets: webhook_secrets(
                "generic_webhook_secrets",
                "TICKETING_GENERIC_WEBHOOK_SECRETS",
                l.list("TICKETING_GENERIC_WEBHOOK_SECRETS", file.generic_webhook_secrets),
            )?,
            stripe_api_key: l.get("stripe_api_key", "TICKETING_STRIPE_API_KEY", file.stripe_api_key)?,
            stripe_api_base: http_url(
                "stripe_api_base",
                "TICKETING_STRIPE_API_BASE",
                l.get("stripe_api_base", "TICKETING_STRIPE_API_BASE", file.stripe_api_base)?
                    .unwrap_or_else(|| "https://api.stripe.com".to_owned()),
            )?,
            generic_refund_url: l
                .get::<String>("generic_refund_url", "TICKETING_GENERIC_REFUND_URL", file.generic_refund_url)?
                .map(|u| http_url("generic_refund_url", "TICKETING_GENERIC_REFUND_URL", u))
                .transpose()?,
            job_retry: secs("job_retry_secs", "TICKETING_JOB_RETRY_SECS", file.job_retry_secs, 10, 3600)?,
            smtp: match l.get::<String>("smtp_url", "TICKETING_SMTP_URL", file.smtp_url)? {
                None => None,
                Some(url) if !(url.starts_with("smtp://") || url.starts_with("smtps://")) => {
                    return Err(ConfigError::Invalid {
                        key: "smtp_url",
                        env: "TICKETING_SMTP_URL",
                        problem: "must be an smtp:// or smtps:// URL".into(),
                    });
                }
                Some(url) => Some(crate::courier::SmtpSettings {
                    url,
                    from: l
                        .get("mail_from", "TICKETING_MAIL_FROM", file.mail_from)?
                        .unwrap_or_else(|| "Ticketing <tickets@localhost>".into()),
                }),
            },
            sms: sms_api(
                l.get("sms_provider", "TICKETING_SMS_PROVIDER", file.sms_provider)?,
                l.get("sms_url", "TICKETING_SMS_URL", file.sms_url)?,
                l.get("sms_account", "TICKETING_SMS_ACCOUNT", file.sms_account)?,
                l.get("sms_token", "TICKETING_SMS_TOKEN", file.sms_token)?,
                l.get("sms_from", "TICKETING_SMS_FROM", file.sms_from)?,
            )?,
            notify_workers: match l
                .get("notify_workers", "TICKETING_NOTIFY_WORKERS", file.notify_workers.map(|v| v.to_string()))?
                .unwrap_or(2)
            {
                n if n > 64 => {
                    return Err(ConfigError::Invalid {
                        key: "notify_workers",
                        env: "TICKETING_NOTIFY_WORKERS",
                        problem: "must be at most 64".into(),
                    });
                }
                n => n,
            },
            webhook_urls: ticketing_core::hook::UrlPolicy {
                allow_http_loopback: l
                    .get(
                        "webhook_allow_http_loopback",
                        "TICKETING_WEBHOOK_ALLOW_HTTP_LOOPBACK",
                        file.webhook_allow_http_loopback.map(|v| v.to_string()),
                    )?
                    .unwrap_or(false),
                allow_private: l
                    .get(
                        "webhook_allow_private",
                        "TICKETING_WEBHOOK_ALLOW_PRIVATE",
                        file.webhook_allow_private.map(|v| v.to_string()),
                    )?
                    .unwrap_or(false),
            },
            webhook_disable_after: {
                let (key, env) = ("webhook_disable_after_secs", "TICKETING_WEBHOOK_DISABLE_AFTER_SECS");
                at_least(key, env, secs(key, env, file.webhook_disable_after_secs, 86_400, 7 * 86_400)?, 1)?
            },
            cors_origins: l.list("TICKETING_CORS_ORIGINS", file.cors_origins),
            trusted_proxies: {
                let networks = l.list("TICKETING_TRUSTED_PROXIES", file.trusted_proxies);
                let parsed = networks.iter().map(|n| n.parse()).collect::<Result<Vec<_>, _>>();
                crate::client::TrustedProxies::new(parsed.map_err(|e: crate::client::CidrError| {
                    ConfigError::Invalid {
                        key: "trusted_proxies",
                        env: "TICKETING_TRUSTED_PROXIES",
                        problem: e.to_string(),
                    }
                })?)
            },
            body_limit_bytes: bounded(
                "body_limit_bytes",
                "TICKETING_BODY_LIMIT_BYTES",
                l.get("body_limit_bytes", "TICKETING_BODY_LIMIT_BYTES", file.body_limit_bytes.map(|v| v.to_string()))?
                    .unwrap_or(1 << 20),
                MAX_BODY,
            )?,
            workers: match l.get("workers", "TICKETING_WORKERS", file.workers.map(|v| v.to_string()))?.unwrap_or(2) {
                n if n > 64 => {
                    return Err(ConfigError::Invalid {
                        key: "workers",
                        env: "TICKETING_WORKERS",
                        problem: "must be at most 64".into(),
                    });
                }
                n => n,
            },
            job_lease: {
                let secs = secs("job_lease_secs", "TICKETING_JOB_LEASE_SECS", file.job_lease_secs, 15, 3600)?;
                at_least("job_lease_secs", "TICKETING_JOB_LEASE_SECS", secs, 5)?
            },
            scan_session_ttl: {
                let (key, env) = ("scan_session_ttl_secs", "TICKETING_SCAN_SESSION_TTL_SECS");
                at_least(key, env, secs(key, env, file.scan_session_ttl_secs, 30, 600)?, 5)?
            },
            scan_budget: {
                let (key, env) = ("scan_budget_ms", "TICKETING_SCAN_BUDGET_MS");
                let ms = bounded(
                    key,
                    env,
                    l.get(key, env, file.scan_budget_ms.map(|v| v.to_string()))?.unwrap_or(1000),
                    30_000,
                )?;
                if ms < 100 {
                    return Err(ConfigError::Invalid { key, env, problem: "must be at least 100".into() });
                }
                Duration::from_millis(ms)
            },
            log_format: l.get("log_format", "TICKETING_LOG_FORMAT", file.log_format)?.unwrap_or(LogFormat::Text),
            log_level: {
                let level: String =
                    l.get("log_level", "TICKETING_LOG_LEVEL", file.log_level)?.unwrap_or_else(|| "info".into());
                level.parse::<tracing_subscriber::filter::Targets>().map_err(|e| ConfigError::Invalid {
                    key: "log_level",
                    env: "TICKETING_LOG_LEVEL",
                    problem: e.to_string(),
                })?;
                level
            },
            superadmin_email: l
                .get("superadmin_email", "TICKETING_SUPERADMIN_EMAIL", file.superadmin_email)?
                .unwrap_or_else(|| "admin@ticketing.local".into()),
            superadmin_password: l.get(
                "superadmin_password",
                "TICKETING_SUPERADMIN_PASSWORD",
                file.superadmin_password,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_need_no_setting() {
        let c = Config::from_vars(BTreeMap::new()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://./ticketing-data/ticketing.db");
        // A busy box office's day passes the staff limits: hundreds of issues an hour.
        assert_eq!(c.rate_limits.issue_now, RateLimit { burst: 300, window: Duration::from_secs(900) });
        assert_eq!(c.rate_limits.bulk, RateLimit { burst: 50, window: Duration::from_secs(900) });
        assert_eq!((c.rate_limits.scan_agent.burst, c.rate_limits.scan_gate.burst), (1800, 9000));
        assert_eq!((c.scan_budget, c.redis_prefix.as_str()), (Duration::from_secs(1), "ticketing:"));
        assert_eq!(c.job_lease, Duration::from_secs(15), "a dead worker's job resumes within 15 s");
        assert!(c.qr_keys.is_empty() && c.redis_url.is_none());
        assert_eq!((c.order_hold, c.rate_limits.order_address.burst), (Duration::from_secs(900), 30));
        assert!(c.stripe_webhook_secrets.is_empty() && c.generic_webhook_secrets.is_empty());
    }

    #[test]
    fn keys_may_come_from_secret_files() {
        let dir = std::env::temp_dir().join(format!("ticketing-key-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("qr_keys");
        let (current, old) = (format!("2:current:{}", "cd".repeat(32)), format!("1:verify:{}", "ab".repeat(32)));
        std::fs::write(&file, format!("{current}\n{old}\n")).unwrap();
        let path = file.display().to_string();
        let c = Config::from_vars(vars(&[
            ("TICKETING_QR_KEYS_FILE", &path),
            ("TICKETING_LINK_KEY_FILE", "/run/secrets/link"),
        ]))
        .unwrap();
        assert_eq!(c.qr_keys.iter().map(|k| (k.id.0, k.current)).collect::<Vec<_>>(), [(2, true), (1, false)]);
        assert_eq!(c.link_key_file, Some(PathBuf::from("/run/secrets/link")));
        let both = Config::from_vars(vars(&[("TICKETING_QR_KEYS_FILE", &path), ("TICKETING_QR_KEYS", &current)]));
        assert!(both.unwrap_err().to_string().contains("not both"));
        let missing = dir.join("absent").display().to_string();
        let e = Config::from_vars(vars(&[("TICKETING_QR_KEYS_FILE", &missing)])).unwrap_err().to_string();
        assert!(e.starts_with("setting `qr_keys_file` (TICKETING_QR_KEYS_FILE):") && e.contains("absent"), "{e}");
        std::fs::write(&file, format!("{old}\n")).unwrap();
        let e = Config::from_vars(vars(&[("TICKETING_QR_KEYS_FILE", &path)])).unwrap_err().to_string();
        assert!(e.contains("`qr_keys_file`") && e.contains("exactly one key must be `current`"), "{e}");
        let shown = format!("{c:?}");
        assert!(!shown.contains(&"cd".repeat(32)), "the secret is not shown: {shown}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_value_names_its_setting() {
        let e = Config::from_vars(vars(&[("TICKETING_LISTEN", "localhost")])).unwrap_err().to_string();
        assert!(e.starts_with("setting `listen` (TICKETING_LISTEN):"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_RATE_BATCH", "0")])).unwrap_err().to_string();
        assert!(e.contains("`rate_batch`") && e.contains("greater than zero"), "{e}");
        let e =
            Config::from_vars(vars(&[("TICKETING_ACCESS_TOKEN_TTL_SECS", "99999999999999")])).unwrap_err().to_string();
        assert!(e.contains("`access_token_ttl_secs`") && e.contains("at most 86400"), "{e}");
        let e = Config::from_vars(vars(&[
            ("TICKETING_SUPERADMIN_PASSWORD", "hunter2 but longer"),
            ("TICKETING_DATABASE_URL", "postgres://u:pw@db/x"),
        ]));
        let shown = format!("{:?}", e.unwrap());
        assert!(!shown.contains("hunter2") && !shown.contains("pw@"), "{shown}");
        let e = Config::from_vars(vars(&[("TICKETING_QR_KEYS", "1:current:abcd")])).unwrap_err().to_string();
        assert!(e.contains("TICKETING_QR_KEYS") && e.contains("32 bytes"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_LOG_FORMAT", "xml")])).unwrap_err().to_string();
        assert!(e.contains("`log_format`"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_JOB_LEASE_SECS", "2")])).unwrap_err().to_string();
        assert!(e.contains("`job_lease_secs`") && e.contains("at least 5"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_SCAN_SESSION_TTL_SECS", "601")])).unwrap_err().to_string();
        assert!(e.contains("`scan_session_ttl_secs`") && e.contains("at most 600"), "{e}");
        let ok = Config::from_vars(vars(&[("TICKETING_SCAN_SESSION_TTL_SECS", "10")])).unwrap();
        assert_eq!(ok.scan_session_ttl, Duration::from_secs(10));
        let e = Config::from_vars(vars(&[("TICKETING_SCAN_BUDGET_MS", "50")])).unwrap_err().to_string();
        assert!(e.contains("`scan_budget_ms`") && e.contains("at least 100"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_REDIS_PREFIX", "two words")])).unwrap_err().to_string();
        assert!(e.contains("`redis_prefix`"), "{e}");
        let e = Config::from_vars(vars(&[(
            "TICKETING_STRIPE_WEBHOOK_SECRETS",
            "whsec_a_long_secret,whsec_b_long_secret,whsec_c_long_secret",
        )]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("`stripe_webhook_secrets`") && e.contains("at most two"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_GENERIC_WEBHOOK_SECRETS", "short")])).unwrap_err().to_string();
        assert!(e.contains("`generic_webhook_secrets`") && e.contains("16 characters"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local")])).unwrap_err();
        assert!(e.to_string().contains("`trusted_proxies`") && e.to_string().contains("proxy.local"), "{e}");
        let ok = Config::from_vars(vars(&[("TICKETING_TRUSTED_PROXIES", "10.0.0.0/8, ::1")])).unwrap();
        assert!(
            ok.trusted_proxies.trusts("10.3.2.1".parse().unwrap()) && ok.trusted_proxies.trusts("::1".parse().unwrap())
        );
        let e = Config::from_vars(vars(&[("TICKETING_ORDER_HOLD_SECS", "0")])).unwrap_err().to_string();
        assert!(e.contains("`order_hold_secs`"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_PUBLIC_URL", "tickets.example.org")])).unwrap_err().to_string();
        assert!(e.contains("`public_url`"), "{e}");
        let ok = Config::from_vars(vars(&[
            ("TICKETING_STRIPE_WEBHOOK_SECRETS", "whsec_new_secret_1, whsec_old_secret_0"),
            ("TICKETING_PUBLIC_URL", "https://tickets.example.org/"),
        ]))
        .unwrap();
        assert_eq!((ok.stripe_webhook_secrets.len(), ok.public_url.as_str()), (2, "https://tickets.example.org"));
        assert!(!format!("{ok:?}").contains("whsec_"), "secrets are never shown");
        let e = Config::from_vars(vars(&[("TICKETING_GENERIC_REFUND_URL", "ftp://x")])).unwrap_err().to_string();
        assert!(e.contains("`generic_refund_url`"), "{e}");
        let keyed = Config::from_vars(vars(&[("TICKETING_STRIPE_API_KEY", "sk_test_secret_123")])).unwrap();
        assert!(!format!("{keyed:?}").contains("sk_test"), "the key is never shown");
        assert_eq!(
            (keyed.stripe_api_base.as_str(), keyed.job_retry),
            ("https://api.stripe.com", Duration::from_secs(10))
        );
        let e = Config::from_vars(vars(&[("TICKETING_SMTP_URL", "mail.example.org:25")])).unwrap_err().to_string();
        assert!(e.contains("`smtp_url`"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_SMS_PROVIDER", "twilio"), ("TICKETING_SMS_ACCOUNT", "AC1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`sms_token`") && e.contains("twilio"), "{e}");
        let e = Config::from_vars(vars(&[("TICKETING_SMS_PROVIDER", "pigeon")])).unwrap_err().to_string();
        assert!(e.contains("`sms_provider`"), "{e}");
        let mailed = Config::from_vars(vars(&[
            ("TICKETING_SMTP_URL", "smtps://box:mail-secret@mail.example.org:465"),
            ("TICKETING_SMS_PROVIDER", "twilio"),
            ("TICKETING_SMS_ACCOUNT", "AC1"),
            ("TICKETING_SMS_TOKEN", "twilio-secret"),
            ("TICKETING_SMS_FROM", "+15005550006"),
        ]))
        .unwrap();
        let shown = format!("{mailed:?}");
        assert!(!shown.contains("mail-secret") && !shown.contains("twilio-secret"), "{shown}");
        assert!(shown.contains("Twilio { base: \"https://api.twilio.com\"") && mailed.notify_workers == 2, "{shown}");
    }

    #[test]
    fn the_environment_overrides_the_file_and_unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("ticketing-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("server.toml");
        let key = format!("1:current:{}", "ab".repeat(32));
        std::fs::write(&path, format!("listen = \"0.0.0.0:9000\"\nrate_token = 7\nqr_keys = [\"{key}\"]\n")).unwrap();
        let file = path.to_str().unwrap();
        let c = Config::from_vars(vars(&[("TICKETING_CONFIG", file), ("TICKETING_RATE_TOKEN", "9")])).unwrap();
        assert_eq!((c.listen.port(), c.rate_limits.token.burst), (9000, 9));
        assert_eq!(c.qr_keys[0].to_setting(), key);
        assert!(!format!("{:?}", c.qr_keys).contains("abab"), "secrets stay out of Debug");
        std::fs::write(&path, "listen_on = \"0.0.0.0:9000\"\n").unwrap();
        let e = Config::from_vars(vars(&[("TICKETING_CONFIG", file)])).unwrap_err().to_string();
        assert!(e.contains("listen_on"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
