-- The durable job queue, staff and API clients with their roles, ticket templates with versions,
-- and the signing keys' ids and states. Same conventions as 0001.

-- Jobs: claimed by priority (high first), then due time, then enqueue order (`seq`). A claim is a
-- lease (`lease_owner`, `lease_until`); a running job whose lease lapsed is claimable again.
CREATE TABLE jobs (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               UUID NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    task             TEXT NOT NULL,
    event_id         UUID REFERENCES events (id) ON DELETE CASCADE,
    priority         BIGINT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts         BIGINT NOT NULL,
    max_attempts     BIGINT NOT NULL,
    run_at           BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    progress_done    BIGINT NOT NULL,
    progress_total   BIGINT NOT NULL,
    cancel_requested BOOLEAN NOT NULL,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CHECK (progress_done >= 0 AND progress_done <= progress_total),
    CHECK ((status = 'running') = (lease_owner IS NOT NULL))
);
CREATE INDEX jobs_queued ON jobs (priority DESC, run_at, seq) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE status = 'running';
CREATE INDEX jobs_by_event ON jobs (event_id, seq);

-- Roles: superadmin, organizer, cashier, agent (seeded; see the seeder).
CREATE TABLE roles (
    name        TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL
);

-- Staff users. `email_key` is the lower-cased email; passwords are Argon2id PHC strings.
CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL REFERENCES roles (name),
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_by_role ON users (role);

-- OAuth2 clients (client-credentials grant): the secret is stored hashed only.
CREATE TABLE api_clients (
    id          UUID PRIMARY KEY,
    client_id   TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL REFERENCES roles (name),
    user_id     UUID REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- Ticket templates: a named template (global when event_id is NULL) and its immutable versions.
CREATE TABLE ticket_templates (
    id              UUID PRIMARY KEY,
    event_id        UUID REFERENCES events (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    current_version BIGINT,
    created_at      BIGINT NOT NULL,
    UNIQUE (event_id, name)
);
CREATE TABLE ticket_template_versions (
    template_id UUID NOT NULL REFERENCES ticket_templates (id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    body        TEXT NOT NULL,
    created_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- Signing keys by id and state. Secret material never lives here: `secret_ref` names where the
-- deployment keeps it (an environment variable, a file); Ed25519 keys also store their public key.
CREATE TABLE signing_keys (
    key_id     INTEGER PRIMARY KEY CHECK (key_id BETWEEN 0 AND 65535),
    algorithm  TEXT NOT NULL CHECK (algorithm IN ('hmac_sha256', 'ed25519')),
    state      TEXT NOT NULL CHECK (state IN ('current', 'verify_only', 'retired')),
    public_key BYTEA,
    secret_ref TEXT,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
-- At most one key signs.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
