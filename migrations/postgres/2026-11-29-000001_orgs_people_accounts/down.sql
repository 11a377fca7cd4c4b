DROP TABLE audit_events;
DROP TABLE refresh_tokens;
DROP TABLE grants;
DROP TABLE users;
DROP TABLE memberships;
ALTER TABLE orgs DROP CONSTRAINT orgs_secretary;
DROP TABLE people;
DROP TABLE orgs;
