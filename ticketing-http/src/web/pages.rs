//! The pages' handlers: each reads what the JSON API reads (the same checks, limits and
//! refusals) and draws it in words. A refusal is an HTML page with the same status code.

use std::net::IpAddr;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use ticketing_core::engine::{LineRequest, OrderRequest};
use ticketing_core::event::{Event, EventStatus};
use ticketing_core::ids::TicketTypeId;
use ticketing_core::status::TicketStatus;
use ticketing_core::ticket_type::TicketType;
use utoipa::IntoParams;
use uuid::Uuid;

use super::Visit;
use super::i18n::Lang;
use crate::client::ClientIp;
use crate::outbound::form;
use crate::problem::ApiError;
use crate::routes::orders::BuyerBody;
use crate::routes::public::EventQuery;
use crate::state::Shared;

/// A query's pairs, as sent (a form sends empty fields; nothing here is refused by the
/// extractor: the handler says what is wrong, in a page).
type Pairs = Vec<(String, String)>;

/// The first value of `key` in `pairs`, when not blank.
fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

/// The pairs of a query, or none when it cannot be read.
fn pairs(query: Result<Query<Pairs>, axum::extract::rejection::QueryRejection>) -> Pairs {
    query.map(|Query(p)| p).unwrap_or_default()
}

/// The event list's filters as the form sends them.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "the OpenAPI document's description of the query; the handler reads it as a map")]
pub struct ListForm {
    /// Events starting on or after this day (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Events starting on or before this day (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// Events whose venue contains this text.
    pub location: Option<String>,
    /// `published` (the default), `ended` or `cancelled`.
    pub status: Option<String>,
    /// The page, from 1.
    pub page: Option<String>,
    /// `en` or `fr`: the page's language from now on (a cookie remembers it).
    pub lang: Option<String>,
}

/// The list has no page of its own at `/`: it is the site's home.
#[utoipa::path(
    get,
    operation_id = "pages_home",
    path = "/",
    tag = "pages",
    responses((status = 303, description = "To `/events`"))
)]
pub async fn home() -> Redirect {
    Redirect::to("/events")
}

/// A day of a filter: `YYYY-MM-DD` (or an RFC 3339 instant), its start in UTC.
fn day(pairs: &Pairs, key: &'static str) -> Result<Option<NaiveDate>, ApiError> {
    value(pairs, key)
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .or_else(|_| v.parse::<DateTime<Utc>>().map(|at| at.date_naive()))
                .map_err(|_| ApiError::field(key, "a day such as 2027-07-01"))
        })
        .transpose()
}

/// The event's status in words.
fn event_words(lang: Lang, status: EventStatus) -> &'static str {
    lang.word(&format!("event_{}", status.as_str()))
}

/// An event as the pages show it.
fn event_context(lang: Lang, event: &Event) -> Value {
    let zone = event.time_zone().tz();
    json!({
        "id": event.id().to_string(),
        "title": event.title(),
        "description": event.description(),
        "starts_at": event.starts_at().to_rfc3339(),
        "ends_at": event.ends_at().to_rfc3339(),
        "starts_local": lang.datetime(event.starts_at(), zone),
        "ends_local": lang.datetime(event.ends_at(), zone),
        "time_zone": event.time_zone().name(),
        "location": event.location(),
        "capacity": event.capacity(),
        "dress_code": event.dress_code(),
        "status": event.status().as_str(),
        "status_words": event_words(lang, event.status()),
    })
}

/// The event list: filters (days, location, status) and pages of 20, each event's time in its
/// own zone.
#[utoipa::path(
    get,
    operation_id = "pages_events",
    path = "/events",
    tag = "pages",
    params(ListForm),
    responses(
        (status = 200, description = "The list", content_type = "text/html"),
        (status = 422, description = "A filter that cannot be read, said on the page", content_type = "text/html"),
    )
)]
pub async fn events(
    State(state): State<Shared>,
    visit: Visit,
    query: Result<Query<Pairs>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let pairs = pairs(query);
    match list(&state, &visit, &pairs).await {
        Ok(context) => visit.render(StatusCode::OK, "events.html", visit.lang.word("events"), context),
        Err(e) => visit.error(&e),
    }
}

