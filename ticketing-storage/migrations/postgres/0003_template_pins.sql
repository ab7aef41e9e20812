-- The template version each ticket was first rendered with, so a re-download looks the same
-- after the template is edited. Written once (the first pin wins), never changed.
CREATE TABLE ticket_template_pins (
    ticket_id   UUID PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    template_id UUID NOT NULL,
    version     BIGINT NOT NULL,
    FOREIGN KEY (template_id, version) REFERENCES ticket_template_versions (template_id, version)
);
