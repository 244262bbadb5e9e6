-- OpenID Connect: sessions issued to an application, and authorization codes.
--
-- A session created at the token endpoint belongs to the application (client_id) it was
-- issued to, came from a browser session (parent_id: signing out there ends it too) and
-- carries the scopes granted. Sessions of the native API and the pages leave these NULL.
ALTER TABLE sessions ADD COLUMN client_id TEXT;
ALTER TABLE sessions ADD COLUMN parent_id TEXT;
ALTER TABLE sessions ADD COLUMN scope TEXT;
CREATE INDEX sessions_parent ON sessions (parent_id);

CREATE TABLE authorization_codes (
    -- Keyed hash of the code; the code itself is never stored.
    code_hash         TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    -- The browser session the user signed in with.
    session_id        TEXT NOT NULL REFERENCES sessions (id),
    redirect_uri      TEXT NOT NULL,
    scope             TEXT NOT NULL,
    nonce             TEXT,
    -- PKCE (RFC 7636), S256 only: base64url(SHA-256(verifier)).
    code_challenge    TEXT,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    -- Set by the one conditional write that redeems the code.
    consumed_at       INTEGER,
    -- The session the redemption created; a second redemption revokes it (RFC 6749 §4.1.2).
    issued_session_id TEXT
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);
