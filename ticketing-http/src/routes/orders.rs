//! Selling: the public buying path (place an order, see it by its token, `GET /pay/{token}` to
//! the event's payment link) and the staff's side (box-office sales with gap-free receipts,
//! marking a pending order paid, an event's orders).

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::engine::{LineRequest, OrderRequest, PlacedOrder, SaleRequest};
use ticketing_core::event::Event;
use ticketing_core::ids::{EventId, OrderId, TicketTypeId};
use ticketing_core::order::{BuyerSpec, Locale, Order, OrderStatus, PaymentMethod};
use ticketing_core::payment_link::PaymentLinkValues;
use ticketing_core::status::TicketStatus;
use ticketing_core::store::OrderFilter;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::tickets::{IssuedTicket, MagicLinkView, TicketView};
use crate::audit::{self, Entry, summary};
use crate::auth::{Caller, Reach};
use crate::client::ClientIp;
use crate::extract::{Body, Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// One line of an order.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// The ticket type (of this event).
    pub ticket_type_id: Uuid,
    /// How many, at least 1 (the event caps an order's tickets).
    #[schema(minimum = 1)]
    pub quantity: u32,
}

/// The buyer.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyerBody {
    /// Full name, up to 200 characters.
    pub name: String,
    /// Where the tickets go.
    pub email: String,
    /// Optional, international format.
    #[serde(default)]
    pub phone: Option<String>,
    /// `en` (default) or `fr`.
    #[serde(default)]
    #[schema(schema_with = crate::schema::locale)]
    pub locale: Option<String>,
}

impl BuyerBody {
    pub(crate) fn spec(&self) -> Result<BuyerSpec, ApiError> {
        let locale = match self.locale.as_deref() {
            None | Some("en") => Locale::En,
            Some("fr") => Locale::Fr,
            Some(_) => return Err(ApiError::field("buyer.locale", "must be en or fr")),
        };
        Ok(BuyerSpec { name: self.name.clone(), email: self.email.clone(), phone: self.phone.clone(), locale })
    }
}

/// An order to place.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"ticket_type_id": "0193a1b2-0000-7000-8000-000000000002", "quantity": 2}], "buyer": {"name": "Zoé Lefèvre", "email": "zoe@example.org", "phone": "+33612345678", "locale": "fr"}}))]
pub struct OrderBody {
    /// What (one line per ticket type).
    pub lines: Vec<LineBody>,
    /// Who.
    pub buyer: BuyerBody,
}

fn lines(lines: &[LineBody]) -> Vec<LineRequest> {
    lines
        .iter()
        .map(|l| LineRequest { ticket_type_id: TicketTypeId::from_uuid(l.ticket_type_id), quantity: l.quantity })
        .collect()
}

/// A line as ordered.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LineView {
    /// The type.
    pub ticket_type_id: Uuid,
    /// How many.
    pub quantity: u32,
    /// The price of one when ordered, in minor units.
    pub unit_price_minor: i64,
}

/// A payment received.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    /// `provider`, `cash`, `card`, `transfer` or `other`.
    pub method: String,
    /// The provider, for a provider's payment.
    pub provider: Option<String>,
    /// The provider's or the staff's reference.
    pub reference: Option<String>,
    /// When.
    pub paid_at: DateTime<Utc>,
}

/// An order's ticket, with its magic link once the order is paid.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderTicket {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: TicketView,
    /// Its magic link (the ticket's page, PDF and QR code), once paid.
    pub magic_link: Option<MagicLinkView>,
}

/// An order.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    /// The id (the payment provider's reference to it).
    pub id: Uuid,
    /// The event.
    pub event_id: Uuid,
    /// `pending`, `paid`, `expired`, `cancelled` or `paid_unfulfilled` (paid after its places
    /// were gone: to be refunded).
    #[schema(schema_with = crate::schema::order_status)]
    pub status: String,
    /// `online` or `box_office`.
    pub channel: String,
    /// The lines.
    pub lines: Vec<LineView>,
    /// What is owed, in minor units.
    pub total_minor: i64,
    /// Its currency.
    pub currency: String,
    /// The buyer's name, when given.
    pub buyer_name: Option<String>,
    /// The buyer's email, when given.
    pub buyer_email: Option<String>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// Until when its tickets are held for payment.
    pub hold_expires_at: DateTime<Utc>,
    /// The box-office receipt number (gap-free per event), for a desk sale.
    pub receipt: Option<u64>,
    /// How much was refunded, in minor units.
    pub refunded_minor: i64,
    /// The payment, once paid.
    pub payment: Option<PaymentView>,
    /// Its tickets.
    pub tickets: Vec<OrderTicket>,
}

