-- Remembered devices (latchkey_core::devices): a device token, stored as a keyed hash bound
-- to its user, stands in for the second factor at that user's later password sign-ins until
-- it expires or is revoked. `aal` is what the verification that remembered it reached.
-- Revoked and expired rows of a user are removed when that user remembers another device.

CREATE TABLE remembered_devices (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    name         TEXT,
    aal          TEXT NOT NULL,
    created_ip   TEXT,
    last_ip      TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX remembered_devices_token ON remembered_devices (token_hash);
CREATE INDEX remembered_devices_user ON remembered_devices (tenant_id, user_id);
