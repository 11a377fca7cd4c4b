ALTER TABLE campaigns DROP COLUMN commendation_share;
DROP TABLE subject_tallies;
DROP TABLE category_tallies;
DROP TABLE tallies;
