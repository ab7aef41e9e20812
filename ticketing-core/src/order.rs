//! Orders: what a buyer asks to buy, held for them for a while, then paid, expired or cancelled.
//! This is the domain of selling (issue 15): values valid by construction and the order status
//! machine. The store ports that place an order with its reserved tickets in one step, and the
//! routes, build on it.
//!
//! **Status** (`next` is the one function every change goes through):
//!
//! | from \ action | pay | pay late (places taken again) | pay late (places gone) | expire | cancel |
//! |---|---|---|---|---|---|
//! | pending | paid | — | — | expired | cancelled |
//! | expired | — | paid | paid, unfulfilled | (no change) | (no change) |
//! | cancelled | — | paid | paid, unfulfilled | (no change) | (no change) |
//! | paid | (no change) | (no change) | (no change) | (no change) | refused |
//! | paid, unfulfilled | (no change) | (no change) | (no change) | (no change) | refused |
//!
//! A payment is never lost: one that arrives after the hold expired (or after a cancel) pays the
//! order if its places can be taken again, else leaves it *paid, unfulfilled*, to be refunded.
//! "No change" answers are what make a webhook delivered twice, or out of order (an expiry after
//! the success), change nothing twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::field::{self, Email, FieldError, Phone};
use crate::ids::{EventId, OrderId, TicketTypeId, UserId};
use crate::money::{Currency, Money};
use crate::secret_token::TokenHash;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed; its tickets are reserved until the hold expires.
    Pending,
    /// Paid; its tickets are paid.
    Paid,
    /// The hold expired unpaid; its tickets were invalidated and their places freed.
    Expired,
    /// Cancelled unpaid.
    Cancelled,
    /// Paid after its places were gone: to be refunded.
    PaidUnfulfilled,
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 5] =
        [Self::Pending, Self::Paid, Self::Expired, Self::Cancelled, Self::PaidUnfulfilled];

    /// The stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::PaidUnfulfilled => "paid_unfulfilled",
        }
    }
}

/// What happens to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderAction {
    /// A payment for a pending order.
    Pay,
    /// A payment for an order no longer pending; `retaken` says whether its places could be
    /// taken again (storage decides, in the step that applies it).
    PayLate {
        /// The places were free and are the order's again.
        retaken: bool,
    },
    /// The hold's time ran out.
    Expire,
    /// The buyer or staff cancelled it.
    Cancel,
}

/// The result of an action: the status after, or that it changes nothing (a repeat, or news
/// that came late), or that it is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The order moves to this status.
    To(OrderStatus),
    /// Nothing changes (already applied, or superseded).
    Unchanged,
}

/// An action the order's status does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("an order {from} cannot be {action}")]
pub struct OrderTransitionError {
    /// The status.
    pub from: &'static str,
    /// What was asked.
    pub action: &'static str,
}

/// The order status machine: what `action` does to an order in `from`.
pub fn next(from: OrderStatus, action: OrderAction) -> Result<Transition, OrderTransitionError> {
    use OrderAction::{Cancel, Expire, Pay, PayLate};
    use OrderStatus::{Cancelled, Expired, Paid, PaidUnfulfilled, Pending};
    let refused = |action| Err(OrderTransitionError { from: from.as_str(), action });
    Ok(match (from, action) {
        (Pending, Pay) => Transition::To(Paid),
        (Pending, Expire) => Transition::To(Expired),
        (Pending, Cancel) => Transition::To(Cancelled),
        (Pending, PayLate { .. }) => return refused("paid late while pending"),
        (Expired | Cancelled, Pay) => return refused("paid as if pending"),
        (Expired | Cancelled, PayLate { retaken: true }) => Transition::To(Paid),
        (Expired | Cancelled, PayLate { retaken: false }) => Transition::To(PaidUnfulfilled),
        (Expired | Cancelled, Expire | Cancel) => Transition::Unchanged,
        (Paid | PaidUnfulfilled, Pay | PayLate { .. } | Expire) => Transition::Unchanged,
        (Paid | PaidUnfulfilled, Cancel) => return refused("cancelled once paid (refund it)"),
    })
}

