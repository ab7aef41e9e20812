//! Ticket templates of an event: create, save new versions, list them, activate one, preview it
//! as PDF or PNG. Every save is a new immutable version, checked (JSON, rules, a trial render)
//! before it is stored; a ticket is drawn with the version it was first drawn with, so an edit
//! never changes a ticket already downloaded (see [`ticketing_pdf::TemplateLibrary`]).
//!
//! The event's active template is what its tickets are drawn with when a generation job chose
//! none; an event with no active template uses the built-in default.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::audit::Pending;
use ticketing_core::ids::{EventId, TemplateId};
use ticketing_core::template::{TemplatePin, TemplateSummary, TemplateVersion};
use ticketing_pdf::LibraryError;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Entry, summary};
use crate::auth::{Caller, Reach};
use crate::extract::{Body, Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// A template.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateView {
    /// The id.
    pub id: Uuid,
    /// Its event.
    pub event_id: Option<Uuid>,
    /// Its name (from the document's `name`).
    pub name: String,
    /// Its newest version.
    pub latest_version: u32,
    /// The version the event's tickets are drawn with, when it is the event's active template.
    pub active_version: Option<u32>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<&TemplateSummary> for TemplateView {
    fn from(t: &TemplateSummary) -> Self {
        Self {
            id: *t.template_id.as_uuid(),
            event_id: t.event_id.map(|e| *e.as_uuid()),
            name: t.name.clone(),
            latest_version: t.latest_version,
            active_version: t.active_version,
            created_at: t.created_at,
        }
    }
}

/// One saved version.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionView {
    /// The version, from 1.
    pub version: u32,
    /// The template's name as of this version.
    pub name: String,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// The document, as saved.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

impl TryFrom<&TemplateVersion> for VersionView {
    type Error = ApiError;

    fn try_from(v: &TemplateVersion) -> Result<Self, ApiError> {
        Ok(Self {
            version: v.version,
            name: v.name.clone(),
            created_at: v.created_at,
            document: serde_json::from_str(&v.body).map_err(ApiError::internal)?,
        })
    }
}

/// Which version to make active.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct ActivateBody {
    /// The version (default: the newest).
    #[serde(default)]
    pub version: Option<u32>,
}

/// What to preview.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// The version (default: the newest).
    pub version: Option<u32>,
    /// `pdf` (default) or `png`.
    #[param(schema_with = crate::schema::ticket_format)]
    pub format: Option<String>,
    /// Resolution of a PNG, 36 to 300 dots per inch (default 150).
    #[param(minimum = 36, maximum = 300)]
    pub dpi: Option<u16>,
}

fn library_error(e: LibraryError) -> ApiError {
    match e {
        LibraryError::Template(e) => ApiError::field("document", e.to_string()),
        LibraryError::NotFound => ApiError::not_found("template version"),
        LibraryError::Store(e) => e.into(),
        LibraryError::Render(e) => ApiError::field("document", e.to_string()),
    }
}

/// The template `id` if the caller manages its event; 404 otherwise (templates for every event
/// are the superadmin's).
async fn reach_template(state: &Shared, caller: &Caller, id: Uuid) -> Result<TemplateSummary, ApiError> {
    caller.require(Reach::Manage.roles())?;
    let template = state.store().template(TemplateId::from_uuid(id)).await?.ok_or(ApiError::not_found("template"))?;
    match template.event_id {
        Some(event) => caller.reaches(state, event, Reach::Manage, "template").await?,
        None if caller.is_superadmin() => {}
        None => return Err(ApiError::not_found("template")),
    }
    Ok(template)
}

/// The version of template `id` that tickets of `event_id` are to be drawn with: `version`, or
/// the template's active version, or its newest; 404 for a template of another event.
pub async fn resolve(
    state: &Shared,
    event_id: EventId,
    id: TemplateId,
    version: Option<u32>,
) -> Result<TemplatePin, ApiError> {
    let template = state.store().template(id).await?.ok_or(ApiError::not_found("template"))?;
    if template.event_id.is_some_and(|e| e != event_id) {
        return Err(ApiError::not_found("template"));
    }
    let version = version.or(template.active_version).unwrap_or(template.latest_version);
    state.store().template_version(id, Some(version)).await?.ok_or(ApiError::not_found("template version"))?;
    Ok(TemplatePin { template_id: id, version })
}

/// Saves `document` as the next version of `id` (its first: a new template of `event_id`).
/// `entry` completed with the version a save writes: its name and number.
fn saved(entry: Entry) -> Pending {
    entry.on_write(|saved: &TemplateVersion, entry| {
        entry.after = summary(&serde_json::json!({ "name": saved.name, "version": saved.version }));
    })
}

async fn save(
    state: &Shared,
    id: TemplateId,
    event_id: Option<EventId>,
    document: &serde_json::Value,
) -> Result<TemplateVersion, ApiError> {
    let json = serde_json::to_string(document).map_err(ApiError::internal)?;
    state.templates.save(id, event_id, &json, state.clock.now()).await.map_err(library_error)
}

