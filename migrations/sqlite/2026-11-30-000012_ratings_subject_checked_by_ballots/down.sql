CREATE TABLE ratings_rebuilt (
    ballot_id TEXT NOT NULL REFERENCES ballots (id),
    subject_id BIGINT NOT NULL REFERENCES session_subjects (id),
    criterion_id BIGINT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (ballot_id, subject_id, criterion_id)
) WITHOUT ROWID;
INSERT INTO ratings_rebuilt (ballot_id, subject_id, criterion_id, level)
    SELECT ballot_id, subject_id, criterion_id, level FROM ratings;
DROP TABLE ratings;
ALTER TABLE ratings_rebuilt RENAME TO ratings;