async fn list(state: &Shared, visit: &Visit, pairs: &Pairs) -> Result<Value, ApiError> {
    let lang = visit.lang;
    let (from, to) = (day(pairs, "from")?, day(pairs, "to")?);
    let page = value(pairs, "page")
        .map(|p| p.parse::<u32>().map_err(|_| ApiError::field("page", "pages count from 1")))
        .transpose()?;
    let query = EventQuery {
        from: from.map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()),
        // The last day counts whole.
        to: to.and_then(|d| d.succ_opt()).map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()),
        location: value(pairs, "location").map(str::to_owned),
        status: value(pairs, "status").map(str::to_owned),
        page,
        per_page: Some(20),
    };
    let status = query.status()?.unwrap_or(EventStatus::Published);
    if status == EventStatus::Draft {
        return Err(ApiError::field("status", "drafts are not public"));
    }
    let (filter, page, per_page) = query.filter(Some(status))?;
    let mut found = state.store().list_events(&filter).await?;
    let more = found.len() > per_page as usize;
    found.truncate(per_page as usize);
    // The filters again, for the form and the other pages' links.
    let shown = json!({
        "from": from.map(|d| d.to_string()).unwrap_or_default(),
        "to": to.map(|d| d.to_string()).unwrap_or_default(),
        "location": query.location.clone().unwrap_or_default(),
        "status": status.as_str(),
    });
    let link = |page: u32| {
        let mut q = format!("/events?page={page}&status={}", status.as_str());
        for key in ["from", "to", "location"] {
            if let Some(v) = shown[key].as_str().filter(|v| !v.is_empty()) {
                q.push_str(&format!("&{key}={}", form(v)));
            }
        }
        q
    };
    let statuses: Vec<Value> = [EventStatus::Published, EventStatus::Ended, EventStatus::Cancelled]
        .into_iter()
        .map(|s| json!({ "value": s.as_str(), "label": event_words(lang, s) }))
        .collect();
    Ok(json!({
        "events": found.iter().map(|e| event_context(lang, e)).collect::<Vec<_>>(),
        "query": shown,
        "statuses": statuses,
        "page": page,
        "previous": (page > 1).then(|| link(page - 1)),
        "next": more.then(|| link(page + 1)),
    }))
}

/// A ticket type's validity window in words.
fn validity(lang: Lang, event: &Event, t: &TicketType) -> String {
    let zone = event.time_zone().tz();
    match (t.validity_from(), t.validity_to()) {
        (None, None) => lang.word("valid_any").to_owned(),
        (from, to) => format!(
            "{} – {}",
            from.map(|at| lang.datetime(at, zone)).unwrap_or_default(),
            to.map(|at| lang.datetime(at, zone)).unwrap_or_default()
        ),
    }
}

/// What the buy form sent back, to show it again with its refusal.
#[derive(Default)]
struct Sent {
    name: String,
    email: String,
    phone: String,
    /// The form's idempotency key.
    key: Option<String>,
    asked: Vec<(Uuid, u32)>,
}

/// The event page's context: the event, its types with places left, the form.
async fn event_page(
    state: &Shared,
    lang: Lang,
    id: Uuid,
    sent: &Sent,
    error: Option<String>,
) -> Result<Value, ApiError> {
    let event = crate::routes::public::public_event(state, id).await?;
    let types = state.store().ticket_types(event.id()).await?;
    let detail = crate::routes::public::event_detail(state, &event, &types).await?;
    let mut event_ctx = event_context(lang, &event);
    event_ctx["remaining"] = json!(detail.remaining_capacity);
    let rows: Vec<Value> = detail
        .ticket_types
        .iter()
        .map(|t| {
            let ty = types.iter().find(|ty| *ty.id().as_uuid() == t.id);
            let asked = sent.asked.iter().find(|(id, _)| *id == t.id).map_or(0, |(_, n)| *n);
            json!({
                "id": t.id.to_string(),
                "name": t.name,
                "price": ty.map(|ty| ty.price().to_string()).unwrap_or_default(),
                "remaining": t.remaining,
                "max": t.remaining.min(event.max_tickets_per_order()),
                "validity": ty.map(|ty| validity(lang, &event, ty)).unwrap_or_default(),
                "asked": asked,
            })
        })
        .collect();
    // What the engine sells: a published event not yet over, with places left.
    let on_sale = event.status() == EventStatus::Published
        && state.clock.now() < event.ends_at()
        && detail.ticket_types.iter().any(|t| t.remaining > 0);
    // A double submit of one form places one order (the engine's idempotency key).
    let key = ticketing_core::secret_token::SecretToken::<16>::generate(&*state.rng).as_text();
    Ok(json!({
        "event": event_ctx,
        "types": rows,
        "on_sale": on_sale,
        "sold_out": event.status() == EventStatus::Published
            && state.clock.now() < event.ends_at()
            && !on_sale,
        "key": key,
        "error": error,
        "form": { "name": sent.name, "email": sent.email, "phone": sent.phone },
    }))
}

