//! Every setting, named once: its row holds the file key (the variable is `TICKETING_` and the
//! key in capitals), what it holds and its bounds, its default and what it does.
//! [`Config::from_vars`](super::Config::from_vars) reads each setting through its row, and the
//! README's settings table is written from the rows ([`markdown_table`]; a test fails when the
//! README differs).

use std::fmt::Write as _;

/// What a setting holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text, or a value read from text (an address, a URL, a word).
    Text,
    /// A list: comma-separated in the variable, an array of strings in the file.
    List,
    /// `true` or `false` (default `false`).
    Flag,
    /// A whole number from `min` to `max`, `default` when not set.
    Number {
        /// When not set.
        default: u64,
        /// The least allowed.
        min: u64,
        /// The most allowed.
        max: u64,
    },
}

/// One setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Its key in the TOML file.
    pub key: &'static str,
    /// Its environment variable.
    pub env: &'static str,
    /// What it holds and its bounds.
    pub kind: Kind,
    /// The default as the table says it (after the number, for a number).
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// Whether it is a secret (or may hold one): never shown.
    pub secret: bool,
}

const fn n(default: u64, min: u64, max: u64) -> Kind {
    Kind::Number { default, min, max }
}

/// A day, in seconds: the longest access token, rate-limit window and hold.
const DAY: u64 = 24 * 3600;
/// The most requests a rate-limit window may allow.
const MAX_RATE: u64 = 1_000_000;

macro_rules! settings {
    ($($name:ident = $key:literal, $kind:expr, $default:literal, $doc:literal $(, $secret:ident)?;)*) => {
        $(
            #[doc = concat!("`", $key, "`: ", $doc)]
            pub(super) const $name: Setting = Setting {
                key: $key,
                env: concat!("TICKETING_", stringify!($name)),
                kind: $kind,
                default: $default,
                doc: $doc,
                secret: settings!(@secret $($secret)?),
            };
        )*
        /// Every setting, in the order the README's table lists them.
        pub const SETTINGS: &[Setting] = &[$($name),*];
    };
    (@secret secret) => { true };
    (@secret) => { false };
}

