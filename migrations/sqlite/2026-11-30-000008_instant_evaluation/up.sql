-- Instant evaluation of window units (窗口单位即时评议, 好差评, issue 14): service points, one-time
-- service tickets, ratings kept by day only, bad-review cases, and the working-day calendar.

-- A counter or desk of a window unit. `point_key` is the opaque key in the poster's QR link.
CREATE TABLE service_points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    location TEXT NOT NULL,
    point_key TEXT NOT NULL UNIQUE,
    -- The unticketed open-QR mode: its ratings are counted apart, as unverified.
    open_rating BOOLEAN NOT NULL,
    active BOOLEAN NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX service_points_org ON service_points (org_id);

-- A window unit's own deadlines (defaults apply without a row).
CREATE TABLE instant_settings (
    org_id BIGINT PRIMARY KEY REFERENCES orgs (id),
    resolve_working_days INTEGER NOT NULL,
    ticket_valid_days INTEGER NOT NULL,
    updated_by BIGINT NOT NULL REFERENCES users (id),
    updated_at TIMESTAMP NOT NULL
);

-- One ticket per service, kept as a keyed hash. It names the point only: never the staff
-- member who issued it, never the rating it gave.
CREATE TABLE service_tickets (
    ticket_hash TEXT PRIMARY KEY,
    point_id BIGINT NOT NULL REFERENCES service_points (id),
    -- The point's org, so that a rating is written without reading the point.
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    state TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX service_tickets_point ON service_tickets (point_id, state);

-- A rating: a random id, the point, the day (China Standard Time), no time of day.
CREATE TABLE instant_ratings (
    id TEXT PRIMARY KEY,
    point_id BIGINT NOT NULL REFERENCES service_points (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    rated_on DATE NOT NULL,
    level TEXT NOT NULL,
    verified BOOLEAN NOT NULL,
    comment TEXT,
    -- An appeal upheld: the rating no longer counts.
    excluded BOOLEAN NOT NULL
);
CREATE INDEX instant_ratings_point_day ON instant_ratings (point_id, rated_on);

CREATE TABLE instant_rating_items (
    rating_id TEXT NOT NULL REFERENCES instant_ratings (id),
    criterion_id INTEGER NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (rating_id, criterion_id)
);

-- Counted ratings per point, day, level and mode, kept up to date with every rating, so that
-- figures over months read thousands of rows, not millions.
CREATE TABLE instant_counts (
    point_id BIGINT NOT NULL REFERENCES service_points (id),
    rated_on DATE NOT NULL,
    level TEXT NOT NULL,
    verified BOOLEAN NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    ratings BIGINT NOT NULL,
    PRIMARY KEY (point_id, rated_on, level, verified)
);
CREATE INDEX instant_counts_org_day ON instant_counts (org_id, rated_on);

-- A bad review (不满意 / 非常不满意) handled to the end. Only days: a case keeps no time of the
-- service. `reply_key` (a keyed hash of the ticket, another key than the ticket's own) lets
-- the rater who left a contact read the reply; it cannot be joined to the ticket.
CREATE TABLE instant_cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rating_id TEXT NOT NULL UNIQUE REFERENCES instant_ratings (id),
    point_id BIGINT NOT NULL REFERENCES service_points (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    level TEXT NOT NULL,
    verified BOOLEAN NOT NULL,
    comment TEXT,
    contact TEXT,
    reply_key TEXT UNIQUE,
    status TEXT NOT NULL,
    opened_on DATE NOT NULL,
    follow_up_due_on DATE,
    resolve_due_on DATE NOT NULL,
    follow_up_result TEXT,
    follow_up_note TEXT,
    followed_up_on DATE,
    measures TEXT,
    reply TEXT,
    resolved_on DATE,
    appeal_reason TEXT,
    appealed_on DATE,
    appeal_decision TEXT,
    decision_note TEXT,
    decided_on DATE,
    rectification_id BIGINT REFERENCES rectifications (id),
    updated_at TIMESTAMP
);
CREATE INDEX instant_cases_org ON instant_cases (org_id, status);

-- Working days: weekends are rest days unless listed as worked (调休), weekdays are working
-- days unless listed as holidays. A year is defined once an admin has put it.
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY,
    updated_by BIGINT NOT NULL REFERENCES users (id),
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE calendar_days (
    day DATE PRIMARY KEY,
    working BOOLEAN NOT NULL
);
