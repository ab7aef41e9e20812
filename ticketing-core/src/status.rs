//! The ticket status machine. Every status change of a ticket goes through [`next`].
//!
//! | from \ action | reserve | release | pay | enter | exit | invalidate | refund |
//! |---|---|---|---|---|---|---|---|
//! | **issued** | reserved | ✗ not_reserved | paid | ✗ not_paid | ✗ not_inside | invalid | ✗ not_paid |
//! | **reserved** | ✗ already_reserved | issued | paid | ✗ not_paid | ✗ not_inside | invalid | ✗ not_paid |
//! | **paid** | ✗ already_paid | ✗ already_paid | ✗ already_paid | inside | ✗ not_inside | invalid | refunded |
//! | **inside** | ✗ already_paid | ✗ already_paid | ✗ already_paid | ✗ already_inside | outside | invalid | ✗ still_inside |
//! | **outside** | ✗ already_paid | ✗ already_paid | ✗ already_paid | inside | ✗ not_inside | invalid | refunded |
//! | **invalid** | ✗ revoked | ✗ revoked | ✗ revoked | ✗ revoked | ✗ revoked | ✗ revoked | ✗ revoked |
//! | **refunded** | ✗ refunded | ✗ refunded | ✗ refunded | ✗ refunded | ✗ refunded | ✗ refunded | ✗ refunded |
//!
//! Choices behind the table:
//! - A ticket is created `issued`, `reserved` or `paid` (free and cashier-sold tickets start paid);
//!   creation is not a change and does not go through the table.
//! - Only paid tickets enter: `issued` and `reserved` are refused with `not_paid`.
//! - Whether an `outside` ticket may enter *again* (re-entry, usage and daily limits) is a rule of
//!   the scan ([`crate::scan::rules`]), not of the status: the table only says it is possible.
//! - A ticket inside cannot be refunded until it leaves (`still_inside`), so occupancy stays
//!   truthful; it can be invalidated at any moment (a security action).
//! - `invalid` and `refunded` are final. Both release their place in the quota and the capacity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The status of a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Generated, not sold yet.
    Issued,
    /// Held for a buyer while payment completes.
    Reserved,
    /// Sold; may enter.
    Paid,
    /// Entered and not yet out.
    Inside,
    /// Entered at least once, now out.
    Outside,
    /// Revoked by the organiser. Final.
    Invalid,
    /// Money returned. Final.
    Refunded,
}

impl TicketStatus {
    /// Every status, in table order.
    pub const ALL: [TicketStatus; 7] =
        [Self::Issued, Self::Reserved, Self::Paid, Self::Inside, Self::Outside, Self::Invalid, Self::Refunded];

