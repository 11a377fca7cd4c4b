-- A subject's ratings are only ever read through their session's ballots (by ballot id, the
-- key's first column), and session subjects are never deleted, so nothing reads this index:
-- it cost every ballot about ten more index pages to write, one per rated subject.
DROP INDEX ratings_subject;
