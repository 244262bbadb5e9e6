-- Fixes from the outside review (issue 9): phone numbers and code destinations sealed at
-- rest with a keyed hash beside the user's phone for look-ups; which session or challenge
-- started a pending enrollment (pending enrollments of other sessions are dropped when the
-- first factor becomes active); each TOTP factor's hash algorithm; idempotency keys.
-- The columns keep their rows: existing plaintext values are sealed once at start-up.

ALTER TABLE users RENAME COLUMN phone_number TO phone_sealed;
ALTER TABLE users ADD COLUMN phone_hash TEXT;
ALTER TABLE factors RENAME COLUMN destination TO destination_sealed;
ALTER TABLE factors ADD COLUMN enrolled_by TEXT;
ALTER TABLE factors ADD COLUMN algorithm TEXT;
ALTER TABLE outbox RENAME COLUMN destination TO destination_sealed;

CREATE TABLE idempotency_keys (
    tenant_id       TEXT NOT NULL,
    scope           TEXT NOT NULL,
    key_hash        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status          INTEGER,
    response_sealed TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope, key_hash)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
