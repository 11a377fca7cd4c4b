-- Counted voters (issue 8): how many are expected (应到人数) and how many paper forms are
-- handed out; typing in more paper ballots than that is refused.
ALTER TABLE sessions ADD COLUMN expected_voters INTEGER;
ALTER TABLE sessions ADD COLUMN paper_forms INTEGER;
