//! Notifications: the messages a notification job makes for each channel, the port that sends
//! them ([`Courier`]), and the record kept of each one ([`DeliveryRecord`]).
//!
//! A notification is a job ([`crate::job::JobTask::Notify`]) enqueued in the same transaction
//! as the change that causes it, so nothing is sent for a change that rolled back and nothing is
//! lost for one that committed. When it runs, the engine writes its messages (one per channel
//! and recipient, from the [`templates`]) and hands each to the courier; the outcome of each is
//! recorded under the job, its channel and its recipient. A message recorded as sent, skipped
//! or refused for good is not sent again when the job runs again: only the ones the channel
//! asked to retry are. A message's [`EmailMessage::message_id`] is the same on every attempt, so
//! a copy sent twice (a crash between the send and its record) is recognisable.

pub mod templates;

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{EventId, JobId, TicketId};
use crate::job::NotificationTopic;

/// A way to reach someone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An email, over SMTP.
    Email,
    /// A text message, through an SMS provider.
    Sms,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 2] = [Self::Email, Self::Sms];

    /// The stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a channel's, or a delivery status's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

impl FromStr for Channel {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "email" => Ok(Self::Email),
            "sms" => Ok(Self::Sms),
            other => Err(UnknownName(other.to_owned())),
        }
    }
}

/// An email to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailMessage {
    /// What it is about.
    pub topic: NotificationTopic,
    /// Stable across attempts (`{job}.{channel}.{hash of the recipient}`); the courier makes it
    /// the `Message-ID` header.
    pub message_id: String,
    /// The address.
    pub to: String,
    /// The recipient's name, when known.
    pub to_name: Option<String>,
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// The tickets whose PDF goes with it (the courier renders them).
    pub attach: Vec<TicketId>,
}

/// A text message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsMessage {
    /// What it is about.
    pub topic: NotificationTopic,
    /// Stable across attempts, like an email's.
    pub message_id: String,
    /// The number, in international form.
    pub to: String,
    /// The text: at most [`SMS_SEGMENTS`] segments ([`sms_segments`]).
    pub text: String,
}

/// A message for one channel and one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// By email.
    Email(EmailMessage),
    /// By SMS.
    Sms(SmsMessage),
}

impl Message {
    /// Its channel.
    pub fn channel(&self) -> Channel {
        match self {
            Self::Email(_) => Channel::Email,
            Self::Sms(_) => Channel::Sms,
        }
    }

    /// Its recipient: the address or the number.
    pub fn recipient(&self) -> &str {
        match self {
            Self::Email(m) => &m.to,
            Self::Sms(m) => &m.to,
        }
    }

    /// What it is about.
    pub fn topic(&self) -> NotificationTopic {
        match self {
            Self::Email(m) => m.topic,
            Self::Sms(m) => m.topic,
        }
    }

    /// Its id, stable across attempts.
    pub fn message_id(&self) -> &str {
        match self {
            Self::Email(m) => &m.message_id,
            Self::Sms(m) => &m.message_id,
        }
    }
}

/// Why a message was not delivered.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Undelivered {
    /// The channel has no settings here: recorded as skipped, never an error.
    #[error("channel not configured")]
    NotConfigured,
    /// Not now (a 4xx SMTP reply, an HTTP 5xx or 429, no connection): the job tries again later.
    #[error("{0}")]
    Retry(String),
    /// Refused for good (a 5xx SMTP reply, an HTTP 4xx): not tried again.
    #[error("{0}")]
    Final(String),
}

/// The port to the channels: the server's courier speaks SMTP and the SMS providers' APIs.
#[async_trait]
pub trait Courier: Send + Sync {
    /// Sends `message` once.
    async fn send(&self, message: &Message) -> Result<(), Undelivered>;
}

/// What became of one message of a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The channel took it.
    Sent,
    /// Its channel is not configured here.
    Skipped,
    /// The channel asked to try again: the job will.
    Retrying,
    /// The channel refused it for good.
    Failed,
    /// Still refused after the job's last attempt: a person may retry the job.
    Dead,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [DeliveryStatus; 5] = [Self::Sent, Self::Skipped, Self::Retrying, Self::Failed, Self::Dead];

    /// The stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    /// Whether running the job again leaves this message alone.
    pub fn is_settled(&self) -> bool {
        matches!(self, Self::Sent | Self::Skipped | Self::Failed)
    }
}

