-- Rectification items (整改, issue 11): what an evaluation brought up, its cause, the
-- measures, who answers for it and by when, signed off by a superior org.
CREATE TABLE rectifications (
    id BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    session_id BIGINT REFERENCES sessions (id),
    subject_id BIGINT REFERENCES session_subjects (id),
    -- Copied from the subject: what lists filter by, and whom the item is about.
    subject_type TEXT,
    person_id BIGINT REFERENCES people (id),
    problem TEXT NOT NULL,
    cause TEXT NOT NULL,
    measures TEXT NOT NULL,
    owner_person_id BIGINT REFERENCES people (id),
    due_on DATE NOT NULL,
    status TEXT NOT NULL,
    -- Whether it was ever submitted: from then on the org itself no longer edits the problem.
    submitted_once BOOLEAN NOT NULL DEFAULT FALSE,
    created_by BIGINT REFERENCES users (id),
    verified_by BIGINT REFERENCES users (id),
    verified_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX rectifications_campaign ON rectifications (campaign_id, org_id);
CREATE INDEX rectifications_org ON rectifications (org_id);
CREATE INDEX rectifications_subject ON rectifications (subject_id);

-- The item's history, in order: progress notes and every transition's comment.
CREATE TABLE rectification_notes (
    id BIGSERIAL PRIMARY KEY,
    rectification_id BIGINT NOT NULL REFERENCES rectifications (id),
    kind TEXT NOT NULL,
    note TEXT NOT NULL,
    author_id BIGINT REFERENCES users (id),
    at TIMESTAMP NOT NULL
);
CREATE INDEX rectification_notes_item ON rectification_notes (rectification_id);

-- The ballot opinions an item answers.
CREATE TABLE rectification_opinions (
    rectification_id BIGINT NOT NULL REFERENCES rectifications (id),
    opinion_id TEXT NOT NULL REFERENCES ballot_opinions (id),
    PRIMARY KEY (rectification_id, opinion_id)
);
