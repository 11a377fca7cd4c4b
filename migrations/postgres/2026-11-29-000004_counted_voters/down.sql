ALTER TABLE sessions DROP COLUMN paper_forms;
ALTER TABLE sessions DROP COLUMN expected_voters;
