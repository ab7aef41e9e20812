-- Who works at which event: an organizer reaches only the events they have a duty at, a cashier
-- sells only there. (Agents are assigned to gates, in gate_agents.)
CREATE TABLE event_staff (
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    duty     TEXT NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX event_staff_by_user ON event_staff (user_id);

-- OAuth2 tokens, by the SHA-256 of the token (the token itself is never stored). A family is
-- one sign-in and every pair rotated from it; a token belongs to a user or to an API client.
CREATE TABLE oauth_tokens (
    token_hash BYTEA PRIMARY KEY,
    kind       TEXT NOT NULL,
    family     UUID NOT NULL,
    user_id    UUID REFERENCES users (id) ON DELETE CASCADE,
    client_id  UUID REFERENCES api_clients (id) ON DELETE CASCADE,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CHECK ((user_id IS NULL) <> (client_id IS NULL))
);
CREATE INDEX oauth_tokens_by_family ON oauth_tokens (family);
CREATE INDEX oauth_tokens_by_user ON oauth_tokens (user_id);
CREATE INDEX oauth_tokens_by_client ON oauth_tokens (client_id);
CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens (expires_at);
