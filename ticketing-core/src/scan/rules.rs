//! The gate rules: a pure decision over the event, the ticket type, the ticket and the gate.
//!
//! Checks run in a fixed order, and the first that fails gives the reason:
//!
//! 1. `wrong_event`: the gate belongs to another event.
//! 2. `event_not_published`, `event_cancelled`: the event does not admit; an ended event gives
//!    `expired` for entries.
//! 3. `revoked`, `refunded`, `not_paid`: the ticket's status forbids any passage.
//! 4. Entries only: `wrong_gate` (the gate or the type restricts), `too_early` / `expired` (the
//!    type's validity window, else the event's end, and the code's own expiry).
//! 5. Entries: `already_inside`, `reentry_not_allowed` (out, and the event forbids re-entry),
//!    `usage_limit_reached`, `daily_limit_reached`. Exits: `not_inside`.
//!
//! Exits are not held to gate, time or usage rules: someone inside can always leave.

use chrono::{DateTime, Utc};

use super::reason::{Direction, ScanReason};
use crate::event::{Event, EventStatus};
use crate::gate::Gate;
use crate::status::{self, TicketAction, TicketStatus};
use crate::ticket::Ticket;
use crate::ticket_type::TicketType;

/// Everything a scan decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct ScanContext<'a> {
    /// The ticket's event.
    pub event: &'a Event,
    /// The ticket's type.
    pub ticket_type: &'a TicketType,
    /// The ticket as it is now.
    pub ticket: &'a Ticket,
    /// The gate scanning it.
    pub gate: &'a Gate,
    /// The code's own expiry, when the QR payload carried one.
    pub code_expires_at: Option<DateTime<Utc>>,
    /// The time of the scan.
    pub now: DateTime<Utc>,
}

/// Whether the ticket may pass in `direction`; [`ScanReason::Ok`] if so.
pub fn evaluate(ctx: &ScanContext<'_>, direction: Direction) -> ScanReason {
    match check(ctx, direction) {
        Ok(()) => ScanReason::Ok,
        Err(reason) => reason,
    }
}

/// The directions the ticket may take now, or the reason it may take none. When both are
/// refused, the reason is the one of the natural direction: out for a ticket inside, in otherwise.
pub fn allowed_directions(ctx: &ScanContext<'_>) -> Result<Vec<Direction>, ScanReason> {
    let allowed: Vec<Direction> =
        [Direction::In, Direction::Out].into_iter().filter(|d| check(ctx, *d).is_ok()).collect();
    if !allowed.is_empty() {
        return Ok(allowed);
    }
    let natural = if ctx.ticket.status() == TicketStatus::Inside { Direction::Out } else { Direction::In };
    Err(evaluate(ctx, natural))
}

fn check(ctx: &ScanContext<'_>, direction: Direction) -> Result<(), ScanReason> {
    let ScanContext { event, ticket_type, ticket, gate, .. } = *ctx;
    if gate.event_id() != ticket.event_id() || ticket_type.id() != ticket.ticket_type_id() {
        return Err(ScanReason::WrongEvent);
    }
    match event.status() {
        EventStatus::Draft => return Err(ScanReason::EventNotPublished),
        EventStatus::Cancelled => return Err(ScanReason::EventCancelled),
        EventStatus::Ended if direction == Direction::In => return Err(ScanReason::Expired),
        EventStatus::Published | EventStatus::Ended => {}
    }
    match ticket.status() {
        TicketStatus::Invalid => return Err(ScanReason::Revoked),
        TicketStatus::Refunded => return Err(ScanReason::Refunded),
        TicketStatus::Issued | TicketStatus::Reserved => return Err(ScanReason::NotPaid),
        TicketStatus::Paid | TicketStatus::Inside | TicketStatus::Outside => {}
    }
    match direction {
        Direction::In => check_entry(ctx)?,
        Direction::Out => {}
    }
    let action = match direction {
        Direction::In => TicketAction::Enter,
        Direction::Out => TicketAction::Exit,
    };
    status::next(ticket.status(), action).map(drop).map_err(ScanReason::from)
}

fn check_entry(ctx: &ScanContext<'_>) -> Result<(), ScanReason> {
    let ScanContext { event, ticket_type, ticket, gate, code_expires_at, now } = *ctx;
    if !gate.admits(ticket_type.id()) || !ticket_type.may_enter_by(gate.id()) {
        return Err(ScanReason::WrongGate);
    }
    // The type's window, else the event's doors: a ticket for next month does not enter today.
    if now < ticket_type.validity_from().unwrap_or(event.doors_open_at()) {
        return Err(ScanReason::TooEarly);
    }
    let until = ticket_type.validity_to().unwrap_or(event.ends_at());
    if now > until || code_expires_at.is_some_and(|at| now > at) {
        return Err(ScanReason::Expired);
    }
    match ticket.status() {
        TicketStatus::Inside => return Err(ScanReason::AlreadyInside),
        TicketStatus::Outside if !event.allow_reentry() => return Err(ScanReason::ReentryNotAllowed),
        _ => {}
    }
    if ticket.entries_used() >= ticket_type.usage_limit() {
        return Err(ScanReason::UsageLimitReached);
    }
    let today = event.time_zone().local_date(now);
    if ticket_type.daily_entry_limit().is_some_and(|limit| ticket.entries_on(today) >= limit) {
        return Err(ScanReason::DailyLimitReached);
    }
    Ok(())
}