settings! {
    LISTEN = "listen", Kind::Text, "`127.0.0.1:8080`", "the address the API and the pages are served on";
    METRICS_LISTEN = "metrics_listen", Kind::Text, "none: `/metrics` beside the API", "`GET /metrics` is served there only, on a listener of its own (a port the public never reaches)";
    DATA_DIR = "data_dir", Kind::Text, "`./ticketing-data`", "where the SQLite file and the generated keys live";
    DATABASE_URL = "database_url", Kind::Text, "`sqlite://<data_dir>/ticketing.db`", "`sqlite://…` or `postgres://…`", secret;
    REDIS_URL = "redis_url", Kind::Text, "none", "Redis, for scan sessions, shared limits and the fleet's news", secret;
    REDIS_PREFIX = "redis_prefix", Kind::Text, "`ticketing:`", "the start of every Redis key, so several deployments can share one Redis";
    QR_KEYS = "qr_keys", Kind::List, "generated once, kept in `<data_dir>/keys.toml`", "QR keys, `id:state:hex` (HMAC-SHA256) or `id:state:ed25519:hex`; one `current`", secret;
    QR_KEYS_FILE = "qr_keys_file", Kind::Text, "none", "a file holding the QR keys, one item a line (a Docker or Kubernetes secret, so a fleet signs alike); not with `qr_keys`";
    LINK_KEY_FILE = "link_key_file", Kind::Text, "none: `<data_dir>/link.key`, made on the first start", "a file holding the magic-link key (64 hex digits), never created";
    ACCESS_TOKEN_TTL_SECS = "access_token_ttl_secs", n(900, 1, DAY), "", "how long a bearer token works";
    REFRESH_TOKEN_TTL_SECS = "refresh_token_ttl_secs", n(30 * DAY, 1, 366 * DAY), "(30 days)", "how long a refresh token works";
    RATE_WINDOW_SECS = "rate_window_secs", n(900, 1, DAY), "", "the window every rate limit below counts in";
    RATE_TOKEN = "rate_token", n(100, 1, MAX_RATE), "per window, per IP", "token requests";
    RATE_GENERATION = "rate_generation", n(300, 1, MAX_RATE), "per window, per user", "work done at once: tickets issued now (`POST …/tickets`, up to 100 each), desk sales, template previews";
    RATE_BATCH = "rate_batch", n(50, 1, MAX_RATE), "per window, per user", "bulk work: generation jobs queued, ZIP exports of an event's tickets";
    RATE_DOWNLOAD = "rate_download", n(100, 1, MAX_RATE), "per window, per IP", "magic-link pages and downloads";
    RATE_SCAN_AGENT = "rate_scan_agent", n(1800, 1, MAX_RATE), "per window, per agent (2 a second)", "scan requests";
    RATE_SCAN_GATE = "rate_scan_gate", n(9000, 1, MAX_RATE), "per window, per gate (10 a second)", "scan requests";
    RATE_ORDER_ADDRESS = "rate_order_address", n(30, 1, MAX_RATE), "per window, per IP", "orders placed";
    RATE_ORDER_EVENT = "rate_order_event", n(30_000, 1, MAX_RATE), "per window, per event", "orders placed";
    RATE_RESEND = "rate_resend", n(10, 1, MAX_RATE), "per window, per IP (and 3 per window per asked address)", "\"email me my tickets again\"";
    ORDER_HOLD_SECS = "order_hold_secs", n(900, 1, DAY), "", "how long an order's tickets are held for its payment";
    PUBLIC_URL = "public_url", Kind::Text, "`http://<listen>`", "this server as buyers reach it (the payment link's `{return_url}` is the order's page under it)";
    STRIPE_WEBHOOK_SECRETS = "stripe_webhook_secrets", Kind::List, "none: Stripe deliveries are refused", "one, or two during a rotation", secret;
    GENERIC_WEBHOOK_SECRETS = "generic_webhook_secrets", Kind::List, "none: generic deliveries are refused", "one, or two during a rotation", secret;
    STRIPE_API_KEY = "stripe_api_key", Kind::Text, "none: Stripe refunds wait (their jobs retry)", "the secret key refunds are asked with", secret;
    STRIPE_API_BASE = "stripe_api_base", Kind::Text, "`https://api.stripe.com`", "Stripe's API, for refunds (a local stand-in in tests)";
    GENERIC_REFUND_URL = "generic_refund_url", Kind::Text, "none: generic refunds wait", "where generic refunds are asked (signed with the first generic secret)";
    SMTP_URL = "smtp_url", Kind::Text, "none: emails are skipped", "where emails go: `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465` (implicit TLS)", secret;
    MAIL_FROM = "mail_from", Kind::Text, "`Ticketing <tickets@localhost>`", "the sender, `Name <address>` or an address";
    SMS_PROVIDER = "sms_provider", Kind::Text, "none: text messages are skipped", "`twilio` or `webhook`";
    SMS_URL = "sms_url", Kind::Text, "`https://api.twilio.com` for Twilio; required for a webhook", "Twilio's API base, or the webhook's URL";
    SMS_ACCOUNT = "sms_account", Kind::Text, "required for Twilio", "the Twilio account SID";
    SMS_TOKEN = "sms_token", Kind::Text, "required for Twilio; none for a webhook", "Twilio's auth token, or the webhook's bearer token", secret;
    SMS_FROM = "sms_from", Kind::Text, "required for Twilio", "the sending number";
    NOTIFY_WORKERS = "notify_workers", n(2, 0, 64), "", "messages sent side by side, each worker with its own SMTP connection (0: another instance sends them; 16 send about 270 emails a second here: see BENCHMARKS.md)";
    WEBHOOK_ALLOW_HTTP_LOOPBACK = "webhook_allow_http_loopback", Kind::Flag, "`false`", "webhook endpoints may be plain `http://` to a loopback address (tests, a local relay)";
    WEBHOOK_ALLOW_PRIVATE = "webhook_allow_private", Kind::Flag, "`false`", "webhook endpoints may be (or resolve to) private, loopback or link-local addresses";
    WEBHOOK_DISABLE_AFTER_SECS = "webhook_disable_after_secs", n(DAY, 1, 7 * DAY), "(a day)", "how long an endpoint may fail every delivery before it is disabled and the organisers told";
    JOB_RETRY_SECS = "job_retry_secs", n(10, 1, 3600), "", "a failed job's first retry, doubling, at most an hour";
    CORS_ORIGINS = "cors_origins", Kind::List, "none", "origins allowed by CORS";
    TRUSTED_PROXIES = "trusted_proxies", Kind::List, "none: the peer is the client", "addresses or networks (`10.0.0.0/8`) whose `Forwarded` / `X-Forwarded-For` name the client, for the per-address limits, and whose `x-request-id` is the request's id";
    BODY_LIMIT_BYTES = "body_limit_bytes", n(1 << 20, 1, 64 << 20), "", "the largest request body accepted";
    WORKERS = "workers", n(2, 0, 64), "", "job workers (0: jobs run on another instance)";
    JOB_LEASE_SECS = "job_lease_secs", n(15, 5, 3600), "", "how long a job whose worker died waits before another worker resumes it (a live worker sends a heartbeat every third of it)";
    SCAN_SESSION_TTL_SECS = "scan_session_ttl_secs", n(30, 5, 600), "", "how long a scan request's `scan_session_token` works";
    SCAN_BUDGET_MS = "scan_budget_ms", n(1000, 100, 30_000), "", "how long a scan request or confirmation may wait for storage before the gate gets 503";
    LOG_FORMAT = "log_format", Kind::Text, "`text`", "`text` or `json`";
    LOG_LEVEL = "log_level", Kind::Text, "`info`", "a filter: `info`, `debug`, or per target as `ticketing_storage=debug,info`";
    SUPERADMIN_EMAIL = "superadmin_email", Kind::Text, "`admin@ticketing.local`", "the first superadmin's email";
    SUPERADMIN_PASSWORD = "superadmin_password", Kind::Text, "generated, printed once", "the first superadmin's password", secret;
}

