-- Criteria templates, campaigns, sessions and their subjects, voting codes, ballots.
-- Ballot secrecy is in the shape of these tables: see the comments on ballots and ratings.

CREATE TABLE templates (
    id BIGSERIAL PRIMARY KEY,
    owner_org_id BIGINT REFERENCES orgs (id),
    name TEXT NOT NULL,
    builtin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE template_criteria (
    id BIGSERIAL PRIMARY KEY,
    template_id BIGINT NOT NULL REFERENCES templates (id),
    subject_type TEXT NOT NULL,
    position INTEGER NOT NULL,
    label_zh TEXT NOT NULL,
    label_en TEXT NOT NULL
);
CREATE INDEX template_criteria_template ON template_criteria (template_id);

CREATE TABLE template_levels (
    id BIGSERIAL PRIMARY KEY,
    template_id BIGINT NOT NULL REFERENCES templates (id),
    position INTEGER NOT NULL,
    level TEXT NOT NULL,
    label_zh TEXT NOT NULL,
    label_en TEXT NOT NULL,
    score INTEGER NOT NULL,
    -- Counts toward the satisfaction rate (满意 and 基本满意 in the notice's scale).
    satisfied BOOLEAN NOT NULL
);
CREATE INDEX template_levels_template ON template_levels (template_id);

CREATE TABLE campaigns (
    id BIGSERIAL PRIMARY KEY,
    owner_org_id BIGINT NOT NULL REFERENCES orgs (id),
    title TEXT NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    template_id BIGINT NOT NULL REFERENCES templates (id),
    -- JSON object {domain: template_id} (分类指导).
    domain_templates TEXT NOT NULL DEFAULT '{}',
    min_category_ballots INTEGER NOT NULL,
    low_satisfaction_threshold DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    -- The templates as they were at activation (JSON): later edits never reach a running campaign.
    frozen_templates TEXT,
    -- JSON array of org ids that may see the rankings once published.
    publish_scope TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX campaigns_owner ON campaigns (owner_org_id);

CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    -- The org's domain when the session was scheduled: it picks the template (分类指导)
    -- for the whole session, whatever later happens to the org.
    domain TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    scheduled_at TIMESTAMP NOT NULL,
    location TEXT,
    observer_user_id BIGINT REFERENCES users (id),
    opened_at TIMESTAMP,
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (campaign_id, org_id)
);
CREATE INDEX sessions_org ON sessions (org_id);

CREATE TABLE session_subjects (
    id BIGSERIAL PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    subject_type TEXT NOT NULL,
    org_id BIGINT REFERENCES orgs (id),
    person_id BIGINT REFERENCES people (id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX session_subjects_session ON session_subjects (session_id);

CREATE TABLE voting_code_batches (
    id BIGSERIAL PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    category TEXT NOT NULL,
    count INTEGER NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    voided_at TIMESTAMP
);
CREATE INDEX voting_code_batches_session ON voting_code_batches (session_id);

-- A code is kept only as a keyed hash, with its session, category and state — never the
-- time it was used.
CREATE TABLE voting_codes (
    code_hash TEXT PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    batch_id BIGINT NOT NULL REFERENCES voting_code_batches (id),
    category TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX voting_codes_session ON voting_codes (session_id);

-- A ballot names no code and no voter; its id is random and it carries only the day.
CREATE TABLE ballots (
    id TEXT PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    category TEXT NOT NULL,
    paper BOOLEAN NOT NULL,
    cast_on DATE NOT NULL
);
CREATE INDEX ballots_session ON ballots (session_id);

-- No serial number: the key is the ballot's random id with the rated subject and criterion.
CREATE TABLE ratings (
    ballot_id TEXT NOT NULL REFERENCES ballots (id),
    subject_id BIGINT NOT NULL REFERENCES session_subjects (id),
    criterion_id BIGINT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (ballot_id, subject_id, criterion_id)
);
CREATE INDEX ratings_subject ON ratings (subject_id);

-- Free-text opinions from ballots, stored apart: nothing ties one to its ballot.
CREATE TABLE ballot_opinions (
    id TEXT PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    content TEXT NOT NULL,
    cast_on DATE NOT NULL
);
CREATE INDEX ballot_opinions_session ON ballot_opinions (session_id);

-- The notice's own template (五个好 / 五带头 / 五个强), built in.
INSERT INTO templates (id, owner_org_id, name, builtin, created_at, updated_at)
VALUES (1, NULL, '创先争优群众评议(通知默认)', TRUE, '2011-12-28 00:00:00', '2011-12-28 00:00:00');
INSERT INTO template_criteria (id, template_id, subject_type, position, label_zh, label_en) VALUES
 (1, 1, 'org', 1, '深入开展创先争优活动,切实兑现公开承诺的情况', 'Carrying out the excellence campaign and keeping public commitments'),
 (2, 1, 'org', 2, '推动本单位中心工作和重点任务完成的情况', 'Driving the unit''s central work and key tasks'),
 (3, 1, 'org', 3, '履行工作职责,为民办实事、做好事、解难事情况', 'Doing its duties and practical good work for the people'),
 (4, 1, 'org', 4, '履行管党职责,加强基层组织和党员队伍建设,发挥党组织战斗堡垒作用的情况', 'Managing the Party, building the organization and its members, acting as a bastion'),
 (5, 1, 'secretary', 1, '组织开展创先争优活动情况', 'Organizing the excellence campaign'),
 (6, 1, 'secretary', 2, '履行抓基层党建"第一责任人"职责情况', 'Acting as the first person responsible for Party building'),
 (7, 1, 'secretary', 3, '基层组织建设和党员队伍建设情况', 'Building the organization and its members'),
 (8, 1, 'member', 1, '参加创先争优活动情况', 'Taking part in the excellence campaign'),
 (9, 1, 'member', 2, '立足岗位履行职责、承诺践诺情况', 'Doing the job well and keeping commitments'),
 (10, 1, 'member', 3, '联系和服务群众情况', 'Staying close to and serving the people');
INSERT INTO template_levels (id, template_id, position, level, label_zh, label_en, score, satisfied) VALUES
 (1, 1, 1, 'satisfied', '满意', 'Satisfied', 100, TRUE),
 (2, 1, 2, 'basically_satisfied', '基本满意', 'Basically satisfied', 60, TRUE),
 (3, 1, 3, 'dissatisfied', '不满意', 'Dissatisfied', 0, FALSE);
SELECT setval('templates_id_seq', 1);
SELECT setval('template_criteria_id_seq', 10);
SELECT setval('template_levels_id_seq', 3);
