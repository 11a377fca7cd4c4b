-- Results at scale (issue 10): closing a session stores what its results are computed
-- from, so that results, roll-ups, rankings and exports never read the ratings again.
-- The tallies are recomputable from the ballots (`pingyi retally SESSION_ID`).

-- Ratings per subject × criterion × level: a session's per-criterion counts.
CREATE TABLE tallies (
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    subject_id BIGINT NOT NULL REFERENCES session_subjects (id),
    criterion_id BIGINT NOT NULL,
    level TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (subject_id, criterion_id, level)
);
CREATE INDEX tallies_session ON tallies (session_id);

-- Per subject × participant category: ballots, valid ratings, ratings at a satisfied
-- level, and the sum of the level scores (rate = satisfied / valid, score = points / valid).
CREATE TABLE category_tallies (
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    subject_id BIGINT NOT NULL REFERENCES session_subjects (id),
    category TEXT NOT NULL,
    ballots BIGINT NOT NULL,
    valid BIGINT NOT NULL,
    satisfied BIGINT NOT NULL,
    points BIGINT NOT NULL,
    PRIMARY KEY (subject_id, category)
);
CREATE INDEX category_tallies_session ON category_tallies (session_id);

-- Per subject, pooled over its criteria and categories, with what roll-ups and rankings
-- group and filter by (copied from the session and the subject, which never change once
-- the session is closed). One row for every subject of a closed session, 0 ballots too.
CREATE TABLE subject_tallies (
    subject_id BIGINT PRIMARY KEY REFERENCES session_subjects (id),
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    -- The session's org: the org rated, the one whose secretary is rated, or the one whose
    -- members are rated.
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    subject_type TEXT NOT NULL,
    person_id BIGINT REFERENCES people (id),
    ballots BIGINT NOT NULL,
    valid BIGINT NOT NULL,
    satisfied BIGINT NOT NULL,
    points BIGINT NOT NULL
);
CREATE INDEX subject_tallies_campaign ON subject_tallies (campaign_id, subject_type, org_id);
CREATE INDEX subject_tallies_session ON subject_tallies (session_id);
CREATE INDEX subject_tallies_person ON subject_tallies (person_id);

-- Commendation candidates (评先评优): the top share of a ranking, unless flagged.
ALTER TABLE campaigns ADD COLUMN commendation_share DOUBLE PRECISION NOT NULL DEFAULT 0.1;
-- k is never below 3 (a figure of one or two ballots tells who voted how).
UPDATE campaigns SET min_category_ballots = 3 WHERE min_category_ballots < 3;
