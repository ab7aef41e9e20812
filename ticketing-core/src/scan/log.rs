//! The scan log: one line per refused request and per confirmation, accepted or not.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::reason::{Direction, ScanReason};
use crate::ids::{EventId, GateId, ScanLogId, TicketId, UserId};
use crate::secret_token::TokenHash;
use crate::status::TicketStatus;

/// Which step of the two-step scan a log line records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanStage {
    /// A request (only refused requests are logged: an accepted one opens a session instead).
    Request,
    /// A confirmation.
    Confirm,
}

impl ScanStage {
    /// Its name, as stored, exported and served: `request` or `confirm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Confirm => "confirm",
        }
    }

    /// The stage named `name` ([`as_str`](Self::as_str)'s answer).
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Request, Self::Confirm].into_iter().find(|stage| stage.as_str() == name)
    }
}

/// A client-chosen idempotency key for a confirmation: the same nonce from the same agent
/// returns the first result and changes nothing. 1 to 64 printable ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nonce(String);

impl Nonce {
    /// Parses a nonce; `None` if empty, too long or not printable ASCII.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic())).then(|| Self(s.to_owned()))
    }

    /// The nonce.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Nonce {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or("a nonce is 1 to 64 printable ASCII characters")
    }
}

impl From<Nonce> for String {
    fn from(n: Nonce) -> Self {
        n.0
    }
}

/// One line of the scan log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanLog {
    /// The id.
    pub id: ScanLogId,
    /// When.
    pub at: DateTime<Utc>,
    /// The gate's event (the gate is always known).
    pub event_id: EventId,
    /// The gate.
    pub gate_id: GateId,
    /// The agent.
    pub agent_id: UserId,
    /// The ticket, when it could be identified.
    pub ticket_id: Option<TicketId>,
    /// Request or confirm.
    pub stage: ScanStage,
    /// The direction confirmed (confirm lines only).
    pub direction: Option<Direction>,
    /// The outcome.
    pub reason: ScanReason,
    /// The ticket's status after this step, when the ticket is known.
    pub status_after: Option<TicketStatus>,
    /// The ticket's entries after this step, when the ticket is known.
    pub entries_after: Option<u32>,
    /// The client's nonce, if it sent one.
    pub nonce: Option<Nonce>,
    /// The hash of the session token a confirmation presented (confirm lines only), so that a
    /// nonce sent again is a replay only when it comes with the same session.
    pub session: Option<TokenHash>,
}

impl ScanLog {
    /// Whether `self`, the line first written with a nonce, answers a confirmation of `session`
    /// at `gate` in `direction` sent with that nonce again: the same request, retried. A scanner
    /// that reuses a nonce for another ticket, gate or direction gets no replay of the first. A
    /// line without a session (a malformed token, or written before sessions were recorded)
    /// replays nothing.
    pub fn replays(&self, session: Option<&TokenHash>, gate: GateId, direction: Direction) -> bool {
        self.stage == ScanStage::Confirm
            && self.gate_id == gate
            && self.direction == Some(direction)
            && matches!((&self.session, session), (Some(first), Some(now)) if first == now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_reads_back_by_its_name_and_nothing_else_reads() {
        for stage in [ScanStage::Request, ScanStage::Confirm] {
            assert_eq!(ScanStage::parse(stage.as_str()), Some(stage));
            let served = serde_json::to_value(stage).unwrap();
            assert_eq!(served.as_str(), Some(stage.as_str()), "the name served is the name stored");
        }
        assert_eq!(ScanStage::parse("Confirm"), None);
        assert_eq!(ScanStage::parse(""), None);
    }
}
