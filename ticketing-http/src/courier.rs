//! The courier: sends the engine's notification messages
//! ([`ticketing_core::notification::Courier`]).
//!
//! - **Email** over SMTP with `lettre` (tokio, rustls): `TICKETING_SMTP_URL` says where and how
//!   (`smtp://host:25` plain, `smtp://user:pass@host:587?tls=required` STARTTLS,
//!   `smtps://user:pass@host:465` implicit TLS), `TICKETING_MAIL_FROM` who from. A message is
//!   multipart: text and HTML, then each ticket's PDF, drawn as its magic link draws it. Its
//!   `Message-ID` is `<{job}.{channel}.{hash of the recipient}@{domain of the sender}>`, the
//!   same on every attempt. A 4xx reply, a refused sign-in (530, 534, 535, 538: the server's
//!   password is for an operator to fix, the messages wait), no connection or a timeout is
//!   retried; any other 5xx reply is final.
//! - **SMS** through a provider's HTTP API: `twilio` (a form POST to
//!   `{base}/2010-04-01/Accounts/{account}/Messages.json`, Basic auth with the account and its
//!   token) or `webhook` (a JSON POST of `{"id", "to", "text"}`, with `Authorization: Bearer
//!   {token}` when a token is set). A 2xx is sent; 401 and 403 (our credentials, for an operator
//!   to fix), 408, 429 and 5xx are retried; any other answer is final.
//!
//! A channel without settings answers `channel not configured`: the message is recorded as
//! skipped. One recipient gets at most [`PER_RECIPIENT_PER_MINUTE`] messages a minute on a
//! channel; more are put off to a later attempt of their job. Every message handed over is
//! counted in `notifications_total` (outcome `sent`, `skipped`, `retry`, `failed`, `limited`).

use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{Method, Request, header};
use base64::Engine as _;
use http_body_util::Full;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use ticketing_core::notification::{Courier, EmailMessage, Message, SmsMessage, Undelivered};
use ticketing_pdf::TicketData;

use crate::outbound::{Outbound, excerpt, form};
use crate::state::Shared;

/// How long an SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// SMTP replies that refuse our sign-in: the operator's to fix, so the messages wait.
const SIGN_IN_REFUSED: [&str; 4] = ["530", "534", "535", "538"];

/// Messages one recipient may get on one channel in a minute; more are put off (their job tries
/// again later), so a burst of changes never floods one inbox or phone.
pub const PER_RECIPIENT_PER_MINUTE: u32 = 5;

/// Each channel as its last sends found it, for `/health`: a channel whose last send was told
/// to come back later (no connection, a 4xx SMTP reply, an HTTP 5xx) is `degraded` until a
/// send goes through; its messages wait in the queue meanwhile.
#[derive(Debug, Default)]
pub struct ChannelHealth(std::sync::Mutex<std::collections::BTreeMap<&'static str, Option<String>>>);

impl ChannelHealth {
    /// What the last send on `channel` found: `None` went through, `Some(why)` was put off.
    fn record(&self, channel: &'static str, put_off: Option<String>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(channel, put_off);
    }

    /// `channel`'s state: `not_configured` without settings, `degraded` (and why) after a send
    /// put off, else `up`.
    pub fn status(&self, channel: &'static str, configured: bool) -> (&'static str, Option<String>) {
        if !configured {
            return ("not_configured", None);
        }
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).get(channel) {
            Some(Some(class)) => {
                ("degraded", Some(format!("the last send was put off ({class}); messages wait and are retried")))
            }
            _ => ("up", None),
        }
    }
}

/// An SMS provider's API. Its `Debug` shows no token.
#[derive(Clone, PartialEq, Eq)]
pub enum SmsApi {
    /// Twilio's Messages API, or one that speaks it.
    Twilio {
        /// `https://api.twilio.com`, or a stand-in.
        base: String,
        /// The account SID.
        account: String,
        /// Its auth token; never logged.
        token: String,
        /// The sending number.
        from: String,
    },
    /// A JSON webhook.
    Webhook {
        /// Where messages are posted.
        url: String,
        /// A bearer token, if the endpoint wants one; never logged.
        token: Option<String>,
    },
}

/// Email settings. Their `Debug` shows no URL (it may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// `smtp://…` or `smtps://…` (see the module's docs); may hold a password: never logged.
    pub url: String,
    /// The sender: `Ticketing <tickets@example.org>` or a bare address.
    pub from: String,
}

