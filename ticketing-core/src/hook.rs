//! Outbound webhooks for integrators: the endpoints an organiser registers per event, the
//! topics they receive (`ticket.created`, `order.paid`, `ticket.refunded`, `ticket.scanned`),
//! and the signature every delivery carries, per the Standard Webhooks specification:
//!
//! ```text
//! webhook-id: msg_…            (the same on every attempt of one message)
//! webhook-timestamp: 1614265330 (seconds, this attempt's)
//! webhook-signature: v1,<base64 HMAC-SHA256 under the secret of "{id}.{timestamp}.{body}">
//! ```
//!
//! A message is a delivery job per endpoint ([`crate::job::JobTask::DeliverWebhook`]), its
//! body written when what it reports happened, enqueued in the same transaction for tickets
//! made, orders paid and refunds (a scan's is enqueued right after the scan commits). A
//! delivery is retried with backoff for about a day ([`Delivery::ATTEMPTS`]); an endpoint that
//! has failed every attempt for [`Endpoint::failing_since`] longer than its server's setting is
//! disabled, and the organisers are told.
//!
//! Endpoint URLs are checked when saved ([`UrlPolicy::check`]): `https://` (plain `http://` only
//! to loopback, and only when the server allows it, for tests), no credentials, no private,
//! loopback or link-local address unless allowed; the sender checks the addresses a host name
//! resolves to with the same rule ([`UrlPolicy::allows`]) before it connects.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

use crate::env::Randomness;
use crate::ids::{EndpointId, EventId};

/// What an endpoint may receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HookTopic {
    /// A ticket was issued by staff or a generation job (an order's tickets come with its
    /// `order.paid`).
    #[serde(rename = "ticket.created")]
    TicketCreated,
    /// An order was paid.
    #[serde(rename = "order.paid")]
    OrderPaid,
    /// A ticket was refunded with its order.
    #[serde(rename = "ticket.refunded")]
    TicketRefunded,
    /// A ticket went in or out at a gate.
    #[serde(rename = "ticket.scanned")]
    TicketScanned,
}

impl HookTopic {
    /// Every topic.
    pub const ALL: [HookTopic; 4] = [Self::TicketCreated, Self::OrderPaid, Self::TicketRefunded, Self::TicketScanned];

    /// The stable name (`ticket.created`…).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TicketCreated => "ticket.created",
            Self::OrderPaid => "order.paid",
            Self::TicketRefunded => "ticket.refunded",
            Self::TicketScanned => "ticket.scanned",
        }
    }
}

impl fmt::Display for HookTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HookTopic {
    type Err = HookError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| HookError::Topic(s.to_owned()))
    }
}

/// Why an endpoint cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HookError {
    /// Not a topic.
    #[error("unknown topic {0:?}: one of ticket.created, order.paid, ticket.refunded, ticket.scanned")]
    Topic(String),
    /// No topic at all.
    #[error("name at least one topic")]
    NoTopic,
    /// The URL is refused.
    #[error("{0}")]
    Url(&'static str),
    /// Not a secret in the `whsec_<base64>` form.
    #[error("a secret is whsec_ then base64 of 24 to 64 bytes")]
    Secret,
}

/// A signing secret: `whsec_` then base64 of its bytes, as Standard Webhooks libraries take it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A new secret of 24 random bytes.
    pub fn generate(rng: &dyn Randomness) -> Self {
        let mut bytes = vec![0u8; 24];
        rng.fill(&mut bytes);
        Self(bytes)
    }

    /// Reads `whsec_<base64>` (24 to 64 bytes).
    pub fn parse(text: &str) -> Result<Self, HookError> {
        let encoded = text.strip_prefix("whsec_").ok_or(HookError::Secret)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| HookError::Secret)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(HookError::Secret);
        }
        Ok(Self(bytes))
    }

    /// The `whsec_<base64>` text.
    pub fn as_text(&self) -> String {
        format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(&self.0))
    }

    /// The `webhook-signature` header of `body` sent as message `id` at `timestamp` (seconds).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length: this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else { return String::new() };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Which endpoint URLs a server accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Plain `http://` to a loopback address (tests, a local relay).
    pub allow_http_loopback: bool,
    /// Private, loopback, link-local and other non-public addresses (an integrator inside the
    /// same network).
    pub allow_private: bool,
}

/// The longest endpoint URL.
pub const URL_MAX: usize = 2000;

