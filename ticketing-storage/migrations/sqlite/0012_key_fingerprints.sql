-- The fingerprints of the keys the deployment's instances sign with (ticketing_core::fleet): an
-- instance whose key differs from the one recorded under the same kind and id, or that would make
-- keys of its own while others are recorded, refuses to start. A fingerprint reveals no key.
CREATE TABLE key_fingerprints (
    kind        TEXT NOT NULL CHECK (kind IN ('qr', 'link')),
    key_id      INTEGER NOT NULL CHECK (key_id >= 0 AND key_id <= 65535),
    digest      TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (kind, key_id)
);
