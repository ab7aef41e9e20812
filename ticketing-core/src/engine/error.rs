//! The engine's error: one enum whose variants a caller (the HTTP layer, an embedding app) can
//! map to an answer without looking inside strings.

use thiserror::Error;

use crate::event::EventError;
use crate::field::FieldError;
use crate::gate::GateError;
use crate::magic_link::MagicLinkError;
use crate::quota::QuotaError;
use crate::signing::KeyError;
use crate::status::TransitionError;
use crate::store::StoreError;
use crate::ticket::TicketError;
use crate::ticket_type::TicketTypeError;

/// Why an engine operation failed. Nothing was written when it returns one of these.
#[derive(Debug, Error)]
pub enum Error {
    /// The referenced entity does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Invalid event input.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Invalid ticket type input.
    #[error(transparent)]
    TicketType(#[from] TicketTypeError),
    /// Invalid gate input.
    #[error(transparent)]
    Gate(#[from] GateError),
    /// Invalid ticket input.
    #[error(transparent)]
    Ticket(#[from] TicketError),
    /// An invalid field.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// An invalid holder in a list.
    #[error(transparent)]
    Holders(#[from] crate::ticket::HolderListError),
    /// The ticket's status does not allow the change.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A quota or capacity would be broken.
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// The request is malformed in a way no field error covers.
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// A password that cannot be used.
    #[error(transparent)]
    Password(#[from] crate::user::PasswordError),
    /// A uniqueness rule would be broken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The actor may not do this (an agent scanning at a gate they are not assigned to).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The event does not allow the operation in its current status.
    #[error("the event is {0}")]
    EventClosed(crate::event::EventStatus),
    /// No key to sign with.
    #[error(transparent)]
    Signing(#[from] KeyError),
    /// This engine's keys are not the ones the deployment's other instances use.
    #[error(transparent)]
    Keys(#[from] crate::fleet::KeyMismatch),
    /// A magic link was refused.
    #[error(transparent)]
    MagicLink(#[from] MagicLinkError),
    /// An order that cannot be made.
    #[error(transparent)]
    Order(#[from] crate::order::OrderError),
    /// An order's status does not allow the change.
    #[error(transparent)]
    OrderTransition(#[from] crate::order::OrderTransitionError),
    /// A message template could not be written.
    #[error(transparent)]
    Template(#[from] crate::notification::templates::TemplateError),
    /// A webhook endpoint that cannot be registered.
    #[error(transparent)]
    Hook(#[from] crate::hook::HookError),
    /// An event's own message template was refused when saved (or previewed).
    #[error(transparent)]
    TemplateProblem(#[from] crate::notification::templates::TemplateProblem),
    /// Too many concurrent changes to the same row; try again.
    #[error("too much contention on one ticket; try again")]
    Contention,
    /// Storage failed or is unreachable.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Quota(q) => Self::Quota(q),
            other => Self::Store(other),
        }
    }
}
