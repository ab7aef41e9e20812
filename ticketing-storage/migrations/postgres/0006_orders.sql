-- Selling (issue 15): orders with their held tickets, the price each ticket was sold at, and
-- every payment webhook delivery with its outcome.

-- The most tickets one order may hold, and the last box-office receipt number (taken in the
-- sale's transaction, so receipts are gap-free per event).
ALTER TABLE events ADD COLUMN max_tickets_per_order BIGINT NOT NULL DEFAULT 10;
ALTER TABLE events ADD COLUMN receipts_issued BIGINT NOT NULL DEFAULT 0;

-- An order's whole value is `body` (JSON, read back through the core's checks); the other
-- columns are what is looked up or filtered on, written with it.
CREATE TABLE orders (
    id              UUID PRIMARY KEY,
    event_id        UUID NOT NULL REFERENCES events (id),
    status          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    currency        TEXT NOT NULL,
    token_hash      BYTEA NOT NULL UNIQUE,
    idempotency_key TEXT,
    provider        TEXT,
    reference       TEXT,
    receipt         BIGINT,
    refunded_minor  BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    hold_expires_at BIGINT NOT NULL,
    body            TEXT NOT NULL
);
CREATE UNIQUE INDEX orders_by_key ON orders (event_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX orders_by_receipt ON orders (event_id, receipt) WHERE receipt IS NOT NULL;
CREATE INDEX orders_by_event ON orders (event_id, created_at);
CREATE INDEX orders_by_reference ON orders (provider, reference) WHERE reference IS NOT NULL;

-- Each ticket sold, with the price it was sold at (minor units of its order's currency).
CREATE TABLE order_tickets (
    ticket_id   UUID PRIMARY KEY REFERENCES tickets (id),
    order_id    UUID NOT NULL REFERENCES orders (id),
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0)
);
CREATE INDEX order_tickets_by_order ON order_tickets (order_id);

-- Every payment webhook delivery, once per provider and provider event id.
CREATE TABLE payment_deliveries (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider          TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    event_id          UUID,
    order_id          UUID,
    outcome           TEXT NOT NULL,
    received_at       BIGINT NOT NULL,
    body              TEXT NOT NULL,
    UNIQUE (provider, provider_event_id)
);
CREATE INDEX payment_deliveries_by_event ON payment_deliveries (event_id, seq);

-- Refunds, each whole as JSON (`body`), by order.
CREATE TABLE refunds (
    id       UUID PRIMARY KEY,
    order_id UUID NOT NULL REFERENCES orders (id),
    event_id UUID NOT NULL,
    status   TEXT NOT NULL,
    at       BIGINT NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX refunds_by_order ON refunds (order_id, at);