/// An event: dates in its time zone, venue, capacity and places left, dress code, its ticket
/// types (price, places left, validity), and the buy form while it is on sale.
#[utoipa::path(
    get,
    operation_id = "pages_event",
    path = "/events/{id}",
    tag = "pages",
    params(("id" = String, Path, description = "The event"), ("lang" = Option<String>, Query, description = "`en` or `fr`")),
    responses(
        (status = 200, description = "The event's page", content_type = "text/html"),
        (status = 404, description = "No such public event", content_type = "text/html"),
    )
)]
pub async fn event(State(state): State<Shared>, visit: Visit, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<Uuid>() else { return visit.error(&ApiError::not_found("event")) };
    match event_page(&state, visit.lang, id, &Sent::default(), None).await {
        Ok(context) => {
            let title = context["event"]["title"].as_str().unwrap_or_default().to_owned();
            visit.render(StatusCode::OK, "event.html", &title, context)
        }
        Err(e) => visit.error(&e),
    }
}

/// The buy form, as posted: `qty:{type id}` for each type, the buyer's `name`, `email` and
/// optional `phone`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "the OpenAPI document's description of the form; the handler reads it as a map")]
pub struct BuyForm {
    /// Full name.
    pub name: Option<String>,
    /// Where the tickets go.
    pub email: Option<String>,
    /// Optional.
    pub phone: Option<String>,
}

/// The buy form: places the order as `POST /api/v1/public/events/{id}/orders` does (the same
/// limits and checks), then `303 See Other` to the order's page. A refusal (sold out, too many,
/// a bad address) shows the event's page again with the refusal and what was typed.
#[utoipa::path(
    post,
    operation_id = "pages_order_form",
    path = "/events/{id}/order",
    tag = "pages",
    params(("id" = String, Path, description = "The event")),
    request_body(content = BuyForm, content_type = "application/x-www-form-urlencoded", description = "`qty:{ticket type id}` = how many of each type, beside the buyer's fields"),
    responses(
        (status = 303, description = "To the order's page (`Location: /orders/{token}`)"),
        (status = 403, description = "Posted from another site (`Sec-Fetch-Site: cross-site`)", content_type = "text/html"),
        (status = 404, description = "No such public event", content_type = "text/html"),
        (status = 409, description = "Sold out, or the event is not on sale: the page again, saying so", content_type = "text/html"),
        (status = 422, description = "A field to correct: the page again, saying which", content_type = "text/html"),
        (status = 429, description = "Too many orders from this address", content_type = "text/html"),
    )
)]
pub async fn order_form(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    visit: Visit,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<axum::Form<Pairs>, axum::extract::rejection::FormRejection>,
) -> Response {
    // A form posted by another site's page (a visitor's browser made to place holds): refused.
    if headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site") {
        return visit.error(&ApiError::forbidden("orders are placed from this site's pages"));
    }
    let fields = body.map(|axum::Form(p)| p).unwrap_or_default();
    // A refusal shows the event's page, whose language links point at it.
    let visit = Visit { path: format!("/events/{id}"), ..visit };
    let Ok(id) = id.parse::<Uuid>() else { return visit.error(&ApiError::not_found("event")) };
    let sent = Sent {
        name: value(&fields, "name").unwrap_or_default().to_owned(),
        email: value(&fields, "email").unwrap_or_default().to_owned(),
        phone: value(&fields, "phone").unwrap_or_default().to_owned(),
        key: value(&fields, "key").filter(|k| (16..=255).contains(&k.len())).map(str::to_owned),
        asked: fields
            .iter()
            .filter_map(|(k, v)| {
                let id = k.strip_prefix("qty:")?.parse::<Uuid>().ok()?;
                Some((id, v.trim().parse::<u32>().unwrap_or(0)))
            })
            .filter(|(_, n)| *n > 0)
            .collect(),
    };
    match buy(&state, peer, visit.lang, id, &sent).await {
        Ok(token) => Redirect::to(&format!("/orders/{token}")).into_response(),
        Err(e) if matches!(e.status(), StatusCode::NOT_FOUND | StatusCode::TOO_MANY_REQUESTS) => visit.error(&e),
        Err(e) => {
            let message = match e.code() {
                "sold_out" => visit.lang.word("sold_out").to_owned(),
                _ => e.detail().to_owned(),
            };
            match event_page(&state, visit.lang, id, &sent, Some(message)).await {
                Ok(context) => {
                    let title = context["event"]["title"].as_str().unwrap_or_default().to_owned();
                    visit.render(e.status(), "event.html", &title, context)
                }
                Err(e) => visit.error(&e),
            }
        }
    }
}

