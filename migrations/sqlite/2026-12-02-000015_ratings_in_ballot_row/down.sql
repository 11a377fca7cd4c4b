-- The ratings are unpacked before the ballots' table is rebuilt, and their table (which
-- references it) is created after.
CREATE TABLE ratings_unpacked (
    ballot_id TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    criterion_id BIGINT NOT NULL,
    level TEXT NOT NULL
);
INSERT INTO ratings_unpacked (ballot_id, subject_id, criterion_id, level)
    SELECT b.id, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'),
        json_extract(r.value, '$[2]')
    FROM ballots AS b, json_each(b.ratings) AS r;
CREATE TABLE ballots_without_ratings (
    id TEXT PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    category TEXT NOT NULL,
    paper BOOLEAN NOT NULL,
    cast_on DATE NOT NULL
) WITHOUT ROWID;
INSERT INTO ballots_without_ratings (id, session_id, category, paper, cast_on)
    SELECT id, session_id, category, paper, cast_on FROM ballots;
DROP TABLE ballots;
ALTER TABLE ballots_without_ratings RENAME TO ballots;
CREATE INDEX ballots_session ON ballots (session_id);
CREATE TABLE ratings (
    ballot_id TEXT NOT NULL REFERENCES ballots (id),
    subject_id BIGINT NOT NULL,
    criterion_id BIGINT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (ballot_id, subject_id, criterion_id)
) WITHOUT ROWID;
INSERT INTO ratings (ballot_id, subject_id, criterion_id, level)
    SELECT ballot_id, subject_id, criterion_id, level FROM ratings_unpacked;
DROP TABLE ratings_unpacked;
