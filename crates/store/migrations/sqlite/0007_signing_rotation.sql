-- Signing keys of several algorithms (RS256, ES256, EdDSA: ID tokens; EdDSA also access
-- tokens) and their rotation: a new key is published before it signs, and an old one stays
-- published until every token it signed has expired.
--
-- signs_from:          when the key may start signing; a rotated-in key is published (in
--                      the JWKS) from created_at but signs only from here. The signer of an
--                      algorithm is its most recently created key whose signs_from has passed.
-- retired_at (0001):   never set until now; from now on, the time from which the key is no
--                      longer published (signs and verifies nothing). It may lie in the
--                      future: a scheduled retirement. NULL: published indefinitely.
-- first_of_algorithm:  the algorithm, on the first key of each algorithm only. Unique, so
--                      replicas starting together on an empty database store one first key
--                      per algorithm (the others' inserts do nothing).
ALTER TABLE signing_keys ADD COLUMN signs_from BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET signs_from = created_at;
ALTER TABLE signing_keys ADD COLUMN first_of_algorithm TEXT;
CREATE UNIQUE INDEX signing_keys_first_of_algorithm ON signing_keys (first_of_algorithm);
