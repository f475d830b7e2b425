-- Plans (R-PLAN), the team privacy notice (R-TEAM) and scheduled sends: everything that happens later.
CREATE TABLE plans (
    id            INTEGER PRIMARY KEY,
    agent_id      INTEGER NOT NULL REFERENCES agents(id),
    name          TEXT NOT NULL,
    steps         TEXT NOT NULL,               -- JSON: [{day_offset, time_of_day, body | template_script, media_ids}]
    stop_on_reply INTEGER NOT NULL DEFAULT 1,
    paused        INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX plans_agent ON plans(agent_id, id);

CREATE TABLE enrollments (
    id          INTEGER PRIMARY KEY,
    plan_id     INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    state       TEXT NOT NULL CHECK (state IN ('active', 'completed', 'stopped')),
    step        INTEGER NOT NULL DEFAULT 0,    -- index of the next step
    due_at      INTEGER,                       -- when the next step goes (ms); NULL unless active
    waiting     TEXT,                          -- why the next step waits past its time
    reason      TEXT,                          -- why it stopped, or what happened to the last step
    time_zone   TEXT NOT NULL,                 -- the recipient's zone, resolved at enrollment
    zone_source TEXT NOT NULL,                 -- contact, state, zip, area_code, agent
    enrolled_on TEXT NOT NULL,                 -- day 0, a civil date in that zone
    sent        INTEGER NOT NULL DEFAULT 0,    -- steps sent
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX enrollments_live ON enrollments(plan_id, contact_id) WHERE state = 'active';
CREATE INDEX enrollments_due ON enrollments(due_at, id) WHERE state = 'active';
CREATE INDEX enrollments_contact ON enrollments(contact_id) WHERE state = 'active';
CREATE INDEX enrollments_plan ON enrollments(plan_id, id);

-- One-off jobs for later: the next-day privacy text, scheduled sends.
CREATE TABLE scheduled (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('privacy_text', 'send')),
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    contact_id  INTEGER,
    number      TEXT,
    request     TEXT,                          -- a scheduled send: its request (JSON)
    due_at      INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done', 'skipped', 'cancelled')),
    reason      TEXT,
    batch_id    TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX scheduled_due ON scheduled(due_at, id) WHERE state = 'pending';

-- Who got the team notice from whom (R-TEAM-2: once per agent and number).
CREATE TABLE team_notices (
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    number      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (agent_id, number)
) WITHOUT ROWID;
-- Numbers an agent texted before this table existed have had their first text.
INSERT OR IGNORE INTO team_notices (agent_id, number, created_at)
    SELECT agent_id, recipient, min(created_at) FROM messages GROUP BY agent_id, recipient;

-- Texts from one sender to one number go out in the order they were queued (the team notice
-- before the text it precedes): the dispatcher looks for an earlier one still pending.
CREATE INDEX messages_pending_to ON messages(recipient, id) WHERE status IN ('queued', 'sending');

-- Automated texts keep to quiet hours when they go out, not only when queued (R-QH-1): past
-- `not_after` (the window's close at the recipient's place) a text waits for `reopens_at`.
ALTER TABLE messages ADD COLUMN not_after INTEGER;
ALTER TABLE messages ADD COLUMN reopens_at INTEGER;