/// Places the order the form asks for; the buyer's token.
async fn buy(state: &Shared, peer: IpAddr, lang: Lang, id: Uuid, sent: &Sent) -> Result<String, ApiError> {
    state.limits.order_address.check(&crate::auth::token::client_key(peer)).await.map_err(ApiError::retry_in)?;
    state.limits.order_event.check(&format!("event:{id}")).await.map_err(ApiError::retry_in)?;
    let event = crate::routes::public::public_event(state, id).await?;
    if sent.asked.is_empty() {
        return Err(ApiError::field("lines", "choose at least one ticket"));
    }
    let buyer = BuyerBody {
        name: sent.name.clone(),
        email: sent.email.clone(),
        phone: Some(sent.phone.clone()).filter(|p| !p.is_empty()),
        // Their messages in the language they bought in.
        locale: Some(lang.code().to_owned()),
    };
    let request = OrderRequest {
        event_id: event.id(),
        lines: sent
            .asked
            .iter()
            .map(|(id, quantity)| LineRequest { ticket_type_id: TicketTypeId::from_uuid(*id), quantity: *quantity })
            .collect(),
        buyer: buyer.spec()?,
        idempotency_key: sent.key.clone(),
    };
    let placed = state.engine.place_order_at(&event, &request).await?;
    if !placed.replayed {
        state.metrics.order_status("pending");
    }
    Ok(placed.token.as_text())
}

/// The buyer's order: its status in words, lines and total, until when it is held, the pay
/// button (when the event has a payment link), and once paid each ticket with its page.
#[utoipa::path(
    get,
    operation_id = "pages_order",
    path = "/orders/{token}",
    tag = "pages",
    params(("token" = String, Path, description = "The buyer's order token"), ("lang" = Option<String>, Query, description = "`en` or `fr`")),
    responses(
        (status = 200, description = "The order's page", content_type = "text/html"),
        (status = 404, description = "No order has this token", content_type = "text/html"),
        (status = 429, description = "Too many requests from this address", content_type = "text/html"),
    )
)]
pub async fn order(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    visit: Visit,
    Path(token): Path<String>,
) -> Response {
    match order_page(&state, peer, visit.lang, &token).await {
        Ok(context) => visit.render(StatusCode::OK, "order.html", visit.lang.word("order"), context),
        Err(e) => visit.error(&e),
    }
}

async fn order_page(state: &Shared, peer: IpAddr, lang: Lang, token: &str) -> Result<Value, ApiError> {
    let placed = crate::routes::orders::by_token(state, peer, token).await?;
    let order = &placed.order;
    let event = state.engine.event(order.event_id()).await?;
    let types = state.store().ticket_types(event.id()).await?;
    let type_name =
        |id: TicketTypeId| types.iter().find(|t| t.id() == id).map(|t| t.name().to_owned()).unwrap_or_default();
    let paid = order.status() == ticketing_core::order::OrderStatus::Paid;
    let tickets: Vec<Value> = placed
        .tickets
        .iter()
        .map(|(ticket, link)| {
            let usable =
                paid && matches!(ticket.status(), TicketStatus::Paid | TicketStatus::Inside | TicketStatus::Outside);
            json!({
                "code": ticket.short_code().to_string(),
                "type_name": type_name(ticket.ticket_type_id()),
                "status_words": lang.word(&format!("ticket_{}", ticket.status().as_str())),
                "link": usable.then(|| format!("/tickets/{}", link.as_text())),
            })
        })
        .collect();
    let lines: Vec<Value> = order
        .lines()
        .iter()
        .map(|l| json!({ "name": type_name(l.ticket_type_id), "quantity": l.quantity, "price": l.unit_price.to_string() }))
        .collect();
    // Still held: the pay button leads somewhere (a hold past its end is released shortly).
    let held =
        order.status() == ticketing_core::order::OrderStatus::Pending && state.clock.now() < order.hold_expires_at();
    Ok(json!({
        "order": {
            "status": order.status().as_str(),
            "status_words": lang.word(&format!("order_{}", order.status().as_str())),
            "total": order.total().to_string(),
            "hold_expires_at": order.hold_expires_at().to_rfc3339(),
            "hold_local": lang.datetime(order.hold_expires_at(), event.time_zone().tz()),
            "held": held,
        },
        "event": event_context(lang, &event),
        "lines": lines,
        "tickets": tickets,
        "pay": (held && event.payment_url().is_some()).then(|| format!("/pay/{}", placed.token.as_text())),
    }))
}

