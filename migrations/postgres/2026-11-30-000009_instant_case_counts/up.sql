-- Bad-review cases counted as ratings are: one row per service point, day opened, status,
-- due day (the follow-up's while awaiting it, else the resolution's) and whether it was
-- resolved on time. Kept by every step of a case, so monthly figures and rankings read a
-- few rows per point and day instead of every case of the month.
CREATE TABLE instant_case_counts (
    point_id BIGINT NOT NULL REFERENCES service_points (id),
    opened_on DATE NOT NULL,
    status TEXT NOT NULL,
    due_on DATE NOT NULL,
    on_time BOOLEAN NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    cases BIGINT NOT NULL,
    PRIMARY KEY (point_id, opened_on, status, due_on, on_time)
);
CREATE INDEX instant_case_counts_org_day ON instant_case_counts (org_id, opened_on);
INSERT INTO instant_case_counts (point_id, opened_on, status, due_on, on_time, org_id, cases)
SELECT point_id, opened_on, status,
       CASE WHEN status = 'awaiting_follow_up' THEN COALESCE(follow_up_due_on, '9999-12-31')
            ELSE resolve_due_on END,
       (resolved_on IS NOT NULL AND resolved_on <= resolve_due_on),
       org_id, COUNT(*)
FROM instant_cases
GROUP BY point_id, opened_on, status,
       CASE WHEN status = 'awaiting_follow_up' THEN COALESCE(follow_up_due_on, '9999-12-31')
            ELSE resolve_due_on END,
       (resolved_on IS NOT NULL AND resolved_on <= resolve_due_on),
       org_id;
