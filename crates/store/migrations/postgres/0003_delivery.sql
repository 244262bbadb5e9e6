-- Codes sent by SMS and email, the durable outbox that delivers them, send counters for
-- rate limits, delivery statistics, and per-tenant provider configurations (sealed).

ALTER TABLE factors ADD COLUMN destination TEXT;

CREATE TABLE otp_codes (
    id           TEXT PRIMARY KEY,
    factor_id    TEXT NOT NULL REFERENCES factors (id) ON DELETE CASCADE,
    challenge_id TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX otp_codes_factor ON otp_codes (factor_id, challenge_id);

CREATE TABLE outbox (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    factor_id           TEXT NOT NULL,
    channel             TEXT NOT NULL,
    destination         TEXT NOT NULL,
    payload_sealed      TEXT NOT NULL,
    status              TEXT NOT NULL,
    attempts            BIGINT NOT NULL,
    next_attempt_at     BIGINT NOT NULL,
    locked_until        BIGINT,
    expires_at          BIGINT NOT NULL,
    last_error          TEXT,
    provider            TEXT,
    provider_message_id TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_factor ON outbox (factor_id, created_at);

CREATE TABLE send_counters (
    tenant_id    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    subject      TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope, subject, window_start)
);

CREATE TABLE delivery_stats (
    tenant_id TEXT NOT NULL,
    metric    TEXT NOT NULL,
    label     TEXT NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, metric, label)
);

CREATE TABLE tenant_providers (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    channel       TEXT NOT NULL,
    config_sealed TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE cooldowns (
    tenant_id TEXT NOT NULL,
    subject   TEXT NOT NULL,
    until_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);
