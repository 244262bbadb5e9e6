-- Applications: the OAuth 2.0 / OpenID Connect clients of a tenant. A confidential client's
-- secret is kept only as its keyed hash (HMAC under the server pepper, bound to the
-- application id); lists and settings are JSON text, settings with every field defaulted so
-- a later setting needs no migration.

CREATE TABLE applications (
    id                        TEXT PRIMARY KEY,
    tenant_id                 TEXT NOT NULL REFERENCES tenants (id),
    name                      TEXT NOT NULL,
    -- public | confidential; never changes.
    client_type               TEXT NOT NULL,
    secret_hash               TEXT,
    -- The secret's first characters, to tell secrets apart after a rotation.
    secret_prefix             TEXT,
    -- JSON arrays of strings, each URI exactly as registered (matched exactly).
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    settings                  TEXT NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);
CREATE INDEX applications_tenant ON applications (tenant_id, id);
