//! The web pages people use, served by the server itself: no separate front-end server, no CDN,
//! no JavaScript needed. Server-rendered HTML from `minijinja` templates compiled into the
//! binary (`ticketing-http/web/templates`), one stylesheet (`web/assets`) under a fingerprinted
//! name, French and English.
//!
//! Why `minijinja`: it is already the engine of the events' message templates, so the pages add
//! no dependency and one template language serves both; it escapes HTML by default for `.html`
//! templates, and every template is rendered by the tests (a template error is a failing test,
//! not a page error in production).
//!
//! | path | what |
//! |---|---|
//! | `/`, `/events` | the event list: filters (dates, location, status), pages |
//! | `/events/{id}` | an event: its types, prices, places left, the buy form |
//! | `POST /events/{id}/order` | the buy form: places the order, `303` to its page |
//! | `/orders/{token}` | the buyer's order: status, pay button, tickets once paid |
//! | `/tickets/{token}` | the ticket behind its magic link: status, QR, PDF, calendar |
//! | `/tickets/{token}/event.ics` | the event for a calendar |
//! | `/scan` | the gate scanner (staff; [`staff`]) |
//! | `/admin` | the organiser's dashboard (staff; [`staff`]) |
//! | `/assets/{file}` | the stylesheet and the scanner's scripts, cached for a year under their fingerprints |
//!
//! The public pages run no script. The staff pages do (the scanner reads a camera): their scripts
//! are files of this server too, and their policy allows scripts from it and nothing inline.
//!
//! Every page answers with a strict Content-Security-Policy (nothing inline, nothing from
//! elsewhere), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` (the order and
//! ticket pages carry secret tokens in their address) and `X-Frame-Options: DENY`.

pub mod assets;
pub mod i18n;
pub mod pages;
pub mod staff;

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::ApiError;
use crate::state::Shared;
use i18n::Lang;

/// The pages' policy: the stylesheet and images from this server, forms posted here only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The templates, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../web/templates/base.html")),
    ("events.html", include_str!("../../web/templates/events.html")),
    ("event.html", include_str!("../../web/templates/event.html")),
    ("order.html", include_str!("../../web/templates/order.html")),
    ("ticket.html", include_str!("../../web/templates/ticket.html")),
    ("error.html", include_str!("../../web/templates/error.html")),
    ("staff.html", include_str!("../../web/templates/staff.html")),
];

static TEMPLATE_ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        // A template that does not parse fails every test that renders a page.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a page template does not parse");
        }
    }
    env
});

/// The page routes, documented beside the API (tag `pages`).
pub fn routes() -> OpenApiRouter<Shared> {
    assets::prepare();
    OpenApiRouter::new()
        .routes(routes!(pages::home))
        .routes(routes!(pages::events))
        .routes(routes!(pages::event))
        .routes(routes!(pages::order_form))
        .routes(routes!(pages::order))
        .routes(routes!(pages::ticket))
        .routes(routes!(pages::ticket_ics))
        .routes(routes!(staff::scanner))
        .routes(routes!(staff::dashboard))
        .routes(routes!(assets::file))
}

/// A page being answered: the visitor's language and where they are (for the language links).
#[derive(Clone, Debug)]
pub struct Visit {
    /// The language the page is written in.
    pub lang: Lang,
    /// Whether `?lang=` asked for it now: the answer remembers it in a cookie.
    pub remember: bool,
    /// The page's path, without its query.
    pub path: String,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Visit {
    type Rejection = std::convert::Infallible;

    /// The visit of the page asked for: its path, and the language from its query's `lang`, the
    /// cookie or `Accept-Language`. Never refuses.
    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let asked = parts
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("lang=")).filter(|v| !v.is_empty()));
        let (lang, remember) = Lang::of(asked, &parts.headers);
        Ok(Self { lang, remember, path: parts.uri.path().to_owned() })
    }
}

impl Visit {
    /// Renders `template` (the page's main part) with `context` and the words of the visitor's
    /// language, inside the site's frame (`base.html`) titled `title`.
    pub fn render(&self, status: StatusCode, template: &str, title: &str, mut context: Value) -> Response {
        self.fill(&mut context);
        let html = TEMPLATE_ENV.get_template(template).and_then(|t| t.render(&context)).and_then(|main| {
            context["main"] = json!(main);
            context["title"] = json!(title);
            TEMPLATE_ENV.get_template("base.html").and_then(|t| t.render(&context))
        });
        self.respond(status, template, html, CONTENT_SECURITY_POLICY)
    }

    /// Renders `template`, a page that extends the site's frame itself (the staff pages: their
    /// own brand and body in `base.html`'s blocks), with `context` and the words of the
    /// visitor's language, under the Content-Security-Policy `policy`.
    pub fn document(&self, template: &str, mut context: Value, policy: &'static str) -> Response {
        self.fill(&mut context);
        let html = TEMPLATE_ENV.get_template(template).and_then(|t| t.render(&context));
        self.respond(StatusCode::OK, template, html, policy)
    }

    /// Adds what every template reads: the language, its words, the stylesheet, the path.
    fn fill(&self, context: &mut Value) {
        if let Value::Object(map) = context {
            map.insert("lang".into(), json!(self.lang.code()));
            map.insert("t".into(), json!(self.lang.words()));
            map.insert("css".into(), json!(assets::url("site.css")));
            map.insert("path".into(), json!(self.path));
        }
    }

    /// The answer carrying `html` (or a plain error page when it did not render).
    fn respond(
        &self,
        status: StatusCode,
        template: &str,
        html: Result<String, minijinja::Error>,
        policy: &'static str,
    ) -> Response {
        let (status, html) = match html {
            Ok(html) => (status, html),
            Err(e) => {
                tracing::error!(template, error = %e, "a page failed to render");
                (StatusCode::INTERNAL_SERVER_ERROR, "<!doctype html><title>Error</title><p>Error</p>".to_owned())
            }
        };
        let mut response = (status, html).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(self.lang.code()));
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Language, Cookie"));
        if self.remember {
            let cookie = format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", self.lang.code());
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                headers.insert(header::SET_COOKIE, value);
            }
        }
        protect_with(response, policy)
    }

    /// The error page for `error`, with its status: the refusal in words (the API's detail for a
    /// refusal of what was asked, the visitor's language for the common ones).
    pub fn error(&self, error: &ApiError) -> Response {
        let message = match error.status() {
            StatusCode::NOT_FOUND => self.lang.word("not_found").to_owned(),
            StatusCode::TOO_MANY_REQUESTS => self.lang.word("too_many").to_owned(),
            s if s.is_server_error() => self.lang.word("unavailable").to_owned(),
            _ => error.detail().to_owned(),
        };
        let mut response =
            self.render(error.status(), "error.html", self.lang.word("error"), json!({ "message": message }));
        if let Some(wait) = error.retry_after()
            && let Ok(value) = HeaderValue::from_str(&wait.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// `response` with the pages' security headers.
pub fn protect(response: Response) -> Response {
    protect_with(response, CONTENT_SECURITY_POLICY)
}

/// `response` with the pages' security headers and the Content-Security-Policy `policy`.
fn protect_with(mut response: Response, policy: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(TEMPLATE_ENV.get_template(name).is_ok(), "{name} does not parse");
        }
    }
}
