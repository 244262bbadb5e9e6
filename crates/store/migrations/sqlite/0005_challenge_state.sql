-- Per-challenge ceremony state (WebAuthn's challenge and options), sealed and bound to the
-- challenge row, so that any replica can finish a ceremony another one began.

ALTER TABLE challenges ADD COLUMN state_sealed TEXT;
