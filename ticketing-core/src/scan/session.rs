//! Scan sessions: the short-lived, single-use link between a scan request and its confirmation.
//!
//! A request that finds the ticket admissible opens a session bound to the ticket, the gate and
//! the agent, and hands the agent a random token. Confirming spends the session once. The token
//! is 128 random bits; only its SHA-256 hash is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::reason::Direction;
use crate::ids::{EventId, GateId, TicketId, UserId};
use crate::secret_token::{SecretToken, TokenHash};

/// A session token in clear, as handed to the agent's device: 128 bits, 22 characters.
pub type SessionToken = SecretToken<16>;

/// An open scan session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSession {
    /// Hash of the token.
    pub token_hash: TokenHash,
    /// The ticket scanned.
    pub ticket_id: TicketId,
    /// Its event.
    pub event_id: EventId,
    /// The gate it was scanned at; only this gate may confirm.
    pub gate_id: GateId,
    /// The agent who scanned; only this agent may confirm.
    pub agent_id: UserId,
    /// The directions that were allowed at request time (rules are checked again on confirm).
    pub allowed: Vec<Direction>,
    /// The scanned code's own expiry, if its payload carried one: confirm checks it again.
    pub code_expires_at: Option<DateTime<Utc>>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it stops being confirmable.
    pub expires_at: DateTime<Utc>,
    /// When it was spent, if it was.
    pub used_at: Option<DateTime<Utc>>,
}
