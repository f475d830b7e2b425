-- The durable outbox (R-SND): one row per recipient, moved only forward by the dispatcher and by
-- Twilio's status callbacks.

CREATE TABLE batches (
    id              TEXT PRIMARY KEY,
    agent_id        INTEGER NOT NULL REFERENCES agents(id),
    quote_id        TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('one_to_one', 'bulk', 'plan')),
    script_id       INTEGER,
    script_version  INTEGER,
    created_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX batches_agent ON batches(agent_id, created_at);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    batch_id        TEXT NOT NULL REFERENCES batches(id),
    agent_id        INTEGER NOT NULL REFERENCES agents(id),
    contact_id      INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    sender          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    body            TEXT NOT NULL,
    media_urls      TEXT NOT NULL DEFAULT '[]',
    kind            TEXT NOT NULL CHECK (kind IN ('sms', 'mms')),
    segments        INTEGER NOT NULL,
    credits         INTEGER NOT NULL,
    -- 0 one-to-one replies, 1 bulk, 2 plans: lower goes first
    priority        INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'canceled')),
    -- Twilio's own last word, kept as written (it has statuses this code may not know)
    twilio_status   TEXT,
    twilio_sid      TEXT UNIQUE,
    error_code      INTEGER,
    error_message   TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- set when an answer was lost: list Twilio's messages before any resend
    reconcile       INTEGER NOT NULL DEFAULT 0,
    sending_since   INTEGER,
    -- the periods the reservation was taken from, for refunds (R-LIM-3)
    usage_day       TEXT NOT NULL,
    usage_month     TEXT NOT NULL,
    counted         INTEGER NOT NULL DEFAULT 1,
    refunded        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX messages_due ON messages(sender, priority, next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX messages_sending ON messages(status) WHERE status = 'sending';
CREATE INDEX messages_batch ON messages(batch_id, status);
CREATE INDEX messages_contact ON messages(contact_id, created_at);

-- Idempotency-Key (R-SND-4): the first answer, given again for the same key and request.
CREATE TABLE idempotency_keys (
    agent_id        INTEGER NOT NULL REFERENCES agents(id),
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status          INTEGER NOT NULL,
    response        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (agent_id, key)
) WITHOUT ROWID;

-- What carriers told us about a number (21610 unsubscribed, 30003-30006 unreachable, landline…).
CREATE TABLE number_flags (
    number          TEXT PRIMARY KEY,
    error_code      INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;

-- What the sandbox provider "sent" (no Twilio account configured).
CREATE TABLE sandbox_messages (
    sid             TEXT PRIMARY KEY,
    sender          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    body            TEXT NOT NULL,
    media_urls      TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) WITHOUT ROWID;
