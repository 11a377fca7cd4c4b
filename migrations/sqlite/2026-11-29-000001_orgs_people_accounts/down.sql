DROP TABLE audit_events;
DROP TABLE refresh_tokens;
DROP TABLE grants;
DROP TABLE users;
DROP TABLE memberships;
DROP TABLE people;
DROP TABLE orgs;
