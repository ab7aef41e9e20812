//! [`TemplateLibrary`]: templates saved as versions in a store, and tickets rendered with the
//! version they were first rendered with.
//!
//! A save checks the template (JSON, rules, a trial render) before it is stored, so a stored
//! version always renders. The first render of a ticket pins it to the template's latest version
//! ([`TemplateRepository::pin_ticket_template`]); every later download of that ticket uses the
//! pinned version, however the template was edited since. Prepared renderers are cached by
//! version (a version never changes). Preparing one (a save, or the first use of a version)
//! decodes the template's images on the calling task: milliseconds, up to a few tens for the
//! largest images allowed; render with the returned `Renderer` on a blocking pool in a server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use thiserror::Error;
use ticketing_core::ids::{EventId, TemplateId, TicketId};
use ticketing_core::store::{StoreError, TemplateRepository};
use ticketing_core::template::{TemplatePin, TemplateVersion};

use crate::data::TicketData;
use crate::renderer::{RenderError, Renderer};
use crate::template::{Template, TemplateError};

/// How many prepared renderers the library keeps.
const CACHED_RENDERERS: usize = 64;

/// Why a library call failed.
#[derive(Debug, Error)]
pub enum LibraryError {
    /// The template was refused (nothing was stored).
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// No such template, or no such version of it.
    #[error("no such template or version")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ticket could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Templates over a [`TemplateRepository`], with a cache of prepared renderers.
pub struct TemplateLibrary<S: ?Sized> {
    store: Arc<S>,
    renderers: Mutex<HashMap<TemplatePin, Arc<Renderer>>>,
}

impl<S: ?Sized> std::fmt::Debug for TemplateLibrary<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateLibrary").finish_non_exhaustive()
    }
}

impl<S: TemplateRepository + ?Sized> TemplateLibrary<S> {
    /// A library over `store`.
    pub fn new(store: Arc<S>) -> Self {
        Self { store, renderers: Mutex::new(HashMap::new()) }
    }

    /// Checks `json` and saves it as the next version of `template_id` (created for `event_id`,
    /// or for every event, on its first save).
    pub async fn save(
        &self,
        template_id: TemplateId,
        event_id: Option<EventId>,
        json: &str,
        at: DateTime<Utc>,
    ) -> Result<TemplateVersion, LibraryError> {
        let renderer = Renderer::new(Template::from_json(json)?)?;
        let name = renderer.template().name.clone();
        let saved = self.store.save_template_version(template_id, event_id, &name, json, at).await?;
        self.remember(TemplatePin { template_id, version: saved.version }, Arc::new(renderer));
        Ok(saved)
    }

    /// The renderer of one version (the latest when `version` is `None`), with its pin.
    pub async fn renderer(
        &self,
        template_id: TemplateId,
        version: Option<u32>,
    ) -> Result<(TemplatePin, Arc<Renderer>), LibraryError> {
        if let Some(version) = version
            && let Some(cached) = self.cached(TemplatePin { template_id, version })
        {
            return Ok((TemplatePin { template_id, version }, cached));
        }
        let stored = self.store.template_version(template_id, version).await?.ok_or(LibraryError::NotFound)?;
        let pin = TemplatePin { template_id, version: stored.version };
        if let Some(cached) = self.cached(pin) {
            return Ok((pin, cached));
        }
        // A stored version passed the checks when it was saved; reading it again checks it again
        // in case the rules grew stricter since.
        let renderer = Arc::new(Renderer::new(Template::from_json(&stored.body)?)?);
        self.remember(pin, Arc::clone(&renderer));
        Ok((pin, renderer))
    }

    /// The renderer a ticket's PDF is drawn with: the version it is pinned to, or else the
    /// latest version of `template_id`, which it is pinned to from now on.
    pub async fn ticket_renderer(
        &self,
        ticket_id: TicketId,
        template_id: TemplateId,
    ) -> Result<(TemplatePin, Arc<Renderer>), LibraryError> {
        if let Some(pin) = self.store.ticket_template(ticket_id).await? {
            return self.renderer(pin.template_id, Some(pin.version)).await;
        }
        let (latest, _) = self.renderer(template_id, None).await?;
        let pin = self.store.pin_ticket_template(ticket_id, latest).await?;
        self.renderer(pin.template_id, Some(pin.version)).await
    }

    /// The template each of `ticket_ids` (tickets of event `event_id`) is drawn with, the one
    /// rule for every drawing of a stored ticket (its magic link, the ZIP export, an email): the
    /// version the ticket is pinned to; else the event's active template, which it is pinned to
    /// from now on; else none, and the caller draws it with the built-in template and pins
    /// nothing. Tickets that do not exist are left out. Tickets all pinned already are one
    /// read (a download writes nothing); at most three store calls, however many tickets.
    pub async fn event_renderers(
        &self,
        event_id: EventId,
        ticket_ids: &[TicketId],
    ) -> Result<HashMap<TicketId, Arc<Renderer>>, LibraryError> {
        let mut pins = self.store.ticket_templates(ticket_ids).await?;
        let unpinned: Vec<TicketId> = ticket_ids.iter().filter(|id| !pins.contains_key(id)).copied().collect();
        if !unpinned.is_empty()
            && let Some(active) = self.store.templates(event_id).await?.iter().find_map(|t| t.active_pin())
        {
            pins.extend(self.store.pin_ticket_templates(&unpinned, active).await?);
        }
        let mut renderers: HashMap<TemplatePin, Arc<Renderer>> = HashMap::new();
        let mut drawn = HashMap::with_capacity(pins.len());
        for (ticket, pin) in pins {
            let renderer = match renderers.get(&pin) {
                Some(renderer) => Arc::clone(renderer),
                None => {
                    let (_, renderer) = self.renderer(pin.template_id, Some(pin.version)).await?;
                    renderers.insert(pin, Arc::clone(&renderer));
                    renderer
                }
            };
            drawn.insert(ticket, renderer);
        }
        Ok(drawn)
    }

    /// A ticket's PDF, drawn with the version it is pinned to (see [`Self::ticket_renderer`]).
    /// Rendering takes a couple of milliseconds on the calling thread; a server with many
    /// downloads at once gets the renderer here and draws on a blocking pool.
    pub async fn ticket_pdf(
        &self,
        ticket_id: TicketId,
        template_id: TemplateId,
        ticket: &TicketData,
    ) -> Result<(TemplatePin, Vec<u8>), LibraryError> {
        let (pin, renderer) = self.ticket_renderer(ticket_id, template_id).await?;
        Ok((pin, renderer.pdf(ticket)?))
    }

    fn cached(&self, pin: TemplatePin) -> Option<Arc<Renderer>> {
        self.renderers.lock().unwrap_or_else(|e| e.into_inner()).get(&pin).cloned()
    }

    fn remember(&self, pin: TemplatePin, renderer: Arc<Renderer>) {
        let mut cache = self.renderers.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHED_RENDERERS && !cache.contains_key(&pin) {
            // Versions are immutable, so any entry may go; the next use prepares it again.
            if let Some(evicted) = cache.keys().next().copied() {
                cache.remove(&evicted);
            }
        }
        cache.insert(pin, renderer);
    }
}
