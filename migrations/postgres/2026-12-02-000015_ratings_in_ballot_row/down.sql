CREATE TABLE ratings (
    ballot_id TEXT NOT NULL REFERENCES ballots (id),
    subject_id BIGINT NOT NULL,
    criterion_id BIGINT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (ballot_id, subject_id, criterion_id)
);
INSERT INTO ratings (ballot_id, subject_id, criterion_id, level)
    SELECT b.id, (r.value ->> 0)::bigint, (r.value ->> 1)::bigint, r.value ->> 2
    FROM ballots AS b, json_array_elements(b.ratings::json) AS r;
ALTER TABLE ballots DROP COLUMN ratings;
