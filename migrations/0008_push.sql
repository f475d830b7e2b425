-- Push (R-PUSH): devices, and a durable push outbox of one row per device per notification.
CREATE TABLE devices (
    id          INTEGER PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    platform    TEXT NOT NULL CHECK (platform IN ('apns', 'fcm')),
    token       TEXT NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (platform, token)
);
CREATE INDEX devices_agent ON devices(agent_id);

CREATE TABLE pushes (
    id              INTEGER PRIMARY KEY,
    device_id       INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    notification_id INTEGER NOT NULL REFERENCES notifications(id),
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX pushes_due ON pushes(next_attempt_at, id) WHERE status = 'queued';

-- What the sandbox push provider "pushed" (no APNs or FCM configured).
CREATE TABLE sandbox_pushes (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    token       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
