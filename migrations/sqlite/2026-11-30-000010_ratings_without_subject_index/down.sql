CREATE INDEX ratings_subject ON ratings (subject_id);