impl OrderView {
    /// The view of `placed`: its tickets' links shown only once it is paid.
    pub fn new(placed: &PlacedOrder) -> Self {
        let order = &placed.order;
        let paid = order.status() == OrderStatus::Paid;
        let tickets = placed
            .tickets
            .iter()
            .map(|(ticket, link)| OrderTicket {
                ticket: TicketView::from(ticket),
                magic_link: (paid
                    && matches!(ticket.status(), TicketStatus::Paid | TicketStatus::Inside | TicketStatus::Outside))
                .then(|| MagicLinkView::new(link.as_text(), None)),
            })
            .collect();
        Self { tickets, ..Self::bare(order) }
    }

    /// The view of `order` without its tickets.
    pub fn bare(order: &Order) -> Self {
        Self {
            id: *order.id().as_uuid(),
            event_id: *order.event_id().as_uuid(),
            status: order.status().as_str().to_owned(),
            channel: order.channel().as_str().to_owned(),
            lines: order
                .lines()
                .iter()
                .map(|l| LineView {
                    ticket_type_id: *l.ticket_type_id.as_uuid(),
                    quantity: l.quantity,
                    unit_price_minor: l.unit_price.minor(),
                })
                .collect(),
            total_minor: order.total().minor(),
            currency: order.total().currency().code().to_owned(),
            buyer_name: order.buyer().map(|b| b.name().to_owned()),
            buyer_email: order.buyer().map(|b| b.email().as_str().to_owned()),
            created_at: order.created_at(),
            hold_expires_at: order.hold_expires_at(),
            receipt: order.receipt(),
            refunded_minor: order.refunded_minor(),
            payment: order.payment().map(|p| PaymentView {
                method: p.method.as_str().to_owned(),
                provider: p.provider.clone(),
                reference: p.reference.clone(),
                paid_at: p.at,
            }),
            tickets: vec![],
        }
    }
}

/// An order just placed: the buyer's token (shown here, and again for a retry with the same
/// `Idempotency-Key`) and where to pay.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct PlacedView {
    /// The order.
    pub order: OrderView,
    /// The buyer's secret token: their order's page and payment button.
    pub order_token: String,
    /// The order's page: `/api/v1/public/orders/{order_token}`.
    pub order_path: String,
    /// The payment button: `/pay/{order_token}` answers 303 to the event's payment link.
    pub pay_path: String,
    /// The event's payment link filled in for this order (none when the event has none: pay at
    /// the desk or by transfer).
    pub payment_url: Option<String>,
}

