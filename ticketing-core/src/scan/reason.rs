//! Scan directions and the stable reason codes of a verdict.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::status::TransitionError;

/// Which way a ticket goes through a gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Entering.
    In,
    /// Leaving.
    Out,
}

impl Direction {
    /// `in` or `out`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// The outcome of a scan step, as a stable code for clients, logs and dashboards.
        ///
        /// Codes never change meaning once published; new ones may be added.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ScanReason {
            $($(#[$doc])* $variant,)*
        }

        impl ScanReason {
            /// Every reason.
            pub const ALL: &'static [ScanReason] = &[$(Self::$variant,)*];

            /// The stable snake_case code.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// The reason with this code.
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

reasons! {
    /// Accepted.
    Ok = "ok",
    /// The QR code was not signed by a key we trust, or was altered.
    BadSignature = "bad_signature",
    /// A typed short code with a typo (its check symbol does not match).
    InvalidCode = "invalid_code",
    /// No ticket with this reference.
    UnknownTicket = "unknown_ticket",
    /// The ticket is for another event than the gate's.
    WrongEvent = "wrong_event",
    /// The event is not published yet.
    EventNotPublished = "event_not_published",
    /// The event was cancelled.
    EventCancelled = "event_cancelled",
    /// The ticket is issued or reserved, not paid.
    NotPaid = "not_paid",
    /// The ticket was refunded.
    Refunded = "refunded",
    /// The ticket was invalidated by the organiser.
    Revoked = "revoked",
    /// The ticket is already inside.
    AlreadyInside = "already_inside",
    /// An exit for a ticket that is not inside.
    NotInside = "not_inside",
    /// The ticket went out and the event does not allow coming back in.
    ReentryNotAllowed = "reentry_not_allowed",
    /// The ticket has used all its entries.
    UsageLimitReached = "usage_limit_reached",
    /// The ticket has used all its entries for today (in the event's time zone).
    DailyLimitReached = "daily_limit_reached",
    /// Before the ticket type's validity window.
    TooEarly = "too_early",
    /// After the ticket type's validity window, the event's end, or the code's own expiry.
    Expired = "expired",
    /// This gate does not admit this ticket type.
    WrongGate = "wrong_gate",
    /// The scan session's time ran out before confirmation.
    SessionExpired = "session_expired",
    /// The scan session was already confirmed once.
    SessionUsed = "session_used",
    /// The scan session token is unknown.
    InvalidSession = "invalid_session",
    /// The scan session belongs to another agent or gate.
    SessionMismatch = "session_mismatch",
    /// The confirmation's nonce was already used by this agent for another confirmation (another
    /// session, gate or direction): nothing was applied; send a fresh nonce.
    NonceReused = "nonce_reused",
}

impl ScanReason {
    /// Whether this is the accepting reason.
    pub fn is_ok(&self) -> bool {
        *self == Self::Ok
    }
}

impl fmt::Display for ScanReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

impl From<TransitionError> for ScanReason {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::NotPaid | TransitionError::NotReserved | TransitionError::AlreadyReserved => Self::NotPaid,
            TransitionError::AlreadyInside => Self::AlreadyInside,
            TransitionError::NotInside | TransitionError::AlreadyPaid | TransitionError::StillInside => Self::NotInside,
            TransitionError::Revoked => Self::Revoked,
            TransitionError::Refunded => Self::Refunded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for r in ScanReason::ALL {
            assert!(seen.insert(r.code()), "{} twice", r.code());
            assert!(r.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert_eq!(ScanReason::from_code(r.code()), Some(*r));
            assert_eq!(serde_json_like(*r), r.code());
        }
        assert_eq!(ScanReason::from_code("OK"), None);
    }

    /// Serde's snake_case renaming agrees with `code()`: checked through the Debug name.
    fn serde_json_like(r: ScanReason) -> String {
        let debug = format!("{r:?}");
        let mut out = String::new();
        for (i, c) in debug.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn the_issue_s_required_reasons_exist() {
        for code in [
            "ok",
            "bad_signature",
            "unknown_ticket",
            "wrong_event",
            "not_paid",
            "refunded",
            "revoked",
            "already_inside",
            "not_inside",
            "reentry_not_allowed",
            "usage_limit_reached",
            "too_early",
            "expired",
            "wrong_gate",
            "session_expired",
            "session_used",
        ] {
            assert!(ScanReason::from_code(code).is_some(), "{code}");
        }
    }
}
