-- Where a tenant's OpenID Connect issuer and hosted pages live besides the default tenant's
-- root: a path segment (`/t/{slug}`) and, where configured, a host name of its own. Each is
-- unique across tenants; NULL means none.
ALTER TABLE tenants ADD COLUMN slug TEXT;
ALTER TABLE tenants ADD COLUMN host TEXT;
CREATE UNIQUE INDEX tenants_slug ON tenants (slug);
CREATE UNIQUE INDEX tenants_host ON tenants (host);
