-- A sale's counters apart from the rows they count (the same tables as Postgres's, where the
-- split matters: there, foreign keys key-share lock an event's and a type's rows for every ticket,
-- order and job inserted, and sales updating those rows too made multixacts every read resolved).
-- Sales update these rows; the events and ticket types rows change when the organiser edits them.

CREATE TABLE event_counters (
    event_id        BLOB PRIMARY KEY NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- The event's capacity, copied here so a sale checks it on the row it updates.
    capacity        INTEGER NOT NULL,
    -- Live tickets (not invalid, not refunded): kept in the transaction that changes them.
    live_tickets    INTEGER NOT NULL DEFAULT 0,
    -- The last box-office receipt number (taken in the sale's transaction: gap-free per event).
    receipts_issued INTEGER NOT NULL DEFAULT 0,
    CHECK (live_tickets >= 0 AND live_tickets <= capacity)
);

CREATE TABLE type_counters (
    type_id      BLOB PRIMARY KEY NOT NULL REFERENCES ticket_types (id) ON DELETE CASCADE,
    event_id     BLOB NOT NULL,
    -- The type's quota, copied here so a sale checks it on the row it updates.
    quota        INTEGER NOT NULL,
    live_tickets INTEGER NOT NULL DEFAULT 0,
    CHECK (live_tickets >= 0 AND live_tickets <= quota)
);

INSERT INTO event_counters (event_id, capacity, live_tickets, receipts_issued)
    SELECT id, capacity, live_tickets, receipts_issued FROM events;
INSERT INTO type_counters (type_id, event_id, quota, live_tickets)
    SELECT id, event_id, quota, live_tickets FROM ticket_types;

-- SQLite drops no column a CHECK constraint names without rebuilding the table, which every other
-- table references: the old live counts stay, at zero (their CHECKs then always hold), and nothing
-- reads or writes them again.
UPDATE events SET live_tickets = 0;
UPDATE ticket_types SET live_tickets = 0;
ALTER TABLE events DROP COLUMN receipts_issued;

-- The job claim reads the due jobs of the kinds it runs, and only those: every purchase queues a
-- notification (sent elsewhere, or later) and a hold's end (due minutes later), which a claim
-- ordered by priority first read and skipped, more of them at every claim.
DROP INDEX jobs_queued;
CREATE INDEX jobs_due ON jobs (kind, run_at) WHERE status = 'queued';
