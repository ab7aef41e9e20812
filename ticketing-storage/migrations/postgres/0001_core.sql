-- The engine's core tables, the same shape as the SQLite schema (the repositories' SQL is shared).
-- Instants are Unix microseconds (BIGINT), calendar days are days since 0001-01-01 (chrono's
-- num_days_from_ce). Existing migrations are never edited: changes go in a new file.

CREATE TABLE events (
    id            UUID PRIMARY KEY,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    starts_at     BIGINT NOT NULL,
    ends_at       BIGINT NOT NULL,
    time_zone     TEXT NOT NULL,
    location      TEXT NOT NULL,
    capacity      BIGINT NOT NULL,
    dress_code    TEXT,
    allow_reentry BOOLEAN NOT NULL,
    status        TEXT NOT NULL,
    payment_url   TEXT,
    -- Live tickets (not invalid, not refunded): kept in the transaction that changes them.
    live_tickets  BIGINT NOT NULL DEFAULT 0,
    CHECK (live_tickets >= 0 AND live_tickets <= capacity)
);
CREATE INDEX events_by_start ON events (starts_at);
CREATE INDEX events_by_status ON events (status, starts_at);
CREATE INDEX events_by_location ON events (lower(location));

CREATE TABLE ticket_types (
    id                UUID PRIMARY KEY,
    event_id          UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    name_key          TEXT NOT NULL,
    price_minor       BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    quota             BIGINT NOT NULL,
    usage_limit       BIGINT NOT NULL,
    daily_entry_limit BIGINT,
    validity_from     BIGINT,
    validity_to       BIGINT,
    gates             TEXT,
    live_tickets      BIGINT NOT NULL DEFAULT 0,
    UNIQUE (event_id, name_key),
    CHECK (live_tickets >= 0 AND live_tickets <= quota)
);

CREATE TABLE gates (
    id           UUID PRIMARY KEY,
    event_id     UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    ticket_types TEXT
);
CREATE INDEX gates_by_event ON gates (event_id);

CREATE TABLE gate_agents (
    gate_id  UUID NOT NULL REFERENCES gates (id) ON DELETE CASCADE,
    agent_id UUID NOT NULL,
    PRIMARY KEY (gate_id, agent_id)
);
CREATE INDEX gate_agents_by_agent ON gate_agents (agent_id);

CREATE TABLE tickets (
    id             UUID PRIMARY KEY,
    event_id       UUID NOT NULL REFERENCES events (id),
    ticket_type_id UUID NOT NULL REFERENCES ticket_types (id),
    short_code     BIGINT NOT NULL UNIQUE,
    holder_name    TEXT,
    holder_email   TEXT,
    holder_phone   TEXT,
    status         TEXT NOT NULL,
    entries_used   BIGINT NOT NULL,
    last_entry_day INTEGER,
    entries_on_day BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX tickets_by_event ON tickets (event_id, status);
CREATE INDEX tickets_by_type ON tickets (ticket_type_id, status);

CREATE TABLE scan_sessions (
    token_hash      BYTEA PRIMARY KEY,
    ticket_id       UUID NOT NULL REFERENCES tickets (id),
    event_id        UUID NOT NULL,
    gate_id         UUID NOT NULL,
    agent_id        UUID NOT NULL,
    allowed         TEXT NOT NULL,
    code_expires_at BIGINT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
CREATE INDEX scan_sessions_by_expiry ON scan_sessions (expires_at);

-- `seq` orders lines written in the same microsecond as they were written.
CREATE TABLE scan_logs (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            UUID NOT NULL UNIQUE,
    at            BIGINT NOT NULL,
    event_id      UUID NOT NULL,
    gate_id       UUID NOT NULL,
    agent_id      UUID NOT NULL,
    ticket_id     UUID,
    stage         TEXT NOT NULL,
    direction     TEXT,
    reason        TEXT NOT NULL,
    status_after  TEXT,
    entries_after BIGINT,
    nonce         TEXT
);
CREATE INDEX scan_logs_by_gate ON scan_logs (gate_id, at);
CREATE INDEX scan_logs_by_event ON scan_logs (event_id, at);
CREATE INDEX scan_logs_by_ticket ON scan_logs (ticket_id, at);
-- A nonce is spent once per agent, by a confirmation.
CREATE UNIQUE INDEX scan_logs_nonce ON scan_logs (agent_id, nonce) WHERE stage = 'confirm' AND nonce IS NOT NULL;

CREATE TABLE magic_links (
    token_hash BYTEA PRIMARY KEY,
    ticket_id  UUID NOT NULL REFERENCES tickets (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX magic_links_by_ticket ON magic_links (ticket_id);

CREATE TABLE audit_log (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         UUID NOT NULL UNIQUE,
    at         BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   TEXT,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    event_id   UUID,
    before     TEXT,
    after      TEXT
);
CREATE INDEX audit_log_by_event ON audit_log (event_id, at);
CREATE INDEX audit_log_by_time ON audit_log (at);

CREATE TABLE locks (
    key        TEXT PRIMARY KEY NOT NULL,
    owner      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