/// Where an order was sold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleChannel {
    /// Placed by the buyer and paid through the payment link.
    #[default]
    Online,
    /// Sold by a cashier at the desk.
    BoxOffice,
}

impl SaleChannel {
    /// Every channel.
    pub const ALL: [SaleChannel; 2] = [Self::Online, Self::BoxOffice];

    /// The stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::BoxOffice => "box_office",
        }
    }
}

/// How an order was paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Through a payment provider's webhook.
    Provider,
    /// Cash at the desk.
    Cash,
    /// A card at the desk.
    Card,
    /// A bank transfer, validated by staff.
    Transfer,
    /// Anything else, validated by staff.
    Other,
}

impl PaymentMethod {
    /// Every method.
    pub const ALL: [PaymentMethod; 5] = [Self::Provider, Self::Cash, Self::Card, Self::Transfer, Self::Other];

    /// The stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Cash => "cash",
            Self::Card => "card",
            Self::Transfer => "transfer",
            Self::Other => "other",
        }
    }
}

/// A payment received for an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// How.
    pub method: PaymentMethod,
    /// The provider (`stripe`, `generic`) for [`PaymentMethod::Provider`].
    pub provider: Option<String>,
    /// The provider's reference (a payment intent, a transfer's reference).
    pub reference: Option<String>,
    /// The staff member who took or validated it.
    pub staff: Option<UserId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The buyer's language for messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    /// English.
    #[default]
    En,
    /// French.
    Fr,
}

impl Locale {
    /// Every language.
    pub const ALL: [Locale; 2] = [Self::En, Self::Fr];

    /// The stable name: `en` or `fr`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }
}

impl std::str::FromStr for Locale {
    type Err = crate::notification::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| crate::notification::UnknownName(s.to_owned()))
    }
}

/// Raw buyer details, validated by [`Buyer::new`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerSpec {
    /// Full name, up to 200 characters.
    pub name: String,
    /// Where the tickets are sent.
    pub email: String,
    /// Optional, international format.
    #[serde(default)]
    pub phone: Option<String>,
    /// `en` (default) or `fr`.
    #[serde(default)]
    pub locale: Locale,
}

/// A buyer, valid by construction (serialized as its [`BuyerSpec`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buyer {
    name: String,
    email: Email,
    phone: Option<Phone>,
    locale: Locale,
}

