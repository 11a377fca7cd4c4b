ALTER TABLE ratings ADD CONSTRAINT ratings_subject_id_fkey
    FOREIGN KEY (subject_id) REFERENCES session_subjects (id);
