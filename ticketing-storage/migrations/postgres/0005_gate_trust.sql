-- The session a confirmation presented (its SHA-256), so that a nonce sent again is a replay
-- only when it comes with the same session: a scanner reusing a nonce for another ticket is
-- refused (nonce_reused), never answered with the first ticket's entry.
ALTER TABLE scan_logs ADD COLUMN session_hash BYTEA;

-- When the doors open: entries earlier than this many minutes before the start are refused
-- (too_early) unless the ticket type's validity window opens earlier.
ALTER TABLE events ADD COLUMN doors_open_minutes BIGINT NOT NULL DEFAULT 240;