/// This server as the buyer reaches it: the configured public URL, else the request's host.
fn base_url(state: &Shared, headers: &HeaderMap) -> String {
    if !state.config.public_url.is_empty() {
        return state.config.public_url.clone();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

/// The payment link of `event` (the order's) filled in for `placed`, if it has one.
fn payment_url(state: &Shared, headers: &HeaderMap, event: &Event, placed: &PlacedOrder) -> Option<String> {
    let link = event.payment_url()?;
    let (order_id, token) = (placed.order.id().to_string(), placed.token.as_text());
    let return_url = format!("{}/orders/{token}", base_url(state, headers));
    let values = PaymentLinkValues {
        order_id: &order_id,
        order_token: &token,
        amount: placed.order.total(),
        email: placed.order.buyer().map(|b| b.email().as_str()).unwrap_or_default(),
        return_url: &return_url,
    };
    Some(link.fill(&values))
}

/// Places an order for an event on sale, no account needed: its tickets are held (`reserved`)
/// until the order is paid or its hold ends (then they are released). A retry with the same
/// `Idempotency-Key` header answers the same order (200) instead of placing another.
#[utoipa::path(
    post,
    operation_id = "orders_place",
    path = "/public/events/{id}/orders",
    tag = "public",
    params(
        ("id" = Uuid, Path, description = "The event"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried placement of the same order (same lines, same buyer) answer that order: 16 to 255 characters, as hard to guess as a password (a UUID)"),
    ),
    request_body = OrderBody,
    responses(
        (status = 201, description = "Placed: the tickets are held for the payment", body = PlacedView),
        (status = 200, description = "Placed before with this Idempotency-Key", body = PlacedView),
        (status = 404, description = "No such event on sale", body = Problem),
        (status = 409, description = "`sold_out`, `event_closed`, or the key used for another order", body = Problem),
        (status = 422, description = "A bad line or buyer field (`too_many` past the event's per-order maximum)", body = Problem),
        (status = 429, description = "Too many orders from this address or for this event", body = Problem),
    )
)]
pub async fn place(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    Id(id): Id<Uuid>,
    headers: HeaderMap,
    Body(body): Body<OrderBody>,
) -> Result<(StatusCode, Json<PlacedView>), ApiError> {
    state.limits.order_address.check(&crate::auth::token::client_key(peer)).await.map_err(ApiError::retry_in)?;
    state.limits.order_event.check(&format!("event:{id}")).await.map_err(ApiError::retry_in)?;
    let event = super::public::public_event(&state, id).await?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| (16..=255).contains(&k.trim().len()))
                .ok_or_else(|| ApiError::field("Idempotency-Key", "16 to 255 visible ASCII characters (a UUID, say)"))?
                .trim()
                .to_owned(),
        ),
    };
    let request = OrderRequest {
        event_id: event.id(),
        lines: lines(&body.lines),
        buyer: body.buyer.spec()?,
        idempotency_key: key,
    };
    let placed = state.engine.place_order_at(&event, &request).await?;
    let status = if placed.replayed { StatusCode::OK } else { StatusCode::CREATED };
    if !placed.replayed {
        state.metrics.order_status("pending");
    }
    let token = placed.token.as_text();
    let view = PlacedView {
        order: OrderView::new(&placed),
        order_path: format!("/api/v1/public/orders/{token}"),
        pay_path: format!("/pay/{token}"),
        payment_url: payment_url(&state, &headers, &event, &placed),
        order_token: token,
    };
    Ok((status, Json(view)))
}

/// The order of a buyer's token; 404 alike for any token that is not an order's.
pub(crate) async fn by_token(state: &Shared, peer: IpAddr, token: &str) -> Result<PlacedOrder, ApiError> {
    state.limits.download.check(&crate::auth::token::client_key(peer)).await.map_err(ApiError::retry_in)?;
    let token = ticketing_core::magic_link::parse_token(token).map_err(|_| ApiError::not_found("order"))?;
    Ok(state.engine.order_by_token(&token).await?)
}

/// An order as its buyer sees it, with each ticket's status, and once paid each ticket's magic
/// link.
#[utoipa::path(
    get,
    operation_id = "orders_public_get",
    path = "/public/orders/{token}",
    tag = "public",
    params(("token" = String, Path, description = "The buyer's order token")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 404, description = "No order has this token", body = Problem),
        (status = 429, description = "Too many requests from this address", body = Problem),
    )
)]
pub async fn public_get(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    Id(token): Id<String>,
) -> Result<Json<OrderView>, ApiError> {
    Ok(Json(OrderView::new(&by_token(&state, peer, &token).await?)))
}

