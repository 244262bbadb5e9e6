-- MFA: factors (one row per enrolled authenticator), backup codes, sign-in challenges,
-- and the audit log.

CREATE TABLE factors (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    user_id       TEXT NOT NULL REFERENCES users (id),
    kind          TEXT NOT NULL,
    name          TEXT,
    status        TEXT NOT NULL,
    secret_sealed TEXT,
    last_step     BIGINT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    confirmed_at  BIGINT,
    last_used_at  BIGINT
);
CREATE INDEX factors_user ON factors (user_id);

CREATE TABLE backup_codes (
    factor_id TEXT NOT NULL REFERENCES factors (id),
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (factor_id, code_hash)
);

CREATE TABLE challenges (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    purpose      TEXT NOT NULL,
    amr          TEXT NOT NULL,
    factor_id    TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX challenges_user ON challenges (user_id);

CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    factor_id  TEXT,
    outcome    TEXT NOT NULL,
    ip         TEXT,
    detail     TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
