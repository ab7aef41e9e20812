//! The OpenAPI 3.1 document (`/openapi.json`) and its browsable UI (`/docs`), served from the
//! binary: Swagger UI's files are vendored into it at build time, nothing comes from a CDN.

use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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

/// The fixed parts of the document, to merge the routes into.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}