impl std::fmt::Debug for SmsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Twilio { base, account, from, .. } => f
                .debug_struct("Twilio")
                .field("base", base)
                .field("account", account)
                .field("from", from)
                .finish_non_exhaustive(),
            Self::Webhook { token, .. } => {
                f.debug_struct("Webhook").field("token", &token.is_some()).finish_non_exhaustive()
            }
        }
    }
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings").field("from", &self.from).finish_non_exhaustive()
    }
}

/// Why the courier's settings were refused at start.
#[derive(Debug, thiserror::Error)]
pub enum CourierError {
    /// `TICKETING_SMTP_URL` could not be used.
    #[error("TICKETING_SMTP_URL: {0}")]
    Smtp(String),
    /// `TICKETING_MAIL_FROM` is not an address.
    #[error("TICKETING_MAIL_FROM: {0}")]
    From(String),
}

struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The sender's domain, for message ids.
    domain: String,
}

/// The server's courier: its channels and what it needs to draw tickets.
pub struct ServerCourier {
    smtp: Option<Smtp>,
    sms: Option<SmsApi>,
    client: Outbound,
    state: Shared,
    /// Per channel and recipient.
    per_recipient: crate::limit::Limit,
}

impl ServerCourier {
    /// A courier over the channels configured (none: every message is skipped), keeping up to
    /// `connections` SMTP connections open (one per notification worker).
    ///
    /// Each connection sends one message at a time, and lettre writes a message's final
    /// `.` line apart from its body on a socket without `TCP_NODELAY`: the peer's delayed
    /// acknowledgement then holds it about 40 ms. Measured here: 48 ms a message on one
    /// connection, so throughput comes from the workers sending side by side
    /// (`TICKETING_NOTIFY_WORKERS`, BENCHMARKS.md).
    pub fn new(
        smtp: Option<&SmtpSettings>,
        sms: Option<SmsApi>,
        connections: u32,
        state: Shared,
    ) -> Result<Self, CourierError> {
        let smtp = match smtp {
            None => None,
            Some(settings) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
                    .map_err(|e| CourierError::Smtp(e.to_string()))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(connections.max(1)))
                    .build();
                let from: Mailbox = settings
                    .from
                    .parse()
                    .map_err(|e: lettre::address::AddressError| CourierError::From(e.to_string()))?;
                let domain = from.email.domain().to_owned();
                Some(Smtp { transport, from, domain })
            }
        };
        let per_recipient = crate::limit::Limit::new(
            "recipient",
            crate::config::RateLimit { burst: PER_RECIPIENT_PER_MINUTE, window: Duration::from_secs(60) },
            state.fleet.clone(),
        );
        Ok(Self { smtp, sms, client: Outbound::default(), state, per_recipient })
    }

    async fn email(&self, smtp: &Smtp, m: &EmailMessage) -> Result<(), Undelivered> {
        let address = m.to.parse().map_err(|e| Undelivered::Final(format!("not an address: {e}")))?;
        let to = Mailbox::new(m.to_name.clone(), address);
        let mut body = MultiPart::mixed().multipart(MultiPart::alternative_plain_html(m.text.clone(), m.html.clone()));
        for (n, ticket) in m.attach.iter().enumerate() {
            let (code, pdf) = self.pdf(*ticket).await?;
            let name =
                if m.attach.len() == 1 { format!("ticket-{code}.pdf") } else { format!("ticket-{}-{code}.pdf", n + 1) };
            body = body.singlepart(
                Attachment::new(name).body(pdf, ContentType::parse("application/pdf").expect("a MIME type")),
            );
        }
        let mail = lettre::Message::builder()
            .from(smtp.from.clone())
            .to(to)
            .subject(&m.subject)
            .message_id(Some(format!("<{}@{}>", m.message_id, smtp.domain)))
            .multipart(body)
            .map_err(|e| Undelivered::Final(format!("the message cannot be written: {e}")))?;
        match smtp.transport.send(mail).await {
            Ok(_) => Ok(()),
            Err(e)
                if e.is_permanent()
                    && !e.status().is_some_and(|c| SIGN_IN_REFUSED.contains(&c.to_string().as_str())) =>
            {
                Err(Undelivered::Final(e.to_string()))
            }
            Err(e) => Err(Undelivered::Retry(e.to_string())),
        }
    }

    /// A ticket's PDF, drawn as its magic link draws it, and its short code.
    async fn pdf(&self, id: ticketing_core::ids::TicketId) -> Result<(String, Vec<u8>), Undelivered> {
        let retry = |e: &dyn std::fmt::Display| Undelivered::Retry(format!("the ticket's PDF: {e}"));
        let engine = &self.state.engine;
        let ticket = engine.ticket(id).await.map_err(|e| retry(&e))?;
        let ticket_type = engine.ticket_type(ticket.ticket_type_id()).await.map_err(|e| retry(&e))?;
        let event = engine.event(ticket.event_id()).await.map_err(|e| retry(&e))?;
        let renderer = crate::routes::links::ticket_renderer(&self.state, &ticket)
            .await
            .map_err(|e| Undelivered::Retry(format!("the ticket's PDF: {e:?}")))?;
        let payload = engine.qr_payload(&ticket, None).map_err(|e| retry(&e))?;
        let data = TicketData::new(&event, &ticket_type, &ticket, payload);
        let pdf = tokio::task::spawn_blocking(move || renderer.pdf(&data))
            .await
            .map_err(|e| retry(&e))?
            .map_err(|e| retry(&e))?;
        Ok((ticket.short_code().to_string(), pdf))
    }

    async fn sms(&self, api: &SmsApi, m: &SmsMessage) -> Result<(), Undelivered> {
        let request = match api {
            SmsApi::Twilio { base, account, token, from } => {
                let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{account}:{token}"));
                Request::builder()
                    .method(Method::POST)
                    .uri(format!("{}/2010-04-01/Accounts/{account}/Messages.json", base.trim_end_matches('/')))
                    .header(header::AUTHORIZATION, format!("Basic {credentials}"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Full::new(Bytes::from(format!(
                        "To={}&From={}&Body={}",
                        form(&m.to),
                        form(from),
                        form(&m.text)
                    ))))
            }
            SmsApi::Webhook { url, token } => {
                let body = serde_json::json!({ "id": m.message_id, "to": m.to, "text": m.text }).to_string();
                let mut request = Request::builder()
                    .method(Method::POST)
                    .uri(url)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("idempotency-key", &m.message_id);
                if let Some(token) = token {
                    request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
                }
                request.body(Full::new(Bytes::from(body)))
            }
        }
        .map_err(|e| Undelivered::Final(format!("a request that cannot be sent: {e}")))?;
        let (status, body) = self.client.send(request).await.map_err(Undelivered::Retry)?;
        if status.is_success() {
            return Ok(());
        }
        let why = format!("{status}: {}", excerpt(&body));
        if matches!(status.as_u16(), 401 | 403 | 408 | 429) || status.is_server_error() {
            Err(Undelivered::Retry(why))
        } else {
            Err(Undelivered::Final(why))
        }
    }
}

