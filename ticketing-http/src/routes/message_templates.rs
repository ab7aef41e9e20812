//! An event's own message templates: the emails and text messages its notifications send, per
//! kind and language, replacing the built-in ones (minijinja; the variables each kind has are
//! listed with it). A template is checked when saved: every part present, parsed, using only
//! its kind's variables, showing what the message is for, and written once over a sample. The
//! preview writes a kind's message as the event would send it, from parts not saved yet or from
//! what is saved.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::ids::EventId;
use ticketing_core::job::NotificationTopic;
use ticketing_core::notification::templates::{self, MessageTemplate, TemplateParts};
use ticketing_core::order::Locale;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Entry, summary};
use crate::auth::{Caller, Reach};
use crate::extract::{Body, Id};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// A kind's message in one language: the event's own, or the built-in one.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "kind": "ticket_created",
    "locale": "fr",
    "own": true,
    "subject": "Votre billet pour {{ event.title }}",
    "text": "Bonjour {{ name }},\n{% for t in tickets %}{{ t.type_name }} : {{ t.url }}\n{% endfor %}",
    "html": "<p>Bonjour {{ name }},</p>{% for t in tickets %}<p><a href=\"{{ t.url }}\">{{ t.type_name }}</a></p>{% endfor %}",
    "sms": "Votre billet pour {{ event.title }} :",
    "variables": ["name", "event.title", "event.starts_at", "event.location", "tickets"],
    "updated_at": "2026-12-06T20:15:00Z"
}))]
pub struct MessageTemplateView {
    /// The notification kind.
    #[schema(schema_with = crate::schema::notification_kind)]
    pub kind: String,
    /// `en` or `fr`.
    #[schema(schema_with = crate::schema::locale)]
    pub locale: String,
    /// Whether this is the event's own (else the built-in one).
    pub own: bool,
    /// The subject's template.
    pub subject: String,
    /// The plain-text part's template.
    pub text: String,
    /// The HTML part's template (values are escaped).
    pub html: String,
    /// The text message's template (the link is added after it).
    pub sms: String,
    /// The variables this kind's templates may use (`tickets` is a list: each has `type_name`,
    /// `code`, `url` and `pdf_url`).
    pub variables: Vec<String>,
    /// When the event's own was saved.
    pub updated_at: Option<DateTime<Utc>>,
}

impl MessageTemplateView {
    fn new(topic: NotificationTopic, locale: Locale, own: Option<&MessageTemplate>) -> Self {
        let parts = own.map_or_else(|| TemplateParts::built_in(topic, locale), |t| t.parts.clone());
        Self {
            kind: topic.as_str().to_owned(),
            locale: locale.as_str().to_owned(),
            own: own.is_some(),
            subject: parts.subject,
            text: parts.text,
            html: parts.html,
            sms: parts.sms,
            variables: templates::variables(topic).into_iter().map(str::to_owned).collect(),
            updated_at: own.map(|t| t.updated_at),
        }
    }
}

/// An event's own template for a kind in a language.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kind": "ticket_created",
    "locale": "fr",
    "subject": "Votre billet pour {{ event.title }}",
    "text": "Bonjour {{ name }},\n{% for t in tickets %}{{ t.type_name }} : {{ t.url }}\n{% endfor %}",
    "html": "<p>Bonjour {{ name }},</p>{% for t in tickets %}<p><a href=\"{{ t.url }}\">{{ t.type_name }}</a></p>{% endfor %}",
    "sms": "Votre billet pour {{ event.title }} :"
}))]
pub struct MessageTemplateBody {
    /// The notification kind.
    #[schema(schema_with = crate::schema::notification_kind)]
    pub kind: String,
    /// `en` or `fr`.
    #[schema(schema_with = crate::schema::locale)]
    pub locale: String,
    /// The subject: one line, at most 300 characters.
    pub subject: String,
    /// The plain-text part, at most 20,000 characters.
    pub text: String,
    /// The HTML part, at most 20,000 characters.
    pub html: String,
    /// The text message before its link, at most 500 characters.
    pub sms: String,
}

/// What to preview: a kind in a language, with parts not saved yet (each part left out is the
/// saved or built-in one).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "payment_succeeded", "locale": "en", "subject": "Paid: {{ event.title }} ({{ order.total }})"}))]
pub struct PreviewBody {
    /// The notification kind.
    #[schema(schema_with = crate::schema::notification_kind)]
    pub kind: String,
    /// `en` or `fr`.
    #[schema(schema_with = crate::schema::locale)]
    pub locale: String,
    /// The subject to try.
    #[serde(default)]
    pub subject: Option<String>,
    /// The plain-text part to try.
    #[serde(default)]
    pub text: Option<String>,
    /// The HTML part to try.
    #[serde(default)]
    pub html: Option<String>,
    /// The text message to try.
    #[serde(default)]
    pub sms: Option<String>,
}

/// A message as written.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "subject": "Your ticket for Jazz à Vienne",
    "text": "Hello Zoé Lefèvre,\n\nHere is your ticket for Jazz à Vienne, 2027-07-01 20:30, Théâtre antique, Vienne.",
    "html": "<p>Hello Zoé Lefèvre,</p>",
    "sms": "Your ticket for Jazz à Vienne:"
}))]
pub struct WrittenView {
    /// The subject.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// The text message, before its link.
    pub sms: String,
}

