-- Email verification and password reset: when a user's address was proven, and the links
-- (and codes) emailed for either purpose. A link is stored only as keyed hashes: of its
-- token (the key a link is found by), of its code (bound to the account), and of the
-- address it went to, so a link for an address the account no longer has stops working.
-- Messages in the outbox may now belong to no factor (a link's email): SQLite cannot drop
-- a NOT NULL constraint, so the table is rebuilt with its rows (nothing references it).

ALTER TABLE users ADD COLUMN email_verified_at INTEGER;

CREATE TABLE email_links (
    token_hash  TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    -- verify_email | reset_password
    purpose     TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    email_hash  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    -- Set once, by the one conditional write that spends the link (or by a later link of
    -- the same purpose, or a completed reset, which end the others).
    consumed_at INTEGER
);
CREATE INDEX email_links_user ON email_links (user_id, purpose);
CREATE INDEX email_links_expiry ON email_links (tenant_id, expires_at);

CREATE TABLE outbox_0009 (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    factor_id           TEXT,
    channel             TEXT NOT NULL,
    destination_sealed  TEXT NOT NULL,
    payload_sealed      TEXT NOT NULL,
    status              TEXT NOT NULL,
    attempts            INTEGER NOT NULL,
    next_attempt_at     INTEGER NOT NULL,
    locked_until        INTEGER,
    expires_at          INTEGER NOT NULL,
    last_error          TEXT,
    provider            TEXT,
    provider_message_id TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
INSERT INTO outbox_0009 (id, tenant_id, user_id, factor_id, channel, destination_sealed, payload_sealed,
    status, attempts, next_attempt_at, locked_until, expires_at, last_error, provider, provider_message_id,
    created_at, updated_at)
SELECT id, tenant_id, user_id, factor_id, channel, destination_sealed, payload_sealed, status, attempts,
    next_attempt_at, locked_until, expires_at, last_error, provider, provider_message_id, created_at, updated_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_0009 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_factor ON outbox (factor_id, created_at);