/// A message and the settings of the channel it goes through.
enum Route<'a> {
    Email(&'a Smtp, &'a EmailMessage),
    Sms(&'a SmsApi, &'a SmsMessage),
}

/// The kind of a put-off send, without its text: the reply code it starts with (`451`, `503`),
/// else `no answer`.
fn refusal_class(why: &str) -> String {
    let code: String = why.chars().take_while(char::is_ascii_digit).collect();
    if code.len() == 3 { format!("reply {code}") } else { "no answer".to_owned() }
}

#[async_trait]
impl Courier for ServerCourier {
    async fn send(&self, message: &Message) -> Result<(), Undelivered> {
        let (topic, channel) = (message.topic().as_str(), message.channel().as_str());
        let route = match (message, &self.smtp, &self.sms) {
            (Message::Email(m), Some(smtp), _) => Route::Email(smtp, m),
            (Message::Sms(m), _, Some(api)) => Route::Sms(api, m),
            // A channel without settings: skipped, and not counted against the recipient.
            _ => {
                self.state.metrics.notification(topic, channel, "skipped");
                return Err(Undelivered::NotConfigured);
            }
        };
        if let Err(wait) = self.per_recipient.check(&format!("{channel}:{}", message.recipient())).await {
            self.state.metrics.notification(topic, channel, "limited");
            return Err(Undelivered::Retry(format!(
                "more than {PER_RECIPIENT_PER_MINUTE} messages a minute to this recipient: put off for {} s",
                wait.as_secs().max(1)
            )));
        }
        let sent = match route {
            Route::Email(smtp, m) => self.email(smtp, m).await,
            Route::Sms(api, m) => self.sms(api, m).await,
        };
        let outcome = match &sent {
            Ok(()) => "sent",
            Err(Undelivered::Retry(_)) => "retry",
            Err(_) => "failed",
        };
        self.state.metrics.notification(topic, channel, outcome);
        match &sent {
            Ok(()) => self.state.channels.record(channel, None),
            // Only the kind of refusal: a provider's text can quote an address, and `/health` is public.
            Err(Undelivered::Retry(why)) => self.state.channels.record(channel, Some(refusal_class(why))),
            Err(_) => {}
        }
        sent
    }
}