/// Creates a template for an event from its document (version 1). It is not active until
/// activated.
#[utoipa::path(
    post,
    operation_id = "templates_create",
    path = "/events/{id}/templates",
    tag = "templates",
    params(("id" = Uuid, Path, description = "The event")),
    request_body(content = Object, description = "The template document (see `ticketing-pdf/templates/default.json`)"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = TemplateView),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 409, description = "Another template of the event has this name", body = Problem),
        (status = 422, description = "The document was refused", body = Problem),
    )
)]
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(document): Body<serde_json::Value>,
) -> Result<(StatusCode, Json<TemplateView>), ApiError> {
    caller.require(Reach::Manage.roles())?;
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let template_id = TemplateId::generate(&*state.clock, &*state.rng);
    let entry = Entry::by(&state, &caller, "template.create", format!("template:{template_id}"), Some(event.id()));
    audit::run(saved(entry), save(&state, template_id, Some(event.id()), &document)).await?;
    let summary = state.store().template(template_id).await?.ok_or(ApiError::not_found("template"))?;
    let view = TemplateView::from(&summary);
    Ok((StatusCode::CREATED, Json(view)))
}

/// An event's templates, oldest first.
#[utoipa::path(
    get,
    operation_id = "templates_list",
    path = "/events/{id}/templates",
    tag = "templates",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The templates", body = [TemplateView]),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<Vec<TemplateView>>, ApiError> {
    caller.require(Reach::Manage.roles())?;
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let templates = state.store().templates(event.id()).await?;
    Ok(Json(templates.iter().map(TemplateView::from).collect()))
}

/// Saves a new version of a template. The active version stays as it was until activated.
#[utoipa::path(
    post,
    operation_id = "templates_save_version",
    path = "/templates/{id}/versions",
    tag = "templates",
    params(("id" = Uuid, Path, description = "The template")),
    request_body(content = Object, description = "The template document"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Saved", body = VersionView),
        (status = 404, description = "No such template of yours", body = Problem),
        (status = 409, description = "Another template of the event has this name", body = Problem),
        (status = 422, description = "The document was refused", body = Problem),
    )
)]
pub async fn save_version(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(document): Body<serde_json::Value>,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    let template = reach_template(&state, &caller, id).await?;
    let target = format!("template:{}", template.template_id);
    let entry = Entry::by(&state, &caller, "template.save", target, template.event_id);
    let saved = audit::run(saved(entry), save(&state, template.template_id, template.event_id, &document)).await?;
    Ok((StatusCode::CREATED, Json(VersionView::try_from(&saved)?)))
}

/// Every version of a template, oldest first.
#[utoipa::path(
    get,
    operation_id = "templates_versions",
    path = "/templates/{id}/versions",
    tag = "templates",
    params(("id" = Uuid, Path, description = "The template")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The versions", body = [VersionView]),
        (status = 404, description = "No such template of yours", body = Problem),
    )
)]
pub async fn versions(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<Vec<VersionView>>, ApiError> {
    let template = reach_template(&state, &caller, id).await?;
    let versions = state.store().template_versions(template.template_id).await?;
    Ok(Json(versions.iter().map(VersionView::try_from).collect::<Result<_, _>>()?))
}

/// Makes a version the one the event's tickets are drawn with (tickets already drawn keep
/// theirs); the event's other templates stop being active.
#[utoipa::path(
    post,
    operation_id = "templates_activate",
    path = "/templates/{id}/activate",
    tag = "templates",
    params(("id" = Uuid, Path, description = "The template")),
    request_body = ActivateBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Active", body = TemplateView),
        (status = 404, description = "No such template or version of yours", body = Problem),
    )
)]
pub async fn activate(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<ActivateBody>,
) -> Result<Json<TemplateView>, ApiError> {
    let before = reach_template(&state, &caller, id).await?;
    let version = body.version.unwrap_or(before.latest_version);
    let target = format!("template:{}", before.template_id);
    let entry = Entry::by(&state, &caller, "template.activate", target, before.event_id)
        .before(&TemplateView::from(&before))
        .on_write(|after: &TemplateSummary, entry| entry.after = summary(&TemplateView::from(after)));
    let pin = TemplatePin { template_id: before.template_id, version };
    let after = audit::run(entry, state.store().activate_template(pin)).await?;
    Ok(Json(TemplateView::from(&after)))
}

/// A version filled with a sample ticket (its QR signed with the server's key, so it scans), as
/// PDF or PNG.
#[utoipa::path(
    get,
    operation_id = "templates_preview",
    path = "/templates/{id}/preview",
    tag = "templates",
    params(("id" = Uuid, Path, description = "The template"), PreviewQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The preview", content_type = "application/pdf"),
        (status = 404, description = "No such template or version of yours", body = Problem),
        (status = 422, description = "Unknown format, or resolution out of range", body = Problem),
        (status = 429, description = "Too many renders", body = Problem),
    )
)]
pub async fn preview(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Params(query): Params<PreviewQuery>,
) -> Result<Response, ApiError> {
    let template = reach_template(&state, &caller, id).await?;
    let png = match query.format.as_deref().unwrap_or("pdf") {
        "pdf" => false,
        "png" => true,
        _ => return Err(ApiError::field("format", "pdf or png")),
    };
    let dpi = query.dpi.unwrap_or(150);
    if !(36..=300).contains(&dpi) {
        return Err(ApiError::field("dpi", "from 36 to 300"));
    }
    state.limits.issue_now.check(&format!("user:{}", caller.user)).await.map_err(ApiError::retry_in)?;
    let (_, renderer) = state.templates.renderer(template.template_id, query.version).await.map_err(library_error)?;
    let sample = ticketing_pdf::sample_ticket(state.engine.keyring(), 0).map_err(ApiError::internal)?;
    // Only the format asked for is drawn.
    let bytes =
        tokio::task::spawn_blocking(move || if png { renderer.png(&sample, dpi) } else { renderer.pdf(&sample) })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    let content_type = if png { "image/png" } else { "application/pdf" };
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response())
}