impl UrlPolicy {
    /// Checks `url` as an endpoint's: `https://host[:port]/path`, no credentials, no fragment,
    /// and a literal address only when [`Self::allows`] it (a host name's addresses are checked
    /// when the sender resolves them).
    pub fn check(&self, url: &str) -> Result<String, HookError> {
        let url = url.trim();
        if url.len() > URL_MAX || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(HookError::Url("at most 2000 characters, no spaces"));
        }
        let (scheme, rest) = url.split_once("://").ok_or(HookError::Url("must be an https:// URL"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if url.contains('#') {
            return Err(HookError::Url("must not have a fragment"));
        }
        if authority.contains('@') {
            return Err(HookError::Url("must not carry credentials"));
        }
        let host = host_of(authority).ok_or(HookError::Url("must name a host"))?;
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        match scheme.to_ascii_lowercase().as_str() {
            "https" => {}
            "http" if self.allow_http_loopback && literal.is_some_and(|ip| ip.is_loopback()) => {}
            "http" => return Err(HookError::Url("must be https:// (plain http only to loopback, when allowed)")),
            _ => return Err(HookError::Url("must be an https:// URL")),
        }
        if let Some(ip) = literal
            && !self.allows(ip)
            && !(scheme.eq_ignore_ascii_case("http") && self.allow_http_loopback && ip.is_loopback())
        {
            return Err(HookError::Url("must not point to a private, loopback or link-local address"));
        }
        if host.eq_ignore_ascii_case("localhost") && !self.allow_private {
            return Err(HookError::Url("must not point to a private, loopback or link-local address"));
        }
        // `2130706433`, `0x7f.1`, `127.1`: numbers a resolver reads as an address in disguise.
        let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or_default();
        if literal.is_none()
            && (last.chars().all(|c| c.is_ascii_digit()) || last.to_ascii_lowercase().starts_with("0x"))
        {
            return Err(HookError::Url("must name a host, or an address written in full"));
        }
        Ok(url.to_owned())
    }

    /// Whether the sender may connect to `ip`: a public address, or any when private ones are
    /// allowed (and loopback when plain http to loopback is).
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private || !is_private(ip) || (self.allow_http_loopback && ip.is_loopback())
    }
}

/// The host part of `host[:port]` or `[v6]:port`.
fn host_of(authority: &str) -> Option<&str> {
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next()?
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    Some(host).filter(|h| !h.is_empty())
}

/// Whether `ip` is not a public internet address. IPv4: loopback, private, link-local,
/// carrier-grade NAT, the IETF and benchmarking blocks, unspecified, broadcast, multicast,
/// documentation, reserved. IPv6 by allow-list: only global unicast (`2000::/3`) is public, less
/// documentation, 6to4 and Teredo (which carry IPv4 addresses); an IPv4-mapped address is judged
/// as its IPv4 address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_v4(v4);
            }
            let [first, second, ..] = v6.segments();
            (first & 0xe000) != 0x2000 // not global unicast
                || (first, second) == (0x2001, 0x0db8) // documentation
                || (first, second) == (0x2001, 0x0000) // Teredo
                || first == 0x2002 // 6to4
        }
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a, b) == (192, 0) && ip.octets()[2] == 0 // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a == 0
        || a >= 240
}

/// An integrator's endpoint at an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The id.
    pub id: EndpointId,
    /// The event whose news it gets.
    pub event_id: EventId,
    /// Where deliveries go (checked by [`UrlPolicy::check`]).
    pub url: String,
    /// What it gets, each once, in order.
    pub topics: Vec<HookTopic>,
    /// What deliveries are signed with.
    pub secret: Secret,
    /// Whether it gets deliveries (an endpoint failing for too long is disabled).
    pub enabled: bool,
    /// Since when every delivery attempt has failed (none since the last success).
    pub failing_since: Option<DateTime<Utc>>,
    /// The last failure's reason.
    pub last_error: Option<String>,
    /// When a delivery last succeeded.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl Endpoint {
    /// Whether it gets `topic`'s messages now.
    pub fn wants(&self, topic: HookTopic) -> bool {
        self.enabled && self.topics.contains(&topic)
    }
}

/// The topics named by `names`, each once, in [`HookTopic::ALL`] order; at least one.
pub fn topics(names: &[String]) -> Result<Vec<HookTopic>, HookError> {
    let mut topics: Vec<HookTopic> = names.iter().map(|n| n.parse()).collect::<Result<_, _>>()?;
    topics.sort();
    topics.dedup();
    if topics.is_empty() {
        return Err(HookError::NoTopic);
    }
    Ok(topics)
}

