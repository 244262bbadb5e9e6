-- The factor a user prefers to be asked for at sign-in (nauth-toolkit's "preferred
-- device"): the nauth login sends its code there, and every surface shows it. Only an id;
-- a removed factor leaves a pointer that names nothing, which reads as no preference.
ALTER TABLE users ADD COLUMN preferred_factor_id TEXT;
