-- Migration 000010 dropped the index on ratings (subject_id) to make ballots cheaper, but a
-- foreign key without an index on its referencing column turns every deletion of a session
-- subject into a scan of all ratings (the key's check). A rating's subject is checked when
-- its ballot is cast (it must be one of the session's subjects), and subjects can be
-- deleted only while their session is scheduled, before any ballot: the key adds nothing.
ALTER TABLE ratings DROP CONSTRAINT IF EXISTS ratings_subject_id_fkey;
