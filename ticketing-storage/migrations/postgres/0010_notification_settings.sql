-- Whether ticket emails attach each ticket's PDF (an event setting; yes for existing events).
ALTER TABLE events ADD COLUMN email_pdfs BOOLEAN NOT NULL DEFAULT TRUE;

-- "Send me my tickets again": a holder's tickets found by address within an event.
CREATE INDEX tickets_by_holder_email ON tickets (event_id, lower(holder_email)) WHERE holder_email IS NOT NULL;

-- Events' own message templates: one per event, topic and language, replacing the built-in one.
CREATE TABLE message_templates (
    event_id   UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    topic      TEXT NOT NULL,
    locale     TEXT NOT NULL CHECK (locale IN ('en', 'fr')),
    subject    TEXT NOT NULL,
    text_part  TEXT NOT NULL,
    html_part  TEXT NOT NULL,
    sms_part   TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, topic, locale)
);

-- Integrators' webhook endpoints: where each event's news is posted, signed with the secret.
CREATE TABLE webhook_endpoints (
    id              UUID PRIMARY KEY,
    event_id        UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    topics          TEXT NOT NULL,
    secret          TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    failing_since   BIGINT,
    last_error      TEXT,
    last_success_at BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_event ON webhook_endpoints (event_id, created_at);