/// The payment button: `303 See Other` to the event's payment link filled in for the order. An
/// order already paid, or whose hold ended, answers a problem saying so.
#[utoipa::path(
    get,
    operation_id = "orders_pay",
    path = "/pay/{token}",
    tag = "public",
    params(("token" = String, Path, description = "The buyer's order token")),
    responses(
        (status = 303, description = "To the payment page (`Location`)"),
        (status = 404, description = "No order has this token", body = Problem),
        (status = 409, description = "`order_paid`, `order_expired`, or `no_payment_link` (the event takes payments at the desk)", body = Problem),
        (status = 429, description = "Too many requests from this address", body = Problem),
    )
)]
pub async fn pay(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    Id(token): Id<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let placed = by_token(&state, peer, &token).await?;
    let order = &placed.order;
    match order.status() {
        OrderStatus::Pending if state.clock.now() < order.hold_expires_at() => {}
        OrderStatus::Pending | OrderStatus::Expired | OrderStatus::Cancelled => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "order_expired",
                "this order's hold has ended: its tickets were released; place a new order",
            ));
        }
        OrderStatus::Paid | OrderStatus::PaidUnfulfilled => {
            return Err(ApiError::new(StatusCode::CONFLICT, "order_paid", "this order is paid already"));
        }
    }
    let event = state.engine.event(order.event_id()).await?;
    let Some(url) = payment_url(&state, &headers, &event, &placed) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_payment_link",
            "this event takes no online payment: pay at the desk or by transfer",
        ));
    };
    let location =
        HeaderValue::from_str(&url).map_err(|_| ApiError::internal("the payment link is not a header value"))?;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response())
}

/// A box-office sale.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"ticket_type_id": "0193a1b2-0000-7000-8000-000000000002", "quantity": 2}], "method": "cash"}))]
pub struct SaleBody {
    /// What (one line per ticket type).
    pub lines: Vec<LineBody>,
    /// `cash`, `card` or `other`.
    #[schema(schema_with = crate::schema::desk_method)]
    pub method: String,
    /// The buyer, if they give their details (their tickets are then made out to them).
    #[serde(default)]
    pub buyer: Option<BuyerBody>,
}

/// A box-office sale made: the order with its receipt number, and the tickets with their QR
/// text and magic link.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct SaleView {
    /// The order (paid).
    pub order: OrderView,
    /// The receipt number: sequential and gap-free per event.
    pub receipt: u64,
    /// The tickets, paid.
    pub tickets: Vec<IssuedTicket>,
}

fn method(field: &str, text: &str, allowed: &[PaymentMethod]) -> Result<PaymentMethod, ApiError> {
    allowed.iter().copied().find(|m| m.as_str() == text).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(PaymentMethod::as_str).collect();
        ApiError::field(field, format!("must be one of {}", names.join(", ")))
    })
}

/// Sells at the desk: the tickets are paid at once and the sale takes the event's next receipt
/// number. For the event's cashiers, organizers and superadmins.
#[utoipa::path(
    post,
    operation_id = "sales_create",
    path = "/events/{id}/sales",
    tag = "selling",
    params(("id" = Uuid, Path, description = "The event")),
    request_body = SaleBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Sold", body = SaleView),
        (status = 404, description = "No such event where you sell", body = Problem),
        (status = 409, description = "`sold_out` or `event_closed`", body = Problem),
        (status = 429, description = "Too many sales by this user", body = Problem),
    )
)]
pub async fn sell(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<SaleBody>,
) -> Result<(StatusCode, Json<SaleView>), ApiError> {
    caller.require(Reach::Sell.roles())?;
    state.limits.issue_now.check(&format!("user:{}", caller.user)).await.map_err(ApiError::retry_in)?;
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Sell).await?;
    let method = method("method", &body.method, &[PaymentMethod::Cash, PaymentMethod::Card, PaymentMethod::Other])?;
    let buyer = body.buyer.as_ref().map(BuyerBody::spec).transpose()?;
    let sale = SaleRequest { event_id: event.id(), lines: lines(&body.lines), method, buyer, cashier: caller.user };
    let entry = Entry::by(&state, &caller, "order.sell", "order:?".into(), Some(event.id())).on_write(
        |order: &Order, entry| {
            entry.target = format!("order:{}", order.id());
            entry.after = summary(&OrderView::bare(order));
        },
    );
    let placed = audit::run(entry, state.engine.sell_at_desk(&sale)).await?;
    state.metrics.order_status("paid");
    let mut tickets = Vec::with_capacity(placed.tickets.len());
    for (ticket, link) in &placed.tickets {
        tickets.push(IssuedTicket {
            ticket: TicketView::from(ticket),
            qr_payload: state.engine.qr_payload(ticket, None)?,
            magic_link: MagicLinkView::new(link.as_text(), None),
        });
    }
    let view =
        SaleView { order: OrderView::new(&placed), receipt: placed.order.receipt().unwrap_or_default(), tickets };
    Ok((StatusCode::CREATED, Json(view)))
}

