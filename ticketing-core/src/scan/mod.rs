//! The two-step gate scan.
//!
//! 1. **Request** ([`Ticketing::scan_request`](crate::engine::Ticketing::scan_request)): the agent
//!    presents a QR code or a typed short code at a gate. The signature is verified, the ticket
//!    looked up and the [rules] applied; the answer is a stable [`ScanReason`], the directions
//!    allowed and, when the ticket may pass, a [session](ScanSession) bound to ticket, gate and
//!    agent with a short TTL. Nothing about the ticket changes.
//! 2. **Confirm** ([`Ticketing::scan_confirm`](crate::engine::Ticketing::scan_confirm)): the agent
//!    confirms in or out with the session token. The session is spent once, the rules are checked
//!    again against the ticket as it is now, and the entry or exit is applied with a
//!    compare-and-set, all in one atomic store step. A client nonce makes retries safe.
//!
//! Refused requests and all confirmations are written to the [scan log](ScanLog); a
//! [`SuspicionWatch`] spots forged codes and copied tickets among the requests.

mod log;
mod reason;
pub mod rules;
mod service;
mod session;
mod suspicion;

pub use log::{Nonce, ScanLog, ScanStage};
pub use reason::{Direction, ScanReason};
pub use rules::ScanContext;
pub use service::{
    ConfirmOutcome, ConfirmRequest, Credential, OpenedSession, RequestOutcome, ScanAgent, ScanRequest, TicketSummary,
};
pub use session::{ScanSession, SessionToken};
pub use suspicion::{Suspicion, SuspicionRules, SuspicionWatch};