/// The ticket behind its magic link: its status in words, the QR code large, the code for
/// manual entry, the event, the PDF and an "add to calendar" file.
#[utoipa::path(
    get,
    operation_id = "pages_ticket",
    path = "/tickets/{token}",
    tag = "pages",
    params(("token" = String, Path, description = "The magic-link token"), ("lang" = Option<String>, Query, description = "`en` or `fr`")),
    responses(
        (status = 200, description = "The ticket's page", content_type = "text/html"),
        (status = 404, description = "No such link, or expired, or revoked", content_type = "text/html"),
        (status = 429, description = "Too many downloads from this address", content_type = "text/html"),
    )
)]
pub async fn ticket(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    visit: Visit,
    Path(token): Path<String>,
) -> Response {
    let lang = visit.lang;
    let (ticket, ticket_type, event) = match crate::routes::links::open(&state, peer, &token).await {
        Ok(opened) => opened,
        Err(e) => return visit.error(&e),
    };
    // The token goes back into links only as the one that opened the page, percent-encoded.
    let token = form(&token);
    let context = json!({
        "ticket": {
            "code": ticket.short_code().to_string(),
            "status": ticket.status().as_str(),
            "status_words": lang.word(&format!("ticket_{}", ticket.status().as_str())),
            "holder": ticket.holder().map(|h| h.name().to_owned()),
            "type_name": ticket_type.name(),
            "entries_used": ticket.entries_used(),
            "entries_allowed": ticket_type.usage_limit(),
        },
        "event": event_context(lang, &event),
        "qr": format!("/api/v1/public/tickets/{token}/qr.svg"),
        "pdf": format!("/api/v1/public/tickets/{token}/pdf"),
        "ics": format!("/tickets/{token}/event.ics"),
    });
    visit.render(StatusCode::OK, "ticket.html", lang.word("your_ticket"), context)
}

/// The ticket's event as an iCalendar file (RFC 5545), to add it to a calendar.
#[utoipa::path(
    get,
    operation_id = "pages_ticket_ics",
    path = "/tickets/{token}/event.ics",
    tag = "pages",
    params(("token" = String, Path, description = "The magic-link token")),
    responses(
        (status = 200, description = "The event", content_type = "text/calendar"),
        (status = 404, description = "No such link, or expired, or revoked", content_type = "text/html"),
        (status = 429, description = "Too many downloads from this address", content_type = "text/html"),
    )
)]
pub async fn ticket_ics(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    visit: Visit,
    Path(token): Path<String>,
) -> Response {
    let (ticket, _, event) = match crate::routes::links::open(&state, peer, &token).await {
        Ok(opened) => opened,
        Err(e) => return visit.error(&e),
    };
    let body = calendar(&event, &ticket.short_code().to_string(), state.clock.now());
    let disposition = [(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"event.ics\""))];
    super::protect((disposition, crate::routes::links::file("text/calendar; charset=utf-8", body)).into_response())
}

/// `event` as a one-event iCalendar file, its UID from the event and the ticket's code.
fn calendar(event: &Event, code: &str, now: DateTime<Utc>) -> String {
    const STAMP: &str = "%Y%m%dT%H%M%SZ";
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//ticketing//tickets//EN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}-{}@ticketing", event.id(), code),
        format!("DTSTAMP:{}", now.format(STAMP)),
        format!("DTSTART:{}", event.starts_at().format(STAMP)),
        format!("DTEND:{}", event.ends_at().format(STAMP)),
        format!("SUMMARY:{}", ics_text(event.title())),
        format!("LOCATION:{}", ics_text(event.location())),
        format!("DESCRIPTION:{}", ics_text(&format!("{}\n\n{code}", event.description()))),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

/// A TEXT value escaped (RFC 5545 §3.3.11).
fn ics_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A content line folded at 75 octets (never inside a character), ending in CRLF.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_text_is_escaped_and_folded() {
        assert_eq!(ics_text("Jazz; à Vienne, live\\\nnext"), "Jazz\\; à Vienne\\, live\\\\\\nnext");
        let long = format!("SUMMARY:{}", "é".repeat(60));
        let folded = fold(&long);
        assert!(folded.split("\r\n").all(|l| l.len() <= 75), "{folded:?}");
        assert_eq!(folded.replace("\r\n ", "").trim_end(), long);
    }
}
