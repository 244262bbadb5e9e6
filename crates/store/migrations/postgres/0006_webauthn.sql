-- WebAuthn: one credential per factor of kind `webauthn` (the credential itself, with its
-- public key, is sealed in the factor's `secret_sealed`), and the state of passwordless
-- ceremonies, which belong to no user until they finish.

CREATE TABLE webauthn_credentials (
    factor_id          TEXT PRIMARY KEY REFERENCES factors (id),
    tenant_id          TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    -- base64url without padding; one credential belongs to one factor of one user, ever.
    credential_id      TEXT NOT NULL UNIQUE,
    -- Authoritative signature counter: advanced only by a conditional update.
    sign_count         BIGINT NOT NULL,
    backup_eligible    BIGINT NOT NULL,
    backup_state       BIGINT NOT NULL,
    user_verified      BIGINT NOT NULL,
    aaguid             TEXT,
    transports         TEXT,
    clone_suspected_at BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

CREATE TABLE passkey_ceremonies (
    -- Keyed hash of the ceremony's challenge: the answer names its ceremony.
    challenge_hash TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    state_sealed   TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (tenant_id, expires_at);
