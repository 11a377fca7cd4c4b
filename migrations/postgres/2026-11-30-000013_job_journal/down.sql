DROP TABLE job_journal;
