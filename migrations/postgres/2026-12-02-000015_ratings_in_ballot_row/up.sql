-- A ballot's ratings move into its own row, as a JSON array of [subject_id, criterion_id,
-- level] sorted by subject and criterion: one row to write per ballot instead of one per
-- rating (31 for a branch of 8 members), one index entry instead of 32. Nothing read the
-- ratings but the tally at close, which reads a session's ballots anyway. The column is
-- text, not jsonb: the server writes and reads it whole, and never queries inside it.
ALTER TABLE ballots ADD COLUMN ratings TEXT;
UPDATE ballots AS b SET ratings = COALESCE((
    SELECT json_agg(json_build_array(r.subject_id, r.criterion_id, r.level)
                    ORDER BY r.subject_id, r.criterion_id)::text
    FROM ratings AS r WHERE r.ballot_id = b.id
), '[]');
ALTER TABLE ballots ALTER COLUMN ratings SET NOT NULL;
DROP TABLE ratings;
