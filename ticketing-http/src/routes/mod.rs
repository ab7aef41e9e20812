//! The routes, each with its OpenAPI operation: the router and the document are built from the
//! same list ([`utoipa_axum`]), so every route served is documented.
//!
//! | path | module |
//! |---|---|
//! | `/oauth/token`, `/oauth/revoke` | [`crate::auth::token`] |
//! | `/api/v1/public/events…` | [`public`] |
//! | `/api/v1/events…`, staff | [`events`] |
//! | `/api/v1/…/ticket-types…`, `/api/v1/…/gates…` | [`catalog`] |
//! | `/api/v1/me`, `/api/v1/users…`, `/api/v1/clients…` | [`users`] |
//! | `/api/v1/audit`, `/health`, `/metrics`, `/openapi.json` | [`ops`] |
//! | `/api/v1/…/tickets…`, `/api/v1/tickets/…` | [`tickets`] |
//! | `/api/v1/public/tickets/{token}…` (magic links) | [`links`] |
//! | `/api/v1/scan/…` | [`scan`] |
//! | `/api/v1/…/generations`, `/api/v1/jobs…`, `/api/v1/queue/…` | [`jobs`] |
//! | `/api/v1/events/{id}/dashboard` | [`reports`] |
//! | `/api/v1/events/{id}/participants.csv`, `…/scans.csv` | [`exports`] |
//! | `/api/v1/events/{id}/tickets.zip` | [`archive`] |
//! | `/api/v1/events/{id}/templates`, `/api/v1/templates/…` | [`templates`] |
//! | `/api/v1/public/events/{id}/orders`, `/api/v1/public/orders/{token}`, `/pay/{token}`, `/api/v1/events/{id}/sales`, `/api/v1/orders/…`, `/api/v1/events/{id}/orders`, `…/cash-report`, `…/orders.csv` | [`orders`] |
//! | `/api/v1/payments/{provider}/webhook`, `/api/v1/payments/events` | [`payments`] |
//! | `/api/v1/events/{id}/notifications`, `/api/v1/public/events/{id}/resend-tickets` | [`notifications`] |
//! | `/api/v1/events/{id}/message-templates…` | [`message_templates`] |
//! | `/api/v1/events/{id}/webhooks`, `/api/v1/webhooks/{id}…` | [`webhooks`] |
//! | `/`, `/events…`, `/orders/{token}`, `/tickets/{token}…`, `/assets/{file}` (the web pages) | [`crate::web`] |

pub mod archive;
pub mod catalog;
pub mod events;
pub mod exports;
pub mod jobs;
pub mod links;
pub mod message_templates;
pub mod notifications;
pub mod ops;
pub mod orders;
pub mod payments;
pub mod public;
pub mod reports;
pub mod scan;
pub mod templates;
pub mod tickets;
pub mod users;
pub mod webhooks;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::token;
use crate::state::Shared;

/// Every route, with its documentation.
pub fn api() -> OpenApiRouter<Shared> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(public::list))
        .routes(routes!(public::detail))
        .routes(routes!(events::list, events::create))
        .routes(routes!(events::get, events::replace, events::delete))
        .routes(routes!(events::set_status))
        .routes(routes!(events::staff))
        .routes(routes!(events::assign, events::unassign))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::resend))
        .routes(routes!(message_templates::list, message_templates::save))
        .routes(routes!(message_templates::delete))
        .routes(routes!(message_templates::preview))
        .routes(routes!(webhooks::list, webhooks::register))
        .routes(routes!(webhooks::delete))
        .routes(routes!(webhooks::enable))
        .routes(routes!(catalog::list_types, catalog::create_type))
        .routes(routes!(catalog::get_type, catalog::replace_type, catalog::delete_type))
        .routes(routes!(catalog::list_gates, catalog::create_gate))
        .routes(routes!(catalog::get_gate, catalog::replace_gate, catalog::delete_gate))
        .routes(routes!(users::me))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update))
        .routes(routes!(users::list_clients, users::create_client))
        .routes(routes!(users::revoke_client))
        .routes(routes!(ops::audit))
        .routes(routes!(tickets::issue))
        .routes(routes!(tickets::list))
        .routes(routes!(tickets::get))
        .routes(routes!(tickets::qr))
        .routes(routes!(tickets::refund))
        .routes(routes!(tickets::invalidate))
        .routes(routes!(tickets::reissue_link, tickets::revoke_links))
        .routes(routes!(links::page))
        .routes(routes!(links::pdf))
        .routes(routes!(links::qr_png_file))
        .routes(routes!(links::qr_svg_file))
        .routes(routes!(scan::request))
        .routes(routes!(scan::confirm))
        .routes(routes!(scan::logs))
        .routes(routes!(scan::gates))
        .routes(routes!(scan::scanner_keys))
        .routes(routes!(jobs::generate))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::cancel))
        .routes(routes!(jobs::retry))
        .routes(routes!(jobs::queue_stats))
        .routes(routes!(jobs::queue_purge))
        .routes(routes!(reports::dashboard))
        .routes(routes!(templates::list, templates::create))
        .routes(routes!(templates::versions, templates::save_version))
        .routes(routes!(templates::activate))
        .routes(routes!(templates::preview))
        .routes(routes!(exports::participants))
        .routes(routes!(exports::scans))
        .routes(routes!(archive::tickets_zip))
        .routes(routes!(orders::place))
        .routes(routes!(orders::public_get))
        .routes(routes!(orders::sell))
        .routes(routes!(orders::mark_paid))
        .routes(routes!(orders::list))
        .routes(routes!(orders::cash_report))
        .routes(routes!(orders::refund))
        .routes(routes!(orders::orders_csv))
        .routes(routes!(payments::webhook))
        .routes(routes!(payments::events));
    OpenApiRouter::new()
        .routes(routes!(token::token))
        .routes(routes!(token::revoke))
        .routes(routes!(ops::health))
        .routes(routes!(ops::live))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
        .routes(routes!(orders::pay))
        .merge(crate::web::routes())
        .nest("/api/v1", v1)
}