impl Buyer {
    /// Validates buyer details; a refusal names `buyer.name`, `buyer.email` or `buyer.phone`.
    pub fn new(spec: &BuyerSpec) -> Result<Self, FieldError> {
        let named = |mut e: FieldError, field| {
            e.field = field;
            e
        };
        Ok(Self {
            name: field::single_line("buyer.name", &spec.name, 200)?,
            email: Email::parse(&spec.email).map_err(|e| named(e, "buyer.email"))?,
            phone: match spec.phone.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(p) => Some(Phone::parse(p).map_err(|e| named(e, "buyer.phone"))?),
            },
            locale: spec.locale,
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The email.
    pub fn email(&self) -> &Email {
        &self.email
    }
    /// The phone, if given.
    pub fn phone(&self) -> Option<&Phone> {
        self.phone.as_ref()
    }
    /// The language.
    pub fn locale(&self) -> Locale {
        self.locale
    }
}

/// One line of an order: so many tickets of a type, at the type's price when ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The type.
    pub ticket_type_id: TicketTypeId,
    /// How many (at least one).
    pub quantity: u32,
    /// The price of one, captured when the order is placed.
    pub unit_price: Money,
}

/// Why an order could not be made.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OrderError {
    /// A buyer field is invalid.
    #[error(transparent)]
    Buyer(#[from] FieldError),
    /// No line.
    #[error("an order has at least one line")]
    NoLines,
    /// A line of no ticket.
    #[error("lines[{0}]: the quantity is at least 1")]
    ZeroQuantity(usize),
    /// Two lines of one type.
    #[error("lines[{0}]: this ticket type is already on the order")]
    RepeatedType(usize),
    /// More tickets than the event allows in one order.
    #[error("at most {max} tickets in one order ({asked} asked)")]
    TooMany {
        /// The event's per-order maximum.
        max: u32,
        /// Tickets asked for.
        asked: u64,
    },
    /// Lines priced in different currencies.
    #[error("lines[{0}]: every line of an order is in one currency")]
    MixedCurrencies(usize),
    /// A line's ticket type is not one of the event's.
    #[error("lines[{0}].ticket_type_id: no such ticket type at this event")]
    UnknownType(usize),
    /// A total beyond what an amount holds.
    #[error("the order's total is too large")]
    Overflow,
}

/// A new order, before it is validated.
#[derive(Clone, Debug)]
pub struct NewOrder {
    /// Its id.
    pub id: OrderId,
    /// The event.
    pub event_id: EventId,
    /// Who buys (an online order names its buyer; a desk sale may not).
    pub buyer: Option<BuyerSpec>,
    /// What.
    pub lines: Vec<OrderLine>,
    /// The hash of the buyer's secret order token (the token is shown once).
    pub token_hash: TokenHash,
    /// When it is placed.
    pub created_at: DateTime<Utc>,
    /// Until when its tickets are held for payment.
    pub hold_expires_at: DateTime<Utc>,
    /// Where it is sold.
    pub channel: SaleChannel,
}

/// An order, valid by construction: at least one line, one currency, a total that adds up,
/// within the event's per-order maximum. Stored as JSON, read back through the same checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OrderRecord")]
pub struct Order {
    id: OrderId,
    event_id: EventId,
    buyer: Option<Buyer>,
    lines: Vec<OrderLine>,
    total: Money,
    token_hash: TokenHash,
    status: OrderStatus,
    created_at: DateTime<Utc>,
    hold_expires_at: DateTime<Utc>,
    channel: SaleChannel,
    payment: Option<Payment>,
    receipt: Option<u64>,
    refunded_minor: i64,
}

/// An order as stored, checked again by [`Order`]'s `TryFrom` when read back.
#[derive(Deserialize)]
struct OrderRecord {
    id: OrderId,
    event_id: EventId,
    buyer: Option<BuyerSpec>,
    lines: Vec<OrderLine>,
    total: Money,
    token_hash: TokenHash,
    status: OrderStatus,
    created_at: DateTime<Utc>,
    hold_expires_at: DateTime<Utc>,
    #[serde(default)]
    channel: SaleChannel,
    #[serde(default)]
    payment: Option<Payment>,
    #[serde(default)]
    receipt: Option<u64>,
    #[serde(default)]
    refunded_minor: i64,
}

impl TryFrom<OrderRecord> for Order {
    type Error = OrderError;

    fn try_from(r: OrderRecord) -> Result<Self, OrderError> {
        let new = NewOrder {
            id: r.id,
            event_id: r.event_id,
            buyer: r.buyer,
            lines: r.lines,
            token_hash: r.token_hash,
            created_at: r.created_at,
            hold_expires_at: r.hold_expires_at,
            channel: r.channel,
        };
        let order = Order::new(new, u32::MAX)?;
        if order.total != r.total || !(0..=order.total.minor()).contains(&r.refunded_minor) {
            return Err(OrderError::Overflow);
        }
        Ok(Self { status: r.status, payment: r.payment, receipt: r.receipt, refunded_minor: r.refunded_minor, ..order })
    }
}

impl Serialize for Buyer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        BuyerSpec {
            name: self.name.clone(),
            email: self.email.as_str().to_owned(),
            phone: self.phone.as_ref().map(|p| p.as_str().to_owned()),
            locale: self.locale,
        }
        .serialize(serializer)
    }
}

