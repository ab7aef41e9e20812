//! Schemas of the fields the server parses by hand (so that a refusal names the field): the
//! values they take, for the OpenAPI document. Each list comes from the core's own names.

use ticketing_core::credential::Duty;
use ticketing_core::event::EventStatus;
use ticketing_core::job::JobStatus;
use ticketing_core::order::{OrderStatus, PaymentMethod};
use ticketing_core::payment::DeliveryOutcome;
use ticketing_core::status::TicketStatus;
use ticketing_core::user::Role;
use utoipa::openapi::schema::Type;
use utoipa::openapi::{Object, ObjectBuilder};

/// A string taking one of `values`.
fn one_of<'a>(values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.into_iter().map(str::to_owned))).build()
}

/// A buyer's (and a message's) language.
pub fn locale() -> Object {
    one_of(ticketing_core::order::Locale::ALL.iter().map(|l| l.as_str()))
}

/// An order status.
pub fn order_status() -> Object {
    one_of(OrderStatus::ALL.iter().map(OrderStatus::as_str))
}

/// How a desk sale is paid.
pub fn desk_method() -> Object {
    one_of([PaymentMethod::Cash, PaymentMethod::Card, PaymentMethod::Other].iter().map(PaymentMethod::as_str))
}

/// How staff say an order was paid.
pub fn staff_method() -> Object {
    let methods = [PaymentMethod::Cash, PaymentMethod::Card, PaymentMethod::Transfer, PaymentMethod::Other];
    one_of(methods.iter().map(PaymentMethod::as_str))
}

/// What a payment delivery did.
pub fn delivery_outcome() -> Object {
    one_of(DeliveryOutcome::ALL.iter().map(DeliveryOutcome::as_str))
}

/// What a notification is about.
pub fn notification_kind() -> Object {
    one_of(ticketing_core::job::NotificationTopic::ALL.iter().map(|t| t.as_str()))
}

/// A notification channel.
pub fn notification_channel() -> Object {
    one_of(ticketing_core::notification::Channel::ALL.iter().map(|c| c.as_str()))
}

/// What became of a notification message.
pub fn notification_status() -> Object {
    one_of(ticketing_core::notification::DeliveryStatus::ALL.iter().map(|s| s.as_str()))
}

/// A staff role.
pub fn role() -> Object {
    one_of(Role::ALL.iter().map(Role::as_str))
}

/// An event duty.
pub fn duty() -> Object {
    one_of([Duty::Organizer, Duty::Cashier].iter().map(Duty::as_str))
}

/// A scan direction.
pub fn direction() -> Object {
    one_of(["in", "out"])
}

/// A ticket status.
pub fn ticket_status() -> Object {
    one_of(TicketStatus::ALL.iter().map(TicketStatus::as_str))
}

/// The statuses a ticket is created in.
pub fn new_ticket_status() -> Object {
    one_of([TicketStatus::Issued, TicketStatus::Reserved, TicketStatus::Paid].iter().map(TicketStatus::as_str))
}

/// An event status.
pub fn event_status() -> Object {
    one_of(EventStatus::ALL.iter().map(EventStatus::as_str))
}

/// A job status.
pub fn job_status() -> Object {
    one_of(JobStatus::ALL.iter().map(JobStatus::as_str))
}

/// An OAuth2 grant this server issues tokens for.
pub fn grant_type() -> Object {
    one_of(["password", "client_credentials", "refresh_token"])
}

/// A QR image format.
pub fn qr_format() -> Object {
    one_of(["png", "svg"])
}

/// A ticket file format.
pub fn ticket_format() -> Object {
    one_of(["pdf", "png"])
}
