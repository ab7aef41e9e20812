//! The OpenAPI 3.1 document (`/openapi.json`) and its browsable UI (`/docs`), served from the
//! binary: Swagger UI's files are vendored into it at build time, nothing comes from a CDN.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};

/// The document's fixed parts; the paths come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "ticketing",
        description = "Event ticketing: events, ticket types, gates, staff, and OAuth2 sign-in. \
                       Errors are RFC 9457 problem details with a stable `code`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0")
    ),
    modifiers(&Bearer),
    tags(
        (name = "auth", description = "OAuth2 tokens (RFC 6749) and revocation (RFC 7009)"),
        (name = "public", description = "The public catalogue, no account needed"),
        (name = "events", description = "Organisers' events and their staff"),
        (name = "ticket types", description = "What is sold for an event"),
        (name = "gates", description = "Where tickets are scanned"),
        (name = "users", description = "Staff accounts"),
        (name = "clients", description = "API clients for integrations"),
        (name = "audit", description = "Who changed what"),
        (name = "tickets", description = "Tickets: issue, list, refund, invalidate, magic links"),
        (name = "jobs", description = "Bulk generation in the background"),
        (name = "scanning", description = "Two-step gate scanning and the scan log"),
        (name = "exports", description = "Participants and scan logs as CSV"),
        (name = "reports", description = "Dashboards: sales, occupancy, scans"),
        (name = "templates", description = "Ticket templates: versions, activation, previews"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An access token from POST /oauth/token"))
                    .build(),
            ),
        );
    }
}

/// The error answers every operation can give, added to each where its own list lacks them:
/// 401 and 403 with a bearer token, 400/413/415/422 with a JSON body, 503 when storage is down.
struct CommonErrors;

impl CommonErrors {
    fn problem(description: &str) -> RefOr<Response> {
        let content = Content::new(Some(Ref::from_schema_name("Problem")));
        RefOr::T(ResponseBuilder::new().description(description).content("application/problem+json", content).build())
    }

    fn add(operation: &mut Operation) {
        let mut common = vec![("503", "Storage is unavailable; nothing was written")];
        if operation.security.is_some() {
            common.push(("401", "No valid bearer token"));
            common.push(("403", "The caller's role may not do this"));
        }
        let json_body =
            matches!(&operation.request_body, Some(RefOr::T(body)) if body.content.contains_key("application/json"));
        if json_body {
            common.extend([
                ("400", "The body is not valid JSON"),
                ("413", "The body is too large"),
                ("415", "The body is not JSON"),
                ("422", "A field is invalid (named in `field`)"),
            ]);
        }
        for (status, description) in common {
            operation.responses.responses.entry(status.to_owned()).or_insert_with(|| Self::problem(description));
        }
    }
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                Self::add(operation);
            }
        }
    }
}

/// The whole document: the fixed parts, the routes' operations, and the common errors.
pub fn document(routes: OpenApi) -> OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(routes);
    CommonErrors.modify(&mut document);
    document
}
