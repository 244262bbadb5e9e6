-- Adaptive MFA: each user's recent sign-in attempts, what the risk signals compare a new
-- sign-in with (`latchkey_core::policy::risk`). Recorded only while a tenant has adaptive
-- MFA on. `network` is the client's address prefix (IPv4 /24, IPv6 /48), never the full
-- address; `country` and the coarse place (tenths of a degree, about 11 km, and the GeoIP
-- accuracy radius) come from the GeoIP database when one is configured. `outcome` is
-- `success`, `challenged` (a second factor asked for, not yet given: `challenge_id` names
-- it, and it becomes `success` when that factor is proven), `mfa_failed` (a wrong second
-- factor; wrong passwords are the password throttle's count) or `denied`; `score` and
-- `reasons` (comma-separated names) are the risk assessed then.
-- Bounded per user: each insert prunes that user's rows (successes beyond 90 days or the
-- 50 newest, others beyond a day or the 200 newest).

CREATE TABLE signin_history (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    at           BIGINT NOT NULL,
    network      TEXT,
    country      TEXT,
    lat_tenths   BIGINT,
    lon_tenths   BIGINT,
    accuracy_km  BIGINT,
    outcome      TEXT NOT NULL,
    score        BIGINT NOT NULL,
    reasons      TEXT NOT NULL,
    challenge_id TEXT
);
CREATE INDEX signin_history_user ON signin_history (tenant_id, user_id, at);
CREATE INDEX signin_history_challenge ON signin_history (challenge_id);
