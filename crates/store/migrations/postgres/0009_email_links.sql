-- Email verification and password reset: when a user's address was proven, and the links
-- (and codes) emailed for either purpose. A link is stored only as keyed hashes: of its
-- token (the key a link is found by), of its code (bound to the account), and of the
-- address it went to, so a link for an address the account no longer has stops working.
-- Messages in the outbox may now belong to no factor (a link's email).

ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

CREATE TABLE email_links (
    token_hash  TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    -- verify_email | reset_password
    purpose     TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    email_hash  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- Set once, by the one conditional write that spends the link (or by a later link of
    -- the same purpose, or a completed reset, which end the others).
    consumed_at BIGINT
);
CREATE INDEX email_links_user ON email_links (user_id, purpose);
CREATE INDEX email_links_expiry ON email_links (tenant_id, expires_at);

ALTER TABLE outbox ALTER COLUMN factor_id DROP NOT NULL;
