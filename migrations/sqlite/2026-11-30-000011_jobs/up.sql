-- Background work (large imports): its state survives a restart, and a job a restart
-- interrupted is marked failed at start-up (its one transaction never committed).
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    rows_done BIGINT NOT NULL DEFAULT 0,
    rows_total BIGINT,
    -- JSON: the import's report when done, its errors when failed.
    result TEXT,
    errors TEXT,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX jobs_created_by ON jobs (created_by, id);
CREATE INDEX jobs_unfinished ON jobs (state) WHERE state NOT IN ('done', 'failed');