    /// The stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Reserved => "reserved",
            Self::Paid => "paid",
            Self::Inside => "inside",
            Self::Outside => "outside",
            Self::Invalid => "invalid",
            Self::Refunded => "refunded",
        }
    }

    /// Whether the ticket holds a place in its type's quota and the event's capacity.
    pub fn is_live(&self) -> bool {
        !matches!(self, Self::Invalid | Self::Refunded)
    }

    /// Whether the holder may use the ticket at the gate (issued, paid, inside, outside): not
    /// waiting for a payment (`reserved`), not void.
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Issued | Self::Paid | Self::Inside | Self::Outside)
    }

    /// Whether a ticket may be created in this status.
    pub fn is_initial(&self) -> bool {
        matches!(self, Self::Issued | Self::Reserved | Self::Paid)
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not a ticket status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{0}` is not a ticket status")]
pub struct UnknownStatus(pub String);

impl FromStr for TicketStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|status| status.as_str() == s).ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// Something that happens to a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketAction {
    /// Hold for a buyer.
    Reserve,
    /// Give a held ticket back.
    Release,
    /// Payment received (or marked by a cashier).
    Pay,
    /// Admitted through a gate.
    Enter,
    /// Left through a gate.
    Exit,
    /// Revoked by the organiser.
    Invalidate,
    /// Money returned.
    Refund,
}

impl TicketAction {
    /// Every action, in table order.
    pub const ALL: [TicketAction; 7] =
        [Self::Reserve, Self::Release, Self::Pay, Self::Enter, Self::Exit, Self::Invalidate, Self::Refund];
}

/// Why a status change was refused. The names match the scan reason codes where one applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum TransitionError {
    /// The ticket is not paid.
    #[error("the ticket is not paid")]
    NotPaid,
    /// The ticket is already paid (or used).
    #[error("the ticket is already paid")]
    AlreadyPaid,
    /// Only a reserved ticket can be released.
    #[error("the ticket is not reserved")]
    NotReserved,
    /// The ticket is already reserved.
    #[error("the ticket is already reserved")]
    AlreadyReserved,
    /// The ticket is inside.
    #[error("the ticket is already inside")]
    AlreadyInside,
    /// The ticket is not inside.
    #[error("the ticket is not inside")]
    NotInside,
    /// A ticket inside cannot be refunded.
    #[error("the ticket is inside; it must exit before a refund")]
    StillInside,
    /// The ticket was invalidated.
    #[error("the ticket was revoked")]
    Revoked,
    /// The ticket was refunded.
    #[error("the ticket was refunded")]
    Refunded,
}

/// The status after `action`, or why `action` is not possible from `from`.
pub fn next(from: TicketStatus, action: TicketAction) -> Result<TicketStatus, TransitionError> {
    use TicketAction as A;
    use TicketStatus as S;
    use TransitionError as E;
    match (from, action) {
        (S::Invalid, _) => Err(E::Revoked),
        (S::Refunded, _) => Err(E::Refunded),
        (_, A::Invalidate) => Ok(S::Invalid),

        (S::Issued, A::Reserve) => Ok(S::Reserved),
        (S::Reserved, A::Reserve) => Err(E::AlreadyReserved),
        (S::Reserved, A::Release) => Ok(S::Issued),
        (S::Issued, A::Release) => Err(E::NotReserved),
        (S::Issued | S::Reserved, A::Pay) => Ok(S::Paid),
        (S::Issued | S::Reserved, A::Enter | A::Refund) => Err(E::NotPaid),
        (S::Paid | S::Inside | S::Outside, A::Reserve | A::Release | A::Pay) => Err(E::AlreadyPaid),

        (S::Paid | S::Outside, A::Enter) => Ok(S::Inside),
        (S::Inside, A::Enter) => Err(E::AlreadyInside),
        (S::Inside, A::Exit) => Ok(S::Outside),
        (S::Issued | S::Reserved | S::Paid | S::Outside, A::Exit) => Err(E::NotInside),
        (S::Paid | S::Outside, A::Refund) => Ok(S::Refunded),
        (S::Inside, A::Refund) => Err(E::StillInside),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketAction as A;
    use TicketStatus as S;
    use TransitionError as E;

    /// The table from the module docs, written out cell by cell.
    fn expected(from: S, action: A) -> Result<S, E> {
        let row: [Result<S, E>; 7] = match from {
            S::Issued => [
                Ok(S::Reserved),
                Err(E::NotReserved),
                Ok(S::Paid),
                Err(E::NotPaid),
                Err(E::NotInside),
                Ok(S::Invalid),
                Err(E::NotPaid),
            ],
            S::Reserved => [
                Err(E::AlreadyReserved),
                Ok(S::Issued),
                Ok(S::Paid),
                Err(E::NotPaid),
                Err(E::NotInside),
                Ok(S::Invalid),
                Err(E::NotPaid),
            ],
            S::Paid => [
                Err(E::AlreadyPaid),
                Err(E::AlreadyPaid),
                Err(E::AlreadyPaid),
                Ok(S::Inside),
                Err(E::NotInside),
                Ok(S::Invalid),
                Ok(S::Refunded),
            ],
            S::Inside => [
                Err(E::AlreadyPaid),
                Err(E::AlreadyPaid),
                Err(E::AlreadyPaid),
                Err(E::AlreadyInside),
                Ok(S::Outside),
                Ok(S::Invalid),
                Err(E::StillInside),
            ],
            S::Outside => [
                Err(E::AlreadyPaid),
                Err(E::AlreadyPaid),
                Err(E::AlreadyPaid),
                Ok(S::Inside),
                Err(E::NotInside),
                Ok(S::Invalid),
                Ok(S::Refunded),
            ],
            S::Invalid => [Err(E::Revoked); 7],
            S::Refunded => [Err(E::Refunded); 7],
        };
        let column = A::ALL.iter().position(|a| *a == action).unwrap();
        row[column]
    }

    #[test]
    fn every_cell_of_the_table_holds() {
        let mut cells = 0;
        for from in S::ALL {
            for action in A::ALL {
                assert_eq!(next(from, action), expected(from, action), "{from} + {action:?}");
                cells += 1;
            }
        }
        assert_eq!(cells, 49);
    }

    #[test]
    fn final_statuses_release_their_place() {
        let live: Vec<_> = S::ALL.into_iter().filter(S::is_live).collect();
        assert_eq!(live, [S::Issued, S::Reserved, S::Paid, S::Inside, S::Outside]);
        let initial: Vec<_> = S::ALL.into_iter().filter(S::is_initial).collect();
        assert_eq!(initial, [S::Issued, S::Reserved, S::Paid]);
        let usable: Vec<_> = S::ALL.into_iter().filter(S::is_usable).collect();
        assert_eq!(usable, [S::Issued, S::Paid, S::Inside, S::Outside]);
    }

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>(), Ok(s));
        }
        assert_eq!("used".parse::<S>(), Err(UnknownStatus("used".into())));
    }
}
