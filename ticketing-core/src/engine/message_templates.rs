//! An event's own message templates: saved once checked, listed, dropped, and previewed over a
//! sample message (see [`crate::notification::templates`]).

use super::{Error, Ticketing};
use crate::ids::EventId;
use crate::job::NotificationTopic;
use crate::notification::templates::{self, MessageContext, MessageTemplate, TemplateParts, Written};
use crate::order::Locale;
use crate::store::Store;

impl<S: Store + ?Sized> Ticketing<S> {
    /// Saves `parts` as the event's own template for `topic` in `locale`, once they pass
    /// [`TemplateParts::check`] (`TemplateProblem` names the part at fault); replaces any before.
    pub async fn save_message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
        parts: TemplateParts,
    ) -> Result<MessageTemplate, Error> {
        self.event(event_id).await?;
        parts.check(topic)?;
        let template = MessageTemplate { event_id, topic, locale, parts, updated_at: self.clock.now() };
        crate::audit::writing(&template);
        self.store.save_message_template(&template).await?;
        self.template_cache.forget(event_id);
        Ok(template)
    }

    /// The event's own templates, by topic then language.
    pub async fn message_templates(&self, event_id: EventId) -> Result<Vec<MessageTemplate>, Error> {
        Ok(self.store.message_templates(event_id).await?)
    }

    /// Drops the event's own template for `topic` in `locale`: its messages are written from the
    /// built-in one again. `NotFound` when it had none.
    pub async fn delete_message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<(), Error> {
        let dropped = self.store.delete_message_template(event_id, topic, locale).await?;
        self.template_cache.forget(event_id);
        match dropped {
            true => Ok(()),
            false => Err(Error::NotFound("message template")),
        }
    }

    /// The event's own template for `topic` in `locale`, if it has one: from memory when its
    /// templates were read less than 5 s ago ([`super::event_cache`]), so a notification costs
    /// no extra read.
    pub(super) async fn own_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<Option<TemplateParts>, Error> {
        let now = self.clock.now();
        let own = self
            .template_cache
            .get(event_id, now, || async { Ok(self.store.message_templates(event_id).await?) })
            .await?;
        Ok(own.iter().find(|t| t.topic == topic && t.locale == locale).map(|t| t.parts.clone()))
    }

    /// The message of `topic` in `locale` as the event would send it now, over a sample buyer,
    /// ticket and order with the event's own title, date and place: from `parts` when given
    /// (checked first, as a save would), else from the event's own template, else the built-in.
    pub async fn preview_message(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
        parts: Option<TemplateParts>,
    ) -> Result<Written, Error> {
        let event = self.event(event_id).await?;
        let parts = match parts {
            Some(parts) => {
                parts.check(topic)?;
                Some(parts)
            }
            None => self.store.message_template(event_id, topic, locale).await?.map(|t| t.parts),
        };
        let context = MessageContext { event: self.message_context(&event, None).event, ..templates::sample() };
        Ok(templates::write(topic, locale, &context, parts.as_ref())?)
    }
}
