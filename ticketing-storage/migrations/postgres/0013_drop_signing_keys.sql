-- `signing_keys` was laid out for keys kept in the database, and was never read or written: key
-- material stays in the settings and secret files, and what the instances share of their keys
-- is their fingerprints (`key_fingerprints`, 0012).
DROP TABLE signing_keys;