impl FromStr for DeliveryStatus {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "sent" => Self::Sent,
            "skipped" => Self::Skipped,
            "retrying" => Self::Retrying,
            "failed" => Self::Failed,
            "dead" => Self::Dead,
            other => return Err(UnknownName(other.to_owned())),
        })
    }
}

/// The record of one message of a notification job: one per job, channel and recipient,
/// updated by each attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The notification job.
    pub job_id: JobId,
    /// The event it concerns.
    pub event_id: Option<EventId>,
    /// What it is about.
    pub topic: NotificationTopic,
    /// Its channel.
    pub channel: Channel,
    /// The address or number, in full (masked when shown: [`mask`]).
    pub recipient: String,
    /// The message's id, the same on every attempt.
    pub message_id: String,
    /// What became of it.
    pub status: DeliveryStatus,
    /// Attempts to send it so far.
    pub attempts: u32,
    /// The channel's last refusal.
    pub last_error: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `recipient` as shown in logs and lists: an address keeps its first letter and its domain
/// (`z***@example.org`), a number its first three and last two digits (`+33*******78`).
pub fn mask(recipient: &str) -> String {
    if let Some((local, domain)) = recipient.rsplit_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = recipient.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..3], &chars[chars.len() - 2..]);
    format!("{}{}{}", head.iter().collect::<String>(), "*".repeat(chars.len() - 5), tail.iter().collect::<String>())
}

/// Segments a text message may take: two.
pub const SMS_SEGMENTS: u32 = 2;

/// The GSM 03.38 basic character set (one septet each).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table (two septets each: an escape and the character).
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// The septets `c` takes in GSM-7, or `None` if it needs UCS-2.
fn gsm_septets(c: char) -> Option<u32> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The segments `text` takes: GSM-7 when every character is in its alphabet (160 septets in
/// one segment, 153 each when split), else UCS-2 (70 characters, 67 each when split; a
/// character beyond the basic plane takes two).
pub fn sms_segments(text: &str) -> u32 {
    let septets: Option<u32> = text.chars().map(gsm_septets).sum();
    let (units, single, each) = match septets {
        Some(septets) => (septets, 160, 153),
        None => (text.chars().map(|c| c.len_utf16() as u32).sum(), 70, 67),
    };
    if units <= single { 1 } else { units.div_ceil(each) }
}

/// `text` cut to fit `segments` with `tail` after it (a link, say, which is never cut): the
/// longest prefix of `text`, ending in "...", with which `text + tail` fits.
pub fn fit_sms(text: &str, tail: &str, segments: u32) -> String {
    let whole = format!("{text}{tail}");
    if sms_segments(&whole) <= segments {
        return whole;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 0 {
        keep -= 1;
        let cut: String = chars[..keep].iter().collect();
        let candidate = format!("{}...{tail}", cut.trim_end());
        if sms_segments(&candidate) <= segments {
            return candidate;
        }
    }
    tail.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_enough_to_recognise_and_no_more() {
        assert_eq!(mask("zoe.lefevre@example.org"), "z***@example.org");
        assert_eq!(mask("+33612345678"), "+33*******78");
        assert_eq!(mask("12345"), "*****");
    }

    #[test]
    fn segments_count_gsm_septets_and_fall_back_to_ucs2() {
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"a".repeat(306)), 2);
        assert_eq!(sms_segments(&"a".repeat(307)), 3);
        // The extension table takes two septets: 80 euro signs fill one segment.
        assert_eq!(sms_segments(&"€".repeat(80)), 1);
        assert_eq!(sms_segments(&"€".repeat(81)), 2);
        // One character outside GSM-7 makes the whole text UCS-2.
        assert_eq!(sms_segments(&format!("{}ł", "a".repeat(69))), 1);
        assert_eq!(sms_segments(&format!("{}ł", "a".repeat(70))), 2);
        assert_eq!(sms_segments("Vos billets pour Jazz à Vienne: é è ù à ç"), 1);
    }

    #[test]
    fn a_long_text_is_cut_and_its_link_kept_whole() {
        let link = " https://tickets.example.org/t/AbCdEfGhIjKlMnOpQrStUvWxYz012345";
        let long = "Vos billets pour ".to_owned() + &"Le Grand Festival de l'Été ".repeat(20);
        let fitted = fit_sms(&long, link, SMS_SEGMENTS);
        assert!(fitted.ends_with(link), "{fitted}");
        assert!(fitted.contains("..."), "{fitted}");
        assert!(sms_segments(&fitted) <= SMS_SEGMENTS);
        assert_eq!(fit_sms("Court", link, SMS_SEGMENTS), format!("Court{link}"));
    }
}