/// A staff validation of a payment.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"method": "transfer", "reference": "VIR-2027-0042"}))]
pub struct MarkPaidBody {
    /// `cash`, `card`, `transfer` or `other`.
    #[schema(schema_with = crate::schema::staff_method)]
    pub method: String,
    /// The payment's reference (a transfer's), up to 255 characters.
    #[serde(default)]
    pub reference: Option<String>,
}

/// The order `id` with the caller's `reach` on its event; 404 for an order not theirs.
async fn reach_order(state: &Shared, caller: &Caller, id: Uuid, reach: Reach) -> Result<Order, ApiError> {
    caller.require(reach.roles())?;
    let order = state.engine.order(OrderId::from_uuid(id)).await?;
    caller.reaches(state, order.event_id(), reach, "order").await?;
    Ok(order)
}

/// Marks a pending order paid (at the desk, by bank transfer): its tickets become paid. An order
/// whose hold ended is paid again if its places are free, else left `paid_unfulfilled` for a
/// refund. An order paid already is refused (409): the money was taken once.
#[utoipa::path(
    post,
    operation_id = "orders_mark_paid",
    path = "/orders/{id}/mark-paid",
    tag = "selling",
    params(("id" = Uuid, Path, description = "The order")),
    request_body = MarkPaidBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order, paid", body = OrderView),
        (status = 404, description = "No such order where you sell", body = Problem),
        (status = 409, description = "`invalid_transition`: the order is paid already", body = Problem),
    )
)]
pub async fn mark_paid(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<MarkPaidBody>,
) -> Result<Json<OrderView>, ApiError> {
    let before = reach_order(&state, &caller, id, Reach::Sell).await?;
    let allowed = [PaymentMethod::Cash, PaymentMethod::Card, PaymentMethod::Transfer, PaymentMethod::Other];
    let method = method("method", &body.method, &allowed)?;
    let reference = body.reference.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if reference.is_some_and(|r| r.chars().count() > 255 || r.chars().any(char::is_control)) {
        return Err(ApiError::field("reference", "at most 255 characters, no control characters"));
    }
    let entry =
        Entry::by(&state, &caller, "order.mark_paid", format!("order:{}", before.id()), Some(before.event_id()))
            .before(&OrderView::bare(&before))
            .on_write(|after: &Order, entry| entry.after = summary(&OrderView::bare(after)));
    let paid = state.engine.mark_paid(before.id(), method, caller.user, reference.map(str::to_owned));
    let (order, outcome) = audit::run(entry, paid).await?;
    if outcome != ticketing_core::payment::DeliveryOutcome::Unchanged {
        state.metrics.order_status(order.status().as_str());
    }
    let placed = state.engine.order_by_token(&state.engine.order_token(&order)).await?;
    Ok(Json(OrderView::new(&placed)))
}

/// Filters of an order list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Only this status.
    #[param(schema_with = crate::schema::order_status)]
    pub status: Option<String>,
    /// The page, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<u32>,
}

/// An event's orders, oldest first (without their tickets).
#[utoipa::path(
    get,
    operation_id = "orders_list",
    path = "/events/{id}/orders",
    tag = "selling",
    params(("id" = Uuid, Path, description = "The event"), OrderQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of orders", body = [OrderView]),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Params(query): Params<OrderQuery>,
) -> Result<Json<Vec<OrderView>>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Read).await?;
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(
            OrderStatus::ALL
                .into_iter()
                .find(|st| st.as_str() == s)
                .ok_or_else(|| ApiError::field("status", "not an order status"))?,
        ),
    };
    let (per_page, offset) = crate::extract::page_window(query.page, query.per_page, 100, 500)?;
    let filter = OrderFilter { event_id: Some(event.id()), status, limit: per_page, offset };
    let orders = state.store().orders(&filter).await?;
    Ok(Json(orders.iter().map(OrderView::bare).collect()))
}

/// The day of a cash report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CashQuery {
    /// The day (`YYYY-MM-DD`) in the event's time zone; today there when absent.
    #[param(value_type = Option<String>, format = Date, example = "2027-07-01")]
    pub date: Option<String>,
}

