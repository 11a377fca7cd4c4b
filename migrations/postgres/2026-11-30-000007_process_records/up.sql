-- The evaluation process on record (issue 12): documents with their versions and files,
-- opinions gathered before and at the meeting, leader comments, commitments, and report
-- requests from a superior org to its direct children.

-- Opinions are no longer only the ballots' own: surveys, visits and the meeting add theirs.
-- Ballot opinions keep no recorder and no category (nothing to tie them to a voter).
ALTER TABLE ballot_opinions RENAME TO opinions;
ALTER TABLE opinions ADD COLUMN source TEXT NOT NULL DEFAULT 'ballot';
ALTER TABLE opinions ADD COLUMN category TEXT;
ALTER TABLE opinions ADD COLUMN recorded_by BIGINT REFERENCES users (id);

-- Self-inspections, duty reports and member summaries: the current text; every version is
-- kept in document_versions.
CREATE TABLE documents (
    id BIGSERIAL PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    kind TEXT NOT NULL,
    -- The member a summary is about, or the secretary who gives a duty report.
    person_id BIGINT REFERENCES people (id),
    -- One self-inspection and one duty report per session, one summary per member.
    slot TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    achievements TEXT NOT NULL,
    shortcomings TEXT NOT NULL,
    measures TEXT NOT NULL,
    version INTEGER NOT NULL,
    author_id BIGINT NOT NULL REFERENCES users (id),
    updated_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (session_id, slot)
);

CREATE TABLE document_versions (
    document_id BIGINT NOT NULL REFERENCES documents (id),
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    achievements TEXT NOT NULL,
    shortcomings TEXT NOT NULL,
    measures TEXT NOT NULL,
    written_by BIGINT NOT NULL REFERENCES users (id),
    written_at TIMESTAMP NOT NULL,
    PRIMARY KEY (document_id, version)
);

CREATE TABLE leader_comments (
    id BIGSERIAL PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    subject_id BIGINT REFERENCES session_subjects (id),
    body TEXT NOT NULL,
    author_id BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX leader_comments_session ON leader_comments (session_id);

CREATE TABLE commitments (
    id BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    person_id BIGINT REFERENCES people (id),
    content TEXT NOT NULL,
    status TEXT NOT NULL,
    evidence TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    checked_by BIGINT REFERENCES users (id),
    checked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX commitments_campaign ON commitments (campaign_id, org_id);

CREATE TABLE report_requests (
    id BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    from_org_id BIGINT NOT NULL REFERENCES orgs (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    due_on DATE NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX report_requests_campaign ON report_requests (campaign_id);

-- A child's report: its current text; earlier texts in report_submission_versions.
CREATE TABLE report_submissions (
    id BIGSERIAL PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES report_requests (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    body TEXT NOT NULL,
    version INTEGER NOT NULL,
    submitted_by BIGINT NOT NULL REFERENCES users (id),
    submitted_at TIMESTAMP NOT NULL,
    UNIQUE (request_id, org_id)
);

CREATE TABLE report_submission_versions (
    submission_id BIGINT NOT NULL REFERENCES report_submissions (id),
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    written_by BIGINT NOT NULL REFERENCES users (id),
    written_at TIMESTAMP NOT NULL,
    PRIMARY KEY (submission_id, version)
);

-- Files (电子文档) of a document or a report, kept in the database with their digest.
CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    document_id BIGINT REFERENCES documents (id),
    submission_id BIGINT REFERENCES report_submissions (id),
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BYTEA NOT NULL,
    uploaded_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    CHECK ((document_id IS NULL) <> (submission_id IS NULL))
);
CREATE INDEX attachments_document ON attachments (document_id);
CREATE INDEX attachments_submission ON attachments (submission_id);
