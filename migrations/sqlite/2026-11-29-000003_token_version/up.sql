-- Bumped on logout-all, password change, disabling and grant changes: access tokens carry
-- the version they were issued under and stop working as soon as it moves on.
ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;
