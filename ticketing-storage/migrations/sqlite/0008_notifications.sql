-- The record of each message of each notification job: one row per job, channel and recipient,
-- replaced by each attempt. A message whose row says it is settled (sent, skipped, failed) is
-- not sent again when its job runs again.

CREATE TABLE notifications (
    job_id      BLOB NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient   TEXT NOT NULL,
    event_id    BLOB REFERENCES events (id) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('sent', 'skipped', 'retrying', 'failed', 'dead')),
    attempts    INTEGER NOT NULL,
    last_error  TEXT,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (job_id, channel, recipient)
);
CREATE INDEX notifications_by_event ON notifications (event_id, updated_at);

-- Notifications queued by earlier versions, which queued them but sent none: those queued more
-- than a day before the newest job are cancelled rather than sent now, long after what they were
-- about (the newest job stands for "now": the two dialects share no clock function).
UPDATE jobs SET status = 'cancelled', last_error = 'queued before notifications were sent; not sent'
    WHERE kind = 'notify' AND status = 'queued' AND created_at < (SELECT max(created_at) FROM jobs) - 86400000000;
