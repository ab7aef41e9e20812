//! The server's settings: built-in defaults, then an optional TOML file, then environment
//! variables, each layer overriding the one before. Every setting has one name in the file and
//! one `TICKETING_*` variable; a malformed value stops the start with a message naming both.
//!
//! Every setting is one row of [`SETTINGS`] (in `config/settings.rs`): its key, its variable,
//! what it holds and its bounds, its default, what it does. The README's settings table is
//! written from those rows. Secret values are held as [`Secret`], whose `Debug` and `Display`
//! never show them.
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

use thiserror::Error;
use ticketing_core::signing::KeySetting;

use self::settings::*;
pub use self::settings::{Kind, SETTINGS, Setting, markdown_table};

mod settings;

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

/// The server's settings, checked. Its `Debug` shows no secret (nor a URL that may carry
/// credentials).
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where `/metrics` is served alone, when not beside the API.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the SQLite file and generated keys live.
    pub data_dir: PathBuf,
    /// The database.
    pub database_url: Secret,
    /// Redis, for scan sessions and locks.
    pub redis_url: Option<Secret>,
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
    pub superadmin_password: Option<Secret>,
    /// How long an order's tickets are held for its payment.
    pub order_hold: Duration,
    /// This server as buyers reach it, without a trailing slash.
    pub public_url: String,
    /// The secrets Stripe signs its deliveries with (two during a rotation); never logged.
    pub stripe_webhook_secrets: Vec<Secret>,
    /// The secrets generic deliveries are signed with (two during a rotation); never logged.
    pub generic_webhook_secrets: Vec<Secret>,
    /// Stripe's secret key, for refunds; never logged.
    pub stripe_api_key: Option<Secret>,
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

/// A secret setting's value: its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(hidden)")
    }
}