/// `value` with a comma between thousands (`2,592,000`).
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The settings as a Markdown table: key, variable, what it does, default, bounds.
pub fn markdown_table() -> String {
    let mut table = String::from("| file key | variable | what it does | default | allowed |\n|---|---|---|---|---|\n");
    for s in SETTINGS {
        let (default, allowed) = match s.kind {
            Kind::Number { default, min, max } => {
                let shown = if s.default.is_empty() {
                    thousands(default)
                } else {
                    format!("{} {}", thousands(default), s.default)
                };
                (shown, format!("{} to {}", thousands(min), thousands(max)))
            }
            Kind::List => (s.default.to_owned(), "comma-separated in the variable; a list in the file".to_owned()),
            Kind::Flag => (s.default.to_owned(), "`true` or `false`".to_owned()),
            Kind::Text => (s.default.to_owned(), String::new()),
        };
        let secret = if s.secret { " (a secret: never shown)" } else { "" };
        let _ = writeln!(table, "| `{}` | `{}` | {}{secret} | {default} | {allowed} |", s.key, s.env, s.doc);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variable_is_its_key_in_capitals_and_each_key_is_named_once() {
        let mut keys = std::collections::BTreeSet::new();
        for s in SETTINGS {
            assert_eq!(s.env, format!("TICKETING_{}", s.key.to_uppercase()));
            assert!(keys.insert(s.key), "{} twice", s.key);
            if let Kind::Number { default, min, max } = s.kind {
                assert!(min <= default && default <= max, "{}: its default is out of its bounds", s.key);
            }
        }
    }

    /// The README's settings table is this table: regenerate it with
    /// `TICKETING_WRITE_README=1 cargo test -p ticketing-http --lib readme`.
    #[test]
    fn the_readme_lists_the_settings_as_they_are() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).expect("the README");
        let (start, end) = (
            "<!-- settings table: generated from ticketing-http/src/config/settings.rs -->\n",
            "<!-- end of the settings table -->",
        );
        let (head, rest) = readme.split_once(start).expect("the README marks the table's start");
        let (_, tail) = rest.split_once(end).expect("the README marks the table's end");
        let written = format!("{head}{start}{}{end}{tail}", markdown_table());
        if std::env::var_os("TICKETING_WRITE_README").is_some() {
            std::fs::write(path, &written).expect("the README written");
        }
        assert!(
            written == readme,
            "the README's settings table differs from the settings: run TICKETING_WRITE_README=1 cargo test -p ticketing-http --lib readme"
        );
    }

    #[test]
    fn numbers_are_written_with_thousands() {
        assert_eq!(
            (thousands(7), thousands(1800), thousands(2_592_000)),
            ("7".into(), "1,800".into(), "2,592,000".into())
        );
    }
}
