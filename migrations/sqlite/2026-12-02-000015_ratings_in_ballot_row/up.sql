-- A ballot's ratings move into its own row, as a JSON array of [subject_id, criterion_id,
-- level] sorted by subject and criterion. Ballots are keyed by a random id, so the rows of
-- one group-commit batch land on pages of their own; with a row per rating every ballot
-- also dirtied one or two leaves of the ratings table, and every dirtied page goes whole
-- into the write-ahead log (bench/sqlite_log_per_batch.py: 1.7 MB of log per batch of 64
-- once the tables are large, against 0.6 MB with the ratings in the ballot's row). Nothing
-- read the ratings but the tally at close, which reads a session's ballots anyway.
CREATE TABLE ballots_with_ratings (
    id TEXT PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    category TEXT NOT NULL,
    paper BOOLEAN NOT NULL,
    cast_on DATE NOT NULL,
    ratings TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO ballots_with_ratings (id, session_id, category, paper, cast_on, ratings)
    SELECT b.id, b.session_id, b.category, b.paper, b.cast_on,
        COALESCE((
            SELECT json_group_array(json_array(r.subject_id, r.criterion_id, r.level))
            FROM (SELECT subject_id, criterion_id, level FROM ratings
                  WHERE ballot_id = b.id ORDER BY subject_id, criterion_id) AS r
        ), '[]')
    FROM ballots AS b;
DROP TABLE ratings;
DROP TABLE ballots;
ALTER TABLE ballots_with_ratings RENAME TO ballots;
CREATE INDEX ballots_session ON ballots (session_id);
