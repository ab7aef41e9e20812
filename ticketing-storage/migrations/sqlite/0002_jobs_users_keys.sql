-- The durable job queue, staff and API clients with their roles, ticket templates with versions,
-- and the signing keys' ids and states. Same conventions as 0001.

-- Jobs: claimed by priority (high first), then due time, then enqueue order (`seq`). A claim is a
-- lease (`lease_owner`, `lease_until`); a running job whose lease lapsed is claimable again.
CREATE TABLE jobs (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               BLOB NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    task             TEXT NOT NULL,
    event_id         BLOB REFERENCES events (id) ON DELETE CASCADE,
    priority         INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until      INTEGER,
    progress_done    INTEGER NOT NULL,
    progress_total   INTEGER NOT NULL,
    cancel_requested INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
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
    id            BLOB PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL REFERENCES roles (name),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX users_by_role ON users (role);

-- OAuth2 clients (client-credentials grant): the secret is stored hashed only.
CREATE TABLE api_clients (
    id          BLOB PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL REFERENCES roles (name),
    user_id     BLOB REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Ticket templates: a named template (global when event_id is NULL) and its immutable versions.
CREATE TABLE ticket_templates (
    id              BLOB PRIMARY KEY NOT NULL,
    event_id        BLOB REFERENCES events (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    current_version INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (event_id, name)
);
CREATE TABLE ticket_template_versions (
    template_id BLOB NOT NULL REFERENCES ticket_templates (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_by  BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- Signing keys by id and state. Secret material never lives here: `secret_ref` names where the
-- deployment keeps it (an environment variable, a file); Ed25519 keys also store their public key.
CREATE TABLE signing_keys (
    key_id     INTEGER PRIMARY KEY NOT NULL CHECK (key_id BETWEEN 0 AND 65535),
    algorithm  TEXT NOT NULL CHECK (algorithm IN ('hmac_sha256', 'ed25519')),
    state      TEXT NOT NULL CHECK (state IN ('current', 'verify_only', 'retired')),
    public_key BLOB,
    secret_ref TEXT,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);
-- At most one key signs.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
