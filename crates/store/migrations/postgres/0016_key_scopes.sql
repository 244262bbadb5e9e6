-- What a tenant secret key may do beyond everyday administration: scope names separated
-- by spaces (`mfa:admin`). Every key created before scopes existed gets none, so it keeps
-- all it could do except the destructive MFA operations, which need `mfa:admin` given
-- explicitly (issue 13).
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
