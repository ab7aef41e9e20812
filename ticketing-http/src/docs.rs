//! The OpenAPI 3.1 document (`/openapi.json`) and its browsable UI (`/docs`), served from the
//! binary: Swagger UI's files are vendored into it at build time, nothing comes from a CDN.

use serde_json::Value;
use utoipa::openapi::path::{Operation, ParameterIn};
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

/// The document made to match the server exactly, for generated clients and fuzzers:
/// - errors are sent as `application/problem+json`, so a response declared with the `Problem`
///   body is documented under that media type;
/// - an operation with a path parameter can answer 404 (an id that is not a UUID, or names
///   nothing of the caller's), one with query parameters 422 (a bad parameter, named);
/// - every operation has a description (its summary, when its doc has one paragraph);
/// - intra-doc link syntax of the Rust docs (``[`name`]``) becomes plain code spans;
/// - the formats an operation chooses by query (`format=svg`, `format=png`) are listed.
struct Exact;

impl Exact {
    fn operation(path: &str, operation: &mut Operation) {
        for response in operation.responses.responses.values_mut() {
            if let RefOr::T(response) = response {
                Self::problem_media_type(response);
                response.description = plain(&response.description);
            }
        }
        let parameters = operation.parameters.as_deref().unwrap_or_default();
        let mut extra = Vec::new();
        if path.contains('{') {
            extra.push(("404", "No such resource (or not one of the caller's)"));
        }
        if parameters.iter().any(|p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query))) {
            extra.push(("422", "A query parameter is invalid (named in `field`)"));
        }
        for (status, description) in extra {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| CommonErrors::problem(description));
        }
        if operation.description.is_none() {
            operation.description = operation.summary.clone();
        }
        operation.summary = operation.summary.as_deref().map(plain);
        operation.description = operation.description.as_deref().map(plain);
        match operation.operation_id.as_deref() {
            Some("tickets_qr") => Self::also(operation, "image/svg+xml"),
            Some("templates_preview") => Self::also(operation, "image/png"),
            Some("templates_create" | "templates_save_version") => Self::template_example(operation),
            _ => {}
        }
    }

    /// The built-in ticket template, as the example of a template body.
    fn template_example(operation: &mut Operation) {
        let example = serde_json::to_value(ticketing_pdf::Template::default_ticket()).ok();
        if let Some(RefOr::T(body)) = &mut operation.request_body
            && let Some(RefOr::T(content)) = body.content.get_mut("application/json")
        {
            content.example = example;
        }
    }

    /// Errors declared with the `Problem` body are sent as `application/problem+json`.
    fn problem_media_type(response: &mut Response) {
        let problem = Ref::from_schema_name("Problem");
        let is_problem = |c: &RefOr<Content>| matches!(c, RefOr::T(Content { schema: Some(RefOr::Ref(r)), .. }) if r.ref_location == problem.ref_location);
        if response.content.get("application/json").is_some_and(is_problem)
            && let Some(content) = response.content.shift_remove("application/json")
        {
            response.content.insert("application/problem+json".to_owned(), content);
        }
    }

    /// Adds `media_type` beside the 200 answer's own.
    fn also(operation: &mut Operation, media_type: &str) {
        if let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") {
            let content = Content::new(None::<RefOr<utoipa::openapi::schema::Schema>>);
            ok.content.insert(media_type.to_owned(), RefOr::T(content));
        }
    }
}

/// `text` without the Rust docs' intra-doc link brackets: ``[`name`]`` becomes `` `name` ``.
fn plain(text: &str) -> String {
    text.replace("[`", "`").replace("`]", "`")
}

impl Modify for Exact {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                Self::operation(path, operation);
            }
        }
    }
}

/// The whole document: the fixed parts, the routes' operations, the common errors, made exact.
fn document(routes: OpenApi) -> OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(routes);
    CommonErrors.modify(&mut document);
    Exact.modify(&mut document);
    document
}

/// The document as served: [`document`] with an example for every parameter, request body and
/// JSON answer that has none, made from its schema (a schema's own example first, `$ref`s
/// followed; formats, enums and bounds respected), so every operation shows a request and an
/// answer, and a schema-driven client starts from values the server accepts.
pub fn served(routes: OpenApi) -> String {
    let mut document = serde_json::to_value(document(routes)).unwrap_or_default();
    let components = document["components"]["schemas"].clone();
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
            for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if parameter.get("example").is_none() {
                    parameter["example"] = example_of(&parameter["schema"], &components, 0);
                }
            }
            if let Some(body) = operation.get_mut("requestBody") {
                json_example(body, &components);
            }
            let answers = operation.get_mut("responses").and_then(Value::as_object_mut).into_iter().flatten();
            for (_, answer) in answers.filter(|(status, _)| status.starts_with('2')) {
                json_example(answer, &components);
            }
        }
    }
    document.to_string()
}

/// Gives the JSON content of `part` (a request body or an answer) an example, if it has none.
fn json_example(part: &mut Value, components: &Value) {
    if let Some(json) = part.get_mut("content").and_then(|c| c.get_mut("application/json"))
        && json.get("example").is_none()
        && json.get("schema").is_some()
    {
        json["example"] = example_of(&json["schema"], components, 0);
    }
}

/// A value that `schema` accepts.
fn example_of(schema: &Value, components: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
        return example_of(&components[name], components, depth + 1);
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|values| values.first()) {
        return first.clone();
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        let choices = schema.get(key).and_then(Value::as_array).into_iter().flatten();
        if let Some(choice) = choices.into_iter().find(|c| c.get("type").and_then(Value::as_str) != Some("null")) {
            return example_of(choice, components, depth + 1);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).find(|k| *k != "null"),
        other => other.and_then(Value::as_str),
    };
    let minimum = schema.get("minimum").and_then(Value::as_i64).unwrap_or(1);
    match kind {
        Some("object") => Value::Object(
            schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, property)| (name.clone(), example_of(property, components, depth + 1)))
                .collect(),
        ),
        Some("array") => Value::Array(vec![example_of(&schema["items"], components, depth + 1)]),
        Some("integer") => Value::from(minimum),
        Some("number") => Value::from(minimum as f64),
        Some("boolean") => Value::Bool(true),
        Some("string") => Value::from(match schema.get("format").and_then(Value::as_str) {
            Some("uuid") => "01937a3c-5e1f-7d2a-9b4e-3f0c8d2a6b11".to_owned(),
            Some("date-time") => "2027-07-01T18:00:00Z".to_owned(),
            Some("date") => "2027-07-01".to_owned(),
            _ => "x".repeat(schema.get("minLength").and_then(Value::as_u64).unwrap_or(1).max(1) as usize),
        }),
        _ => Value::Null,
    }
}
