//! Stored ticket templates: every save is a new, immutable version, and a ticket is pinned to
//! the version it was first rendered with, so a re-download looks the same after the organiser
//! edits the template.
//!
//! The document's format belongs to the renderer (`ticketing-pdf`), which checks it before it is
//! saved; the store keeps the JSON as given.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, TemplateId};

/// Why a template is refused when another of its event has the same name.
pub const NAME_TAKEN: &str = "a template of this event has this name";

/// One saved version of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateVersion {
    /// The template.
    pub template_id: TemplateId,
    /// 1 for the first save, then one more for each.
    pub version: u32,
    /// The template's name (as of its latest save).
    pub name: String,
    /// The template document (JSON), exactly as saved.
    pub body: String,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
}

/// The template version a ticket is rendered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TemplatePin {
    /// The template.
    pub template_id: TemplateId,
    /// Its version.
    pub version: u32,
}

/// A template as listed: its scope, name, newest version, and the version in use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSummary {
    /// The template.
    pub template_id: TemplateId,
    /// The event it belongs to (every event's when `None`).
    pub event_id: Option<EventId>,
    /// Its name.
    pub name: String,
    /// Its newest version.
    pub latest_version: u32,
    /// The version its event's tickets are drawn with, when it is the event's active template.
    pub active_version: Option<u32>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl TemplateSummary {
    /// The active version as a pin, when the template is active.
    pub fn active_pin(&self) -> Option<TemplatePin> {
        self.active_version.map(|version| TemplatePin { template_id: self.template_id, version })
    }
}