impl Order {
    /// Validates a new, pending order; `max_tickets` is the event's per-order maximum.
    pub fn new(new: NewOrder, max_tickets: u32) -> Result<Self, OrderError> {
        let buyer = new.buyer.as_ref().map(Buyer::new).transpose()?;
        let first = new.lines.first().ok_or(OrderError::NoLines)?;
        let currency: Currency = first.unit_price.currency();
        let (mut tickets, mut total) = (0u64, 0i64);
        for (i, line) in new.lines.iter().enumerate() {
            if line.quantity == 0 {
                return Err(OrderError::ZeroQuantity(i));
            }
            if new.lines[..i].iter().any(|l| l.ticket_type_id == line.ticket_type_id) {
                return Err(OrderError::RepeatedType(i));
            }
            if line.unit_price.currency() != currency {
                return Err(OrderError::MixedCurrencies(i));
            }
            tickets += u64::from(line.quantity);
            total = line
                .unit_price
                .minor()
                .checked_mul(i64::from(line.quantity))
                .and_then(|amount| total.checked_add(amount))
                .ok_or(OrderError::Overflow)?;
        }
        if tickets > u64::from(max_tickets) {
            return Err(OrderError::TooMany { max: max_tickets, asked: tickets });
        }
        Ok(Self {
            id: new.id,
            event_id: new.event_id,
            buyer,
            total: Money::new(total, currency).map_err(|_| OrderError::Overflow)?,
            lines: new.lines,
            token_hash: new.token_hash,
            status: OrderStatus::Pending,
            created_at: new.created_at,
            hold_expires_at: new.hold_expires_at,
            channel: new.channel,
            payment: None,
            receipt: None,
            refunded_minor: 0,
        })
    }

    /// The order with `amount` more refunded; `None` past what was paid.
    pub fn with_refund(&self, amount: Money) -> Option<Self> {
        let refunded = self.refunded_minor.checked_add(amount.minor())?;
        (amount.currency() == self.total.currency() && refunded <= self.total.minor())
            .then(|| Self { refunded_minor: refunded, ..self.clone() })
    }

    /// The order paid by `payment` (status as [`Self::apply`] with `action`); a payment already
    /// recorded is kept (a repeat changes nothing).
    pub fn pay(&self, action: OrderAction, payment: Payment) -> Result<Self, OrderTransitionError> {
        let mut order = self.apply(action)?;
        if order.payment.is_none() && matches!(order.status, OrderStatus::Paid | OrderStatus::PaidUnfulfilled) {
            order.payment = Some(payment);
        }
        Ok(order)
    }

    /// The order with its box-office receipt number.
    pub fn with_receipt(mut self, receipt: u64) -> Self {
        self.receipt = Some(receipt);
        self
    }

    /// The order after `action`, or itself when the action changes nothing.
    pub fn apply(&self, action: OrderAction) -> Result<Self, OrderTransitionError> {
        Ok(match next(self.status, action)? {
            Transition::To(status) => Self { status, ..self.clone() },
            Transition::Unchanged => self.clone(),
        })
    }

