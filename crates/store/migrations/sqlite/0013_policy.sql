-- The MFA policy engine's facts: organizations and their members, roles and their
-- assignments (in the tenant, or within an organization: '' is none), and the rules that
-- organizations, roles, applications and users carry (the tenant's own rule lives in its
-- settings, the server's in its configuration). A rule is JSON (`latchkey_core::policy::
-- engine::Rule`); a user's rule may carry an exemption until a time, with its reason.

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX organizations_name ON organizations (tenant_id, name);

CREATE TABLE organization_members (
    organization_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user ON organization_members (tenant_id, user_id);

CREATE TABLE roles (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_name ON roles (tenant_id, name);

CREATE TABLE role_assignments (
    role_id         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (role_id, user_id, organization_id)
);
CREATE INDEX role_assignments_user ON role_assignments (tenant_id, user_id);

CREATE TABLE mfa_rules (
    tenant_id    TEXT NOT NULL,
    -- organization | role | application | user
    level        TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    rule         TEXT NOT NULL,
    exempt_until BIGINT,
    reason       TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, level, target_id)
);