fn kind_and_locale(kind: &str, locale: &str) -> Result<(NotificationTopic, Locale), ApiError> {
    let names = |all: Vec<&str>| all.join(", ");
    let topic = kind.parse().map_err(|_| {
        ApiError::field(
            "kind",
            format!("one of {}", names(NotificationTopic::ALL.iter().map(|t| t.as_str()).collect())),
        )
    })?;
    let locale = locale.parse().map_err(|_| {
        ApiError::field("locale", format!("one of {}", names(Locale::ALL.iter().map(|l| l.as_str()).collect())))
    })?;
    Ok((topic, locale))
}

/// Each kind's message in each language that the event may write its own of (those buyers and
/// holders get: `ticket_created`, `payment_succeeded`, `refunded`, `resend_tickets`), as the
/// event sends it: its own where it has one, else the built-in one.
#[utoipa::path(
    get,
    operation_id = "message_templates_list",
    path = "/events/{id}/message-templates",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "By kind then language", body = [MessageTemplateView]),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<Vec<MessageTemplateView>>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let own = state.engine.message_templates(event.id()).await?;
    let mut views = Vec::new();
    for topic in NotificationTopic::ALL.into_iter().filter(|t| templates::customisable(*t)) {
        for locale in Locale::ALL {
            let saved = own.iter().find(|t| t.topic == topic && t.locale == locale);
            views.push(MessageTemplateView::new(topic, locale, saved));
        }
    }
    Ok(Json(views))
}

/// Saves the event's own template for a kind in a language (replacing the one before), once
/// checked: a refusal names the part at fault (`subject`, `text`, `html`, `sms`) and why
/// (unknown variables, a syntax error and its line, a missing list of tickets…).
#[utoipa::path(
    post,
    operation_id = "message_templates_save",
    path = "/events/{id}/message-templates",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    request_body = MessageTemplateBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Saved", body = MessageTemplateView),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 422, description = "A part refused, named by its field", body = Problem),
    )
)]
pub async fn save(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<MessageTemplateBody>,
) -> Result<Json<MessageTemplateView>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let (topic, locale) = kind_and_locale(&body.kind, &body.locale)?;
    let parts = TemplateParts { subject: body.subject, text: body.text, html: body.html, sms: body.sms };
    let target = format!("message_template:{}/{}", topic.as_str(), locale.as_str());
    let entry = Entry::by(&state, &caller, "message_template.save", target, Some(event.id())).on_write(
        move |saved: &MessageTemplate, entry| {
            entry.after = summary(&MessageTemplateView::new(topic, locale, Some(saved)))
        },
    );
    let saved = audit::run(entry, state.engine.save_message_template(event.id(), topic, locale, parts)).await?;
    Ok(Json(MessageTemplateView::new(topic, locale, Some(&saved))))
}

/// Drops the event's own template for a kind in a language: the built-in one is used again.
#[utoipa::path(
    delete,
    operation_id = "message_templates_delete",
    path = "/events/{id}/message-templates/{kind}/{locale}",
    tag = "events",
    params(
        ("id" = Uuid, Path, description = "The event"),
        ("kind" = String, Path, description = "The notification kind"),
        ("locale" = String, Path, description = "`en` or `fr`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Dropped"),
        (status = 404, description = "No such event of yours, or it has no own template for that kind and language", body = Problem),
    )
)]
pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    Id((id, kind, locale)): Id<(Uuid, String, String)>,
) -> Result<StatusCode, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let (Ok(topic), Ok(locale)) = (kind.parse::<NotificationTopic>(), locale.parse::<Locale>()) else {
        return Err(ApiError::not_found("message template"));
    };
    let target = format!("message_template:{}/{}", topic.as_str(), locale.as_str());
    let entry = Entry::by(&state, &caller, "message_template.delete", target, Some(event.id()));
    audit::run(entry.ready(), state.engine.delete_message_template(event.id(), topic, locale)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Writes a kind's message in a language as the event would send it, over a sample buyer,
/// ticket and order with the event's own title, date and place: from the parts given (checked
/// as a save would), the others from the event's own template or the built-in one.
#[utoipa::path(
    post,
    operation_id = "message_templates_preview",
    path = "/events/{id}/message-templates/preview",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    request_body = PreviewBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message, written", body = WrittenView),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 422, description = "A part refused, named by its field", body = Problem),
    )
)]
pub async fn preview(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<PreviewBody>,
) -> Result<Json<WrittenView>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let (topic, locale) = kind_and_locale(&body.kind, &body.locale)?;
    let trying = [&body.subject, &body.text, &body.html, &body.sms].iter().any(|p| p.is_some());
    let parts = if trying {
        let current = match state
            .engine
            .message_templates(event.id())
            .await?
            .into_iter()
            .find(|t| t.topic == topic && t.locale == locale)
        {
            Some(own) => own.parts,
            None => TemplateParts::built_in(topic, locale),
        };
        Some(TemplateParts {
            subject: body.subject.unwrap_or(current.subject),
            text: body.text.unwrap_or(current.text),
            html: body.html.unwrap_or(current.html),
            sms: body.sms.unwrap_or(current.sms),
        })
    } else {
        None
    };
    let written = state.engine.preview_message(event.id(), topic, locale, parts).await?;
    Ok(Json(WrittenView { subject: written.subject, text: written.text, html: written.html, sms: written.sms }))
}
