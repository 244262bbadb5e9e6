-- Signed webhooks (docs/events.md): the endpoints a tenant registers, the event types each
-- subscribes to, and one delivery row per (event, endpoint), written in the transaction that
-- writes the audit event, so an event is never lost to a crash between the two.

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    description   TEXT,
    -- 1: every event type; 0: those listed in webhook_events.
    all_events    BIGINT NOT NULL,
    enabled       BIGINT NOT NULL,
    -- The signing secret (`whsec_…`), sealed with the master keyring and bound to this row.
    secret_sealed TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, id);

CREATE TABLE webhook_events (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    PRIMARY KEY (webhook_id, event)
);

CREATE TABLE webhook_deliveries (
    -- `msg_` + the event's ULID + the endpoint's ULID: the Standard Webhooks message id,
    -- the same on every retry and redelivery.
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    -- No foreign key: an event written while its endpoint is being removed must not fail
    -- (a sign-in's audit record fans out here). Removing an endpoint removes its deliveries;
    -- one that slips in meanwhile has no endpoint to join and is never claimed.
    webhook_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    -- pending, sending, delivered, failed
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    locked_until     BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