/// One cashier's takings by one method in one currency.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CashLineView {
    /// Who took the payments.
    pub cashier_id: Uuid,
    /// Their email.
    pub cashier_email: Option<String>,
    /// `cash`, `card`, `transfer` or `other`.
    pub method: String,
    /// The currency.
    pub currency: String,
    /// Orders paid.
    pub orders: u64,
    /// Tickets in them.
    pub tickets: u64,
    /// Their totals added up, in minor units.
    pub total_minor: i64,
}

/// A day's takings at an event.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CashReportView {
    /// The event.
    pub event_id: Uuid,
    /// The day, in the event's time zone.
    pub date: chrono::NaiveDate,
    /// The event's time zone.
    pub time_zone: String,
    /// Per cashier, method and currency (a cashier sees their own lines).
    pub lines: Vec<CashLineView>,
    /// Every line together, per currency, in minor units.
    pub totals: std::collections::BTreeMap<String, i64>,
}

/// What staff took in on one day, per cashier and payment method: box-office sales and orders
/// marked paid (payments through a provider are the provider's statement). Organizers and
/// superadmins see every cashier; a cashier their own takings.
#[utoipa::path(
    get,
    operation_id = "orders_cash_report",
    path = "/events/{id}/cash-report",
    tag = "selling",
    params(("id" = Uuid, Path, description = "The event"), CashQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The day's takings", body = CashReportView),
        (status = 404, description = "No such event where you sell", body = Problem),
    )
)]
pub async fn cash_report(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Params(query): Params<CashQuery>,
) -> Result<Json<CashReportView>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Sell).await?;
    let tz = event.time_zone();
    let date = match query.date.as_deref() {
        None => tz.local_date(state.clock.now()),
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::field("date", "a day as YYYY-MM-DD"))?,
    };
    let orders = state.store().orders(&OrderFilter { event_id: Some(event.id()), ..Default::default() }).await?;
    let own = (caller.role == ticketing_core::user::Role::Cashier).then_some(caller.user);
    let report = ticketing_core::cash_report::CashReport::new(&orders, date, tz, own);
    let mut lines = Vec::with_capacity(report.lines.len());
    for line in &report.lines {
        lines.push(CashLineView {
            cashier_id: *line.staff.as_uuid(),
            cashier_email: state.store().user(line.staff).await?.map(|u| u.email.as_str().to_owned()),
            method: line.method.as_str().to_owned(),
            currency: line.currency.code().to_owned(),
            orders: line.orders,
            tickets: line.tickets,
            total_minor: line.total_minor,
        });
    }
    Ok(Json(CashReportView {
        event_id: *event.id().as_uuid(),
        date,
        time_zone: tz.name().to_owned(),
        lines,
        totals: report.totals,
    }))
}

/// An event's orders as CSV, oldest first (cells that would run as spreadsheet formulas are
/// defused, see [`crate::csv`]).
#[utoipa::path(
    get,
    operation_id = "exports_orders",
    path = "/events/{id}/orders.csv",
    tag = "exports",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "order_id, status, channel, created_at, paid_at, method, provider, reference, receipt, buyer_name, buyer_email, tickets, total_minor, currency", content_type = "text/csv"),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn orders_csv(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<Response, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let orders = state.store().orders(&OrderFilter { event_id: Some(event.id()), ..Default::default() }).await?;
    let mut csv = crate::csv::Csv::with_header(&[
        "order_id",
        "status",
        "channel",
        "created_at",
        "paid_at",
        "method",
        "provider",
        "reference",
        "receipt",
        "buyer_name",
        "buyer_email",
        "tickets",
        "total_minor",
        "currency",
    ]);
    for o in &orders {
        let payment = o.payment();
        csv.row([
            o.id().to_string().as_str(),
            o.status().as_str(),
            o.channel().as_str(),
            &o.created_at().to_rfc3339(),
            &payment.map(|p| p.at.to_rfc3339()).unwrap_or_default(),
            payment.map_or("", |p| p.method.as_str()),
            payment.and_then(|p| p.provider.as_deref()).unwrap_or_default(),
            payment.and_then(|p| p.reference.as_deref()).unwrap_or_default(),
            &o.receipt().map(|r| r.to_string()).unwrap_or_default(),
            o.buyer().map_or("", |b| b.name()),
            o.buyer().map_or("", |b| b.email().as_str()),
            &o.tickets().to_string(),
            &o.total().minor().to_string(),
            o.total().currency().code(),
        ]);
    }
    Ok(super::exports::attachment(format!("orders-{}.csv", event.id()), "text/csv; charset=utf-8", csv.finish()))
}

