-- The organization tree, people, accounts, grants, refresh tokens and the audit log.

CREATE TABLE orgs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id BIGINT REFERENCES orgs (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    window_unit BOOLEAN NOT NULL DEFAULT FALSE,
    external_id TEXT UNIQUE,
    secretary_id BIGINT REFERENCES people (id),
    status TEXT NOT NULL DEFAULT 'active',
    -- Materialized path of ids, '/1/7/42/': a subtree is a prefix range (BINARY collation).
    path TEXT NOT NULL,
    depth INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX orgs_path ON orgs (path);
CREATE INDEX orgs_parent ON orgs (parent_id);

CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    member_type TEXT NOT NULL,
    position TEXT,
    joined_on DATE,
    external_id TEXT UNIQUE,
    phone TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX people_org ON people (org_id);

-- Which org a person belonged to, and when: moving a person closes one row and opens another.
CREATE TABLE memberships (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id BIGINT NOT NULL REFERENCES people (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
CREATE INDEX memberships_person ON memberships (person_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    person_id BIGINT REFERENCES people (id),
    -- The org the account belongs to: who may manage it (none: administrators only).
    org_id BIGINT REFERENCES orgs (id),
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- A grant covers its org and the whole subtree; `admin` grants are global (no org).
CREATE TABLE grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    org_id BIGINT REFERENCES orgs (id),
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX grants_user ON grants (user_id);

-- Refresh tokens are stored only as SHA-256 hashes; a family is one login's rotation chain.
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    family TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id BIGINT,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT,
    org_id BIGINT,
    at TIMESTAMP NOT NULL,
    request_id TEXT,
    summary TEXT NOT NULL
);
CREATE INDEX audit_events_org ON audit_events (org_id);
CREATE INDEX audit_events_at ON audit_events (at);
