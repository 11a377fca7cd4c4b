-- Migration 000010 dropped the index on ratings (subject_id) to make ballots cheaper, but a
-- foreign key without an index on its referencing column turns every deletion of a session
-- subject into a scan of all ratings (the key's check). A rating's subject is checked when
-- its ballot is cast (it must be one of the session's subjects), and subjects can be
-- deleted only while their session is scheduled, before any ballot: the key adds nothing.
-- SQLite cannot drop a constraint, so the table is rebuilt without it.
CREATE TABLE ratings_rebuilt (
    ballot_id TEXT NOT NULL REFERENCES ballots (id),
    subject_id BIGINT NOT NULL,
    criterion_id BIGINT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (ballot_id, subject_id, criterion_id)
) WITHOUT ROWID;
INSERT INTO ratings_rebuilt (ballot_id, subject_id, criterion_id, level)
    SELECT ballot_id, subject_id, criterion_id, level FROM ratings;
DROP TABLE ratings;
ALTER TABLE ratings_rebuilt RENAME TO ratings;