/// One message to one endpoint: what a delivery job carries. Its id is the `webhook-id` of
/// every attempt; its body is sent as it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// `msg_…`, stable across attempts.
    pub message_id: String,
    /// What it reports.
    pub topic: HookTopic,
    /// The JSON body: `{"type", "timestamp", "data"}`.
    pub body: String,
}

impl Delivery {
    /// A delivery job's attempts: with the default backoff (10 s, doubling, at most an hour),
    /// about 25 hours of retries, so an endpoint down for good is disabled (after a day of
    /// failures) before its first message runs out of attempts.
    pub const ATTEMPTS: u32 = 34;
}

/// What an endpoint answered, as the delivery step reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 2xx.
    Delivered,
    /// Worth another attempt: a 5xx, a 429, a 408, no answer, or an address refused for now.
    Retry(String),
    /// Another 4xx (or a 3xx: redirects are not followed): final for this message.
    Refused(String),
}

/// The port that posts a delivery (the server's HTTPS client, with [`UrlPolicy::allows`]
/// checked on every address it connects to).
#[async_trait::async_trait]
pub trait HookSender: Send + Sync {
    /// Posts `body` to `url` with the Standard Webhooks headers.
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Answer;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_reproduce_the_standard_webhooks_test_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(secret.as_text(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(format!("{secret:?}").contains('…'), "a secret's Debug hides it");
        assert_eq!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Err(HookError::Secret));
        assert_eq!(Secret::parse("whsec_c2hvcnQ="), Err(HookError::Secret));
    }

    #[test]
    fn endpoint_urls_never_reach_private_addresses_unless_allowed() {
        let strict = UrlPolicy::default();
        assert_eq!(strict.check(" https://hooks.example.org/in?x=1 "), Ok("https://hooks.example.org/in?x=1".into()));
        assert!(strict.check("https://8.8.8.8:8443/in").is_ok());
        for refused in [
            "http://hooks.example.org/in",
            "ftp://hooks.example.org/in",
            "https://user:pw@hooks.example.org/in",
            "https://hooks.example.org/in#frag",
            "https://127.0.0.1/in",
            "https://10.1.2.3/in",
            "https://172.16.0.9/in",
            "https://192.168.1.1/in",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/in",
            "https://0.0.0.0/in",
            "https://[::1]/in",
            "https://[fd00::1]/in",
            "https://[fe80::1]/in",
            "https://[::ffff:10.0.0.1]/in",
            "https://localhost/in",
            "https://2130706433/in",
            "https://0x7f.1/in",
            "https://127.1/in",
            "https://[64:ff9b::a00:1]/in",
            "https://[::10.0.0.1]/in",
            "https://[2002:a00:1::]/in",
            "https://[2001:0:a00:1::]/in",
            "https://[fec0::1]/in",
            "https://192.0.0.8/in",
            "https://198.18.0.1/in",
            "https:///in",
            "hooks.example.org",
        ] {
            assert!(strict.check(refused).is_err(), "{refused}");
        }
        let tests = UrlPolicy { allow_http_loopback: true, allow_private: false };
        assert!(tests.check("http://127.0.0.1:9000/in").is_ok());
        assert!(tests.check("http://10.0.0.1/in").is_err(), "plain http only to loopback");
        assert!(tests.allows("127.0.0.1".parse().unwrap()) && !tests.allows("10.0.0.1".parse().unwrap()));
        let inside = UrlPolicy { allow_http_loopback: false, allow_private: true };
        assert!(inside.check("https://10.1.2.3/in").is_ok());
        assert!(inside.check("http://10.1.2.3/in").is_err(), "still https");
        assert!(!is_private("8.8.8.8".parse().unwrap()) && !is_private("2a00:1450::1".parse().unwrap()));
    }

    #[test]
    fn topics_are_named_once_each() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            topics(&names(&["ticket.scanned", "order.paid", "order.paid"])),
            Ok(vec![HookTopic::OrderPaid, HookTopic::TicketScanned])
        );
        assert_eq!(topics(&[]), Err(HookError::NoTopic));
        assert!(matches!(topics(&names(&["order.created"])), Err(HookError::Topic(_))));
    }
}
