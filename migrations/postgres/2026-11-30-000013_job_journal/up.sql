-- What each committed slice of a sliced import wrote, so that a job that fails (or that a
-- restart interrupts) can take back every slice before it: on SQLite a large import is
-- written in short transactions, letting ballots take the one write lock between them.
-- A finished job's entries are deleted in the transaction that records it done.
CREATE TABLE job_journal (
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    slice INTEGER NOT NULL,
    -- JSON: the id ranges the slice inserted and the rows it changed, as they were.
    undo TEXT NOT NULL,
    PRIMARY KEY (job_id, slice)
);