/// A refund to make.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ticket_ids": ["0193a1b2-0000-7000-8000-000000000003"], "reason": "Cannot come"}))]
pub struct RefundBody {
    /// These tickets of the order; every ticket that can be refunded (paid or outside) when
    /// absent.
    #[serde(default)]
    pub ticket_ids: Option<Vec<Uuid>>,
    /// Why, up to 500 characters.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A refund.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundView {
    /// The id (the provider's idempotency key is `refund-{id}`).
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// The tickets refunded.
    pub ticket_ids: Vec<Uuid>,
    /// How much, in minor units.
    pub amount_minor: i64,
    /// The currency.
    pub currency: String,
    /// `requested` (the provider is being asked), `done` or `failed` (refused by the provider).
    pub status: String,
    /// The provider asked to pay it back, if any.
    pub provider: Option<String>,
    /// The provider's refund id, once paid back.
    pub provider_refund_id: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

impl From<&ticketing_core::refund::Refund> for RefundView {
    fn from(r: &ticketing_core::refund::Refund) -> Self {
        Self {
            id: *r.id.as_uuid(),
            order_id: *r.order_id.as_uuid(),
            ticket_ids: r.tickets.iter().map(|t| *t.as_uuid()).collect(),
            amount_minor: r.amount.minor(),
            currency: r.amount.currency().code().to_owned(),
            status: r.status.as_str().to_owned(),
            provider: r.provider.clone(),
            provider_refund_id: r.provider_refund_id.clone(),
            reason: r.reason.clone(),
            at: r.at,
        }
    }
}

/// Refunds a paid order, whole or some of its tickets: they become `refunded` (a ticket inside
/// must leave first), their places are freed and their links stop working, the refund is
/// recorded at their sale prices, and an order paid through a provider is paid back through its
/// API by a job (retried, with one idempotency key). An order paid after its places were gone
/// (`paid_unfulfilled`) gets its money back whole.
#[utoipa::path(
    post,
    operation_id = "orders_refund",
    path = "/orders/{id}/refund",
    tag = "selling",
    params(("id" = Uuid, Path, description = "The order")),
    request_body = RefundBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Refunded", body = RefundView),
        (status = 404, description = "No such order (or ticket of it) of yours", body = Problem),
        (status = 409, description = "`invalid_transition`: the order is not paid, or a ticket is inside or refunded already; `nothing_to_refund`", body = Problem),
    )
)]
pub async fn refund(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<RefundBody>,
) -> Result<Json<RefundView>, ApiError> {
    let order = reach_order(&state, &caller, id, Reach::Manage).await?;
    if body.ticket_ids.as_ref().is_some_and(|ids| ids.is_empty() || ids.len() > 1000) {
        return Err(ApiError::field("ticket_ids", "1 to 1,000 tickets, or absent for all"));
    }
    if body.reason.as_deref().is_some_and(|r| r.chars().count() > 500 || r.chars().any(char::is_control)) {
        return Err(ApiError::field("reason", "at most 500 characters on one line"));
    }
    let request = ticketing_core::engine::RefundRequest {
        order_id: order.id(),
        tickets: body.ticket_ids.map(|ids| ids.into_iter().map(ticketing_core::ids::TicketId::from_uuid).collect()),
        reason: body.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()),
        staff: caller.user,
    };
    let entry = Entry::by(&state, &caller, "order.refund", format!("order:{}", order.id()), Some(order.event_id()))
        .on_write(|refund: &ticketing_core::refund::Refund, entry| entry.after = summary(&RefundView::from(refund)));
    let refund = audit::run(entry, state.engine.refund_order(&request)).await.map_err(|e| match e {
        ticketing_core::engine::Error::Invalid(why) => ApiError::new(StatusCode::CONFLICT, "nothing_to_refund", why),
        other => other.into(),
    })?;
    Ok(Json(RefundView::from(&refund)))
}