/// `url` if it is an http(s) URL of at most `max` characters, without a trailing slash.
fn http_url(setting: &Setting, url: String, max: usize) -> Result<String, ConfigError> {
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.len() > max
        || url.contains(char::is_whitespace)
    {
        return Err(invalid(setting, format!("must be an http or https URL of at most {max} characters")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The refusal of `setting`'s value.
fn invalid(setting: &Setting, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: setting.key, env: setting.env, problem: problem.into() }
}

/// The SMS provider from its settings: none without a provider; every setting it needs, else
/// the first one missing is named.
fn sms_api(l: &Layers<'_>) -> Result<Option<crate::courier::SmsApi>, ConfigError> {
    let provider: Option<String> = l.get(&SMS_PROVIDER)?;
    let missing = |setting: &Setting| {
        invalid(setting, format!("required with the SMS provider {:?}", provider.as_deref().unwrap_or_default()))
    };
    let url = l.get::<String>(&SMS_URL)?.map(|u| http_url(&SMS_URL, u, 500)).transpose()?;
    let token = l.get::<String>(&SMS_TOKEN)?;
    Ok(match provider.as_deref() {
        None => None,
        Some("twilio") => Some(crate::courier::SmsApi::Twilio {
            base: url.unwrap_or_else(|| "https://api.twilio.com".into()),
            account: l.get(&SMS_ACCOUNT)?.ok_or_else(|| missing(&SMS_ACCOUNT))?,
            token: token.ok_or_else(|| missing(&SMS_TOKEN))?,
            from: l.get(&SMS_FROM)?.ok_or_else(|| missing(&SMS_FROM))?,
        }),
        Some("webhook") => Some(crate::courier::SmsApi::Webhook { url: url.ok_or_else(|| missing(&SMS_URL))?, token }),
        Some(_) => return Err(invalid(&SMS_PROVIDER, "must be `twilio` or `webhook`")),
    })
}

/// Webhook secrets: one or two (a rotation), each at least 16 characters.
fn webhook_secrets(l: &Layers<'_>, setting: &Setting) -> Result<Vec<Secret>, ConfigError> {
    let list = l.list(setting)?;
    if list.len() > 2 {
        return Err(invalid(setting, "at most two secrets (during a rotation)"));
    }
    if list.iter().any(|s| s.len() < 16) {
        return Err(invalid(setting, "a secret is at least 16 characters"));
    }
    Ok(list.into_iter().map(Secret).collect())
}

/// Reads settings through their rows: the variable if set, else the file's value, else the
/// row's default. Values from either source are read the same way.
struct Layers<'a> {
    env: &'a BTreeMap<String, String>,
    file: toml::Table,
}

impl Layers<'_> {
    /// The text of `setting`: the variable's, else the file's (a number or a flag written as
    /// TOML reads as its text), trimmed; `None` when unset or blank.
    fn text(&self, setting: &Setting) -> Result<Option<String>, ConfigError> {
        let raw = match (self.env.get(setting.env), self.file.get(setting.key)) {
            (Some(v), _) => Some(v.clone()),
            (None, None) => None,
            (None, Some(toml::Value::String(v))) => Some(v.clone()),
            (None, Some(toml::Value::Integer(v))) => Some(v.to_string()),
            (None, Some(toml::Value::Boolean(v))) => Some(v.to_string()),
            (None, Some(_)) => return Err(invalid(setting, "the file gives it a value of the wrong type")),
        };
        Ok(raw.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
    }

    fn get<T: FromStr>(&self, setting: &Setting) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.text(setting)?.map(|v| v.parse().map_err(|e: T::Err| invalid(setting, e.to_string()))).transpose()
    }

    fn list(&self, setting: &Setting) -> Result<Vec<String>, ConfigError> {
        let items: Vec<String> = match (self.env.get(setting.env), self.file.get(setting.key)) {
            (Some(v), _) => v.split(',').map(str::to_owned).collect(),
            (None, None) => Vec::new(),
            (None, Some(toml::Value::Array(items))) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| invalid(setting, "a list of strings")))
                .collect::<Result<_, _>>()?,
            (None, Some(_)) => return Err(invalid(setting, "the file gives it as a list of strings")),
        };
        Ok(items.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
    }

    fn flag(&self, setting: &Setting) -> Result<bool, ConfigError> {
        Ok(self.get(setting)?.unwrap_or(false))
    }

    /// A number within the row's bounds (they keep time arithmetic far from overflow).
    fn number(&self, setting: &Setting) -> Result<u64, ConfigError> {
        let Kind::Number { default, min, max } = setting.kind else {
            return Err(invalid(setting, "is not a number"));
        };
        let value = self.get(setting)?.unwrap_or(default);
        if value < min {
            Err(invalid(
                setting,
                if min == 1 { "must be greater than zero".to_owned() } else { format!("must be at least {min}") },
            ))
        } else if value > max {
            Err(invalid(setting, format!("must be at most {max}")))
        } else {
            Ok(value)
        }
    }

    fn secs(&self, setting: &Setting) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(self.number(setting)?))
    }

    fn small<T: TryFrom<u64>>(&self, setting: &Setting) -> Result<T, ConfigError> {
        T::try_from(self.number(setting)?).map_err(|_| invalid(setting, "is out of range"))
    }
}

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
                let table: toml::Table = text
                    .parse()
                    .map_err(|e: toml::de::Error| ConfigError::File { path: path.clone(), problem: e.to_string() })?;
                if let Some(unknown) = table.keys().find(|k| !SETTINGS.iter().any(|s| s.key == k.as_str())) {
                    return Err(ConfigError::File { path, problem: format!("unknown setting `{unknown}`") });
                }
                table
            }
            None => toml::Table::new(),
        };
        let l = Layers { env: &vars, file };
        let data_dir: PathBuf = l.get(&DATA_DIR)?.unwrap_or_else(|| "./ticketing-data".into());
        let database_url = l
            .get::<String>(&DATABASE_URL)?
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("ticketing.db").display()));
        let listed = l.list(&QR_KEYS)?;
        let qr_keys_file = l.get::<PathBuf>(&QR_KEYS_FILE)?;
        let (listed, keys_setting) = match &qr_keys_file {
            None => (listed, &QR_KEYS),
            Some(_) if !listed.is_empty() => {
                return Err(invalid(&QR_KEYS_FILE, "give the QR keys in the file or in TICKETING_QR_KEYS, not both"));
            }
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| invalid(&QR_KEYS_FILE, format!("{}: {e}", path.display())))?;
                let items = text.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
                let items: Vec<String> = items.collect();
                if items.is_empty() {
                    return Err(invalid(&QR_KEYS_FILE, format!("{} holds no key", path.display())));
                }
                (items, &QR_KEYS_FILE)
            }
        };
        let qr_keys = listed
            .iter()
            .map(|k| k.parse())
            .collect::<Result<Vec<KeySetting>, String>>()
            .map_err(|problem| invalid(keys_setting, problem))?;
        if !qr_keys.is_empty() && qr_keys.iter().filter(|k| k.current).count() != 1 {
            return Err(invalid(keys_setting, "exactly one key must be `current`"));
        }
        let window = l.secs(&RATE_WINDOW_SECS)?;
        let rate = |setting: &Setting| -> Result<RateLimit, ConfigError> {
            Ok(RateLimit { burst: l.small(setting)?, window })
        };
        Ok(Self {
            listen: l.get(&LISTEN)?.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            metrics_listen: l.get(&METRICS_LISTEN)?,
            data_dir,
            database_url: Secret(database_url),
            redis_url: l.get(&REDIS_URL)?.map(Secret),
            redis_prefix: match l.get::<String>(&REDIS_PREFIX)? {
                Some(p) if p.len() > 64 || !p.bytes().all(|b| b.is_ascii_graphic()) => {
                    return Err(invalid(&REDIS_PREFIX, "must be 1 to 64 printable ASCII characters"));
                }
                Some(p) => p,
                None => ticketing_storage::REDIS_PREFIX.to_owned(),
            },
            qr_keys,
            qr_keys_file,
            link_key_file: l.get(&LINK_KEY_FILE)?,
            access_token_ttl: l.secs(&ACCESS_TOKEN_TTL_SECS)?,
            refresh_token_ttl: l.secs(&REFRESH_TOKEN_TTL_SECS)?,
            rate_limits: RateLimits {
                token: rate(&RATE_TOKEN)?,
                issue_now: rate(&RATE_GENERATION)?,
                bulk: rate(&RATE_BATCH)?,
                download: rate(&RATE_DOWNLOAD)?,
                scan_agent: rate(&RATE_SCAN_AGENT)?,
                scan_gate: rate(&RATE_SCAN_GATE)?,
                order_address: rate(&RATE_ORDER_ADDRESS)?,
                order_event: rate(&RATE_ORDER_EVENT)?,
                resend: rate(&RATE_RESEND)?,
            },
            order_hold: l.secs(&ORDER_HOLD_SECS)?,
            public_url: l
                .get::<String>(&PUBLIC_URL)?
                .map(|url| http_url(&PUBLIC_URL, url, 200))
                .transpose()?
                .unwrap_or_default(),
            stripe_webhook_secrets: webhook_secrets(&l, &STRIPE_WEBHOOK_SECRETS)?,
            generic_webhook_secrets: webhook_secrets(&l, &GENERIC_WEBHOOK_SECRETS)?,
            stripe_api_key: l.get(&STRIPE_API_KEY)?.map(Secret),
            stripe_api_base: http_url(
                &STRIPE_API_BASE,
                l.get(&STRIPE_API_BASE)?.unwrap_or_else(|| "https://api.stripe.com".to_owned()),
                500,
            )?,
            generic_refund_url: l
                .get::<String>(&GENERIC_REFUND_URL)?
                .map(|u| http_url(&GENERIC_REFUND_URL, u, 500))
                .transpose()?,
            job_retry: l.secs(&JOB_RETRY_SECS)?,
            smtp: match l.get::<String>(&SMTP_URL)? {
                None => None,
                Some(url) if !(url.starts_with("smtp://") || url.starts_with("smtps://")) => {
                    return Err(invalid(&SMTP_URL, "must be an smtp:// or smtps:// URL"));
                }
                Some(url) => Some(crate::courier::SmtpSettings {
                    url,
                    from: l.get(&MAIL_FROM)?.unwrap_or_else(|| "Ticketing <tickets@localhost>".into()),
                }),
            },
            sms: sms_api(&l)?,
            notify_workers: l.small(&NOTIFY_WORKERS)?,
            webhook_urls: ticketing_core::hook::UrlPolicy {
                allow_http_loopback: l.flag(&WEBHOOK_ALLOW_HTTP_LOOPBACK)?,
                allow_private: l.flag(&WEBHOOK_ALLOW_PRIVATE)?,
            },
            webhook_disable_after: l.secs(&WEBHOOK_DISABLE_AFTER_SECS)?,
            cors_origins: l.list(&CORS_ORIGINS)?,
            trusted_proxies: {
                let networks = l.list(&TRUSTED_PROXIES)?;
                let parsed = networks.iter().map(|n| n.parse()).collect::<Result<Vec<_>, _>>();
                crate::client::TrustedProxies::new(
                    parsed.map_err(|e: crate::client::CidrError| invalid(&TRUSTED_PROXIES, e.to_string()))?,
                )
            },
            body_limit_bytes: l.small(&BODY_LIMIT_BYTES)?,
            workers: l.small(&WORKERS)?,
            job_lease: l.secs(&JOB_LEASE_SECS)?,
            scan_session_ttl: l.secs(&SCAN_SESSION_TTL_SECS)?,
            scan_budget: Duration::from_millis(l.number(&SCAN_BUDGET_MS)?),
            log_format: l.get(&LOG_FORMAT)?.unwrap_or(LogFormat::Text),
            log_level: {
                let level: String = l.get(&LOG_LEVEL)?.unwrap_or_else(|| "info".into());
                level.parse::<tracing_subscriber::filter::Targets>().map_err(|e| invalid(&LOG_LEVEL, e.to_string()))?;
                level
            },
            superadmin_email: l.get(&SUPERADMIN_EMAIL)?.unwrap_or_else(|| "admin@ticketing.local".into()),
            superadmin_password: l.get(&SUPERADMIN_PASSWORD)?.map(Secret),
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
        assert_eq!(c.database_url.expose(), "sqlite://./ticketing-data/ticketing.db");
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
