//! The staff pages: the gate scanner at `/scan` and the organiser's dashboard at `/admin`. Each
//! is one page whose scripts (Vue's runtime build, `staff.js` for the sign-in, then the page's
//! own) sign in with the OAuth2 password grant and work against the API, under the same rules as
//! any API client. The server sends the frame, the words in the visitor's language and the
//! scripts' fingerprinted addresses.

use axum::response::Response;
use serde_json::json;

use super::{Visit, assets};

/// The staff pages' policy: scripts and the decoder thread from this server, calls to this
/// server only, nothing inline, no `eval`. (The camera's stream is shown through `srcObject`,
/// which loads nothing; an export is saved through a link to the page's own memory, which is a
/// download, not a load.)
pub const STAFF_POLICY: &str = "default-src 'none'; script-src 'self'; worker-src 'self'; \
     connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The gate scanner: sign-in, the agent's gates, then camera, keyboard-wedge and typed reads.
#[utoipa::path(
    get,
    operation_id = "pages_scanner",
    path = "/scan",
    tag = "pages",
    params(("lang" = Option<String>, Query, description = "`en` or `fr` (remembered in a cookie)")),
    responses((status = 200, description = "The scanner page (its script signs in and scans)", content_type = "text/html")),
)]
pub async fn scanner(visit: Visit) -> Response {
    staff_page(&visit, "scan_title", "scan.js", Some("scan-worker.js"))
}

/// The organiser's dashboard: sign-in, the events, and per event its sales, occupancy, flow,
/// gates and refusals drawn, with the exports.
#[utoipa::path(
    get,
    operation_id = "pages_dashboard",
    path = "/admin",
    tag = "pages",
    params(("lang" = Option<String>, Query, description = "`en` or `fr` (remembered in a cookie)")),
    responses((status = 200, description = "The dashboard page (its script signs in and draws)", content_type = "text/html")),
)]
pub async fn dashboard(visit: Visit) -> Response {
    staff_page(&visit, "admin_title", "admin.js", None)
}

/// A staff page titled by the word `title`, running Vue, the sign-in and `script` (and
/// `worker`, the decoder thread's file, when it has one).
fn staff_page(visit: &Visit, title: &str, script: &str, worker: Option<&str>) -> Response {
    let context = json!({
        "title": visit.lang.word(title),
        "scripts": [assets::url("vue.js"), assets::url("staff.js"), assets::url(script)],
        "worker": worker.map(assets::url),
    });
    visit.document("staff.html", context, STAFF_POLICY)
}
