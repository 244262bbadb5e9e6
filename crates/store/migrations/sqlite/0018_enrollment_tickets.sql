-- Enrollment tickets (Auth0's `POST /api/v2/guardian/enrollments/ticket`, `/v1`'s
-- enrollment-ticket route): a single-use link an administrator makes for one user, which
-- opens the hosted sign-in and leads it into enrolling a second factor. Stored only as a
-- keyed hash of its token; spent by one conditional write when the user signs in with it.

CREATE TABLE enrollment_tickets (
    id             TEXT PRIMARY KEY,
    token_hash     TEXT NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id),
    -- The factor kind the user must enroll (totp | sms | webauthn), or any the tenant allows.
    factor_kind    TEXT,
    -- 1: a user who already has a factor may use it to add another.
    allow_multiple INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    -- Set once: by the sign-in that spends it, or by a newer ticket for the same user.
    consumed_at    INTEGER
);
CREATE INDEX enrollment_tickets_user ON enrollment_tickets (user_id);
CREATE INDEX enrollment_tickets_expiry ON enrollment_tickets (tenant_id, expires_at);
