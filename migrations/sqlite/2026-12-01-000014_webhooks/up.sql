-- Webhooks (Standard Webhooks 1.0): subscriptions, the transactional outbox, the delivery
-- queue and the log of every attempt.
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The subtree whose events the subscription receives.
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    url TEXT NOT NULL,
    -- Event types, space separated.
    events TEXT NOT NULL,
    -- whsec_…: kept to sign; shown only when created and rotated.
    secret TEXT NOT NULL,
    -- After a rotation the previous secret signs beside the new one until this time.
    previous_secret TEXT,
    previous_secret_until TIMESTAMP,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    -- Since when every attempt has failed (cleared by a success): past 3 days, disabled.
    failing_since TIMESTAMP,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhooks_org ON webhooks (org_id);

-- The outbox: written in the transaction of the change it tells about.
CREATE TABLE webhook_events (
    -- msg_…: the webhook-id header, the same on every attempt and redelivery.
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    org_id BIGINT NOT NULL,
    -- What the event is about (session:12): deliveries of one resource keep their order.
    resource TEXT NOT NULL,
    -- Events produced by the clock (overdue, missing) carry a key that makes them once only.
    once_key TEXT UNIQUE,
    -- The JSON body sent, exactly as signed.
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- One row per (subscription, event) to deliver.
CREATE TABLE webhook_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES webhook_events (id),
    resource TEXT NOT NULL,
    -- pending, delivered, failed (gave up after about 3 days)
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    -- When it is due; while a dispatcher sends it, the end of its lease.
    next_attempt_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_messages_order ON webhook_messages (webhook_id, resource, id) WHERE state = 'pending';

-- Every attempt, for the subscriber's administrators to read.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_by_message ON webhook_deliveries (message_id);