    /// The id.
    pub fn id(&self) -> OrderId {
        self.id
    }
    /// The event.
    pub fn event_id(&self) -> EventId {
        self.event_id
    }
    /// The buyer, when named.
    pub fn buyer(&self) -> Option<&Buyer> {
        self.buyer.as_ref()
    }
    /// The lines.
    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }
    /// How many tickets in all.
    pub fn tickets(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.quantity)).sum()
    }
    /// What is owed.
    pub fn total(&self) -> Money {
        self.total
    }
    /// The hash of the buyer's token.
    pub fn token_hash(&self) -> &TokenHash {
        &self.token_hash
    }
    /// Where it stands.
    pub fn status(&self) -> OrderStatus {
        self.status
    }
    /// When it was placed.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// Until when its tickets are held.
    pub fn hold_expires_at(&self) -> DateTime<Utc> {
        self.hold_expires_at
    }
    /// Where it was sold.
    pub fn channel(&self) -> SaleChannel {
        self.channel
    }
    /// The payment, once paid.
    pub fn payment(&self) -> Option<&Payment> {
        self.payment.as_ref()
    }
    /// The box-office receipt number (gap-free per event), for a desk sale.
    pub fn receipt(&self) -> Option<u64> {
        self.receipt
    }
    /// How much was refunded so far, in minor units of the total's currency.
    pub fn refunded_minor(&self) -> i64 {
        self.refunded_minor
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone as _};
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn line(n: u128, quantity: u32, price: Money) -> OrderLine {
        OrderLine { ticket_type_id: TicketTypeId::from_uuid(Uuid::from_u128(n)), quantity, unit_price: price }
    }

    fn new_order(lines: Vec<OrderLine>) -> NewOrder {
        let at = Utc.with_ymd_and_hms(2027, 6, 1, 12, 0, 0).unwrap();
        NewOrder {
            id: OrderId::from_uuid(Uuid::from_u128(1)),
            event_id: EventId::from_uuid(Uuid::from_u128(2)),
            buyer: Some(BuyerSpec {
                name: "Zoé Lefèvre".into(),
                email: "zoe@example.org".into(),
                phone: None,
                locale: Locale::Fr,
            }),
            lines,
            token_hash: TokenHash([7; 32]),
            created_at: at,
            hold_expires_at: at + Duration::minutes(15),
            channel: SaleChannel::Online,
        }
    }

    #[test]
    fn every_cell_of_the_status_table() {
        use OrderAction::{Cancel, Expire, Pay, PayLate};
        use OrderStatus::{Cancelled, Expired, Paid, PaidUnfulfilled, Pending};
        use Transition::{To, Unchanged};
        let actions = [Pay, PayLate { retaken: true }, PayLate { retaken: false }, Expire, Cancel];
        let table: [(OrderStatus, [Option<Transition>; 5]); 5] = [
            (Pending, [Some(To(Paid)), None, None, Some(To(Expired)), Some(To(Cancelled))]),
            (Expired, [None, Some(To(Paid)), Some(To(PaidUnfulfilled)), Some(Unchanged), Some(Unchanged)]),
            (Cancelled, [None, Some(To(Paid)), Some(To(PaidUnfulfilled)), Some(Unchanged), Some(Unchanged)]),
            (Paid, [Some(Unchanged), Some(Unchanged), Some(Unchanged), Some(Unchanged), None]),
            (PaidUnfulfilled, [Some(Unchanged), Some(Unchanged), Some(Unchanged), Some(Unchanged), None]),
        ];
        assert_eq!(table.len(), OrderStatus::ALL.len());
        for (from, row) in table {
            for (action, expected) in actions.into_iter().zip(row) {
                assert_eq!(next(from, action).ok(), expected, "{from:?} + {action:?}");
            }
        }
    }

    #[test]
    fn an_order_adds_up_in_one_currency_within_its_maximum() {
        let order = Order::new(new_order(vec![line(1, 2, eur(4500)), line(2, 1, eur(9000))]), 10).unwrap();
        assert_eq!((order.total(), order.tickets(), order.status()), (eur(18_000), 3, OrderStatus::Pending));
        assert_eq!(order.buyer().map(Buyer::locale), Some(Locale::Fr));
        let usd = Money::new(100, Currency::parse("USD").unwrap()).unwrap();
        let cases = [
            (vec![], 10, OrderError::NoLines),
            (vec![line(1, 0, eur(1))], 10, OrderError::ZeroQuantity(0)),
            (vec![line(1, 1, eur(1)), line(1, 1, eur(1))], 10, OrderError::RepeatedType(1)),
            (vec![line(1, 1, eur(1)), line(2, 1, usd)], 10, OrderError::MixedCurrencies(1)),
            (vec![line(1, 6, eur(1)), line(2, 5, eur(1))], 10, OrderError::TooMany { max: 10, asked: 11 }),
            (vec![line(1, u32::MAX, eur(i64::MAX))], u32::MAX, OrderError::Overflow),
        ];
        for (lines, max, error) in cases {
            assert_eq!(Order::new(new_order(lines), max), Err(error.clone()), "{error}");
        }
        let mut bad = new_order(vec![line(1, 1, eur(1))]);
        if let Some(buyer) = bad.buyer.as_mut() {
            buyer.email = "not an address".into();
        }
        assert!(matches!(Order::new(bad, 10), Err(OrderError::Buyer(e)) if e.field == "buyer.email"));
    }

    #[test]
    fn a_late_payment_pays_or_leaves_the_order_to_refund() {
        let order = Order::new(new_order(vec![line(1, 1, eur(4500))]), 10).unwrap();
        let expired = order.apply(OrderAction::Expire).unwrap();
        assert_eq!(
            expired.apply(OrderAction::PayLate { retaken: false }).unwrap().status(),
            OrderStatus::PaidUnfulfilled
        );
        let paid = expired.apply(OrderAction::PayLate { retaken: true }).unwrap();
        assert_eq!(paid.status(), OrderStatus::Paid);
        assert_eq!(paid.apply(OrderAction::Expire), Ok(paid.clone()), "an expiry after the success changes nothing");
        assert_eq!(paid.apply(OrderAction::Pay), Ok(paid.clone()), "a payment delivered twice changes nothing");
        assert!(paid.apply(OrderAction::Cancel).is_err());
    }

    #[test]
    fn an_order_reads_back_through_its_checks() {
        let order = Order::new(new_order(vec![line(1, 2, eur(4500))]), 10).unwrap();
        let payment = Payment {
            method: PaymentMethod::Provider,
            provider: Some("stripe".into()),
            reference: Some("pi_1".into()),
            staff: None,
            at: order.created_at(),
        };
        let paid = order.pay(OrderAction::Pay, payment.clone()).unwrap().with_receipt(7);
        let json = serde_json::to_string(&paid).unwrap();
        assert_eq!(serde_json::from_str::<Order>(&json).unwrap(), paid);
        assert_eq!(paid.payment(), Some(&payment));
        let other = Payment { reference: Some("pi_2".into()), ..payment.clone() };
        assert_eq!(paid.pay(OrderAction::Pay, other).unwrap().payment(), Some(&payment), "the first payment stays");
        let forged = json.replace("\"total\":{\"minor\":9000", "\"total\":{\"minor\":1");
        assert_ne!(forged, json);
        assert!(serde_json::from_str::<Order>(&forged).is_err(), "a total that does not add up is refused");
    }

    proptest! {
        /// The total is the sum of the lines, and any sequence of actions leaves a final status
        /// final: once paid (fulfilled or not), nothing moves the order back.
        #[test]
        fn totals_add_up_and_paid_stays_paid(
            lines in proptest::collection::vec((1u32..50, 0i64..100_000), 1..6),
            actions in proptest::collection::vec(0u8..5, 0..12),
        ) {
            let lines: Vec<OrderLine> = lines.iter().enumerate().map(|(i, (q, p))| line(i as u128 + 10, *q, eur(*p))).collect();
            let expected: i64 = lines.iter().map(|l| i64::from(l.quantity) * l.unit_price.minor()).sum();
            let mut order = Order::new(new_order(lines), 1000).unwrap();
            prop_assert_eq!(order.total().minor(), expected);
            let mut was_paid = false;
            for a in actions {
                let action = match a {
                    0 => OrderAction::Pay,
                    1 => OrderAction::PayLate { retaken: true },
                    2 => OrderAction::PayLate { retaken: false },
                    3 => OrderAction::Expire,
                    _ => OrderAction::Cancel,
                };
                if let Ok(after) = order.apply(action) {
                    order = after;
                }
                let paid = matches!(order.status(), OrderStatus::Paid | OrderStatus::PaidUnfulfilled);
                prop_assert!(!was_paid || paid, "left a paid status");
                was_paid = paid;
            }
        }
    }
}
