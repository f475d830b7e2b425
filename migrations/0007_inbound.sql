-- Replies (R-IN): inbound texts on the contact's record, and one notification per reply.
CREATE TABLE inbound_messages (
    id          INTEGER PRIMARY KEY,
    twilio_sid  TEXT NOT NULL UNIQUE,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    contact_id  INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    sender      TEXT NOT NULL,              -- the contact's number (From)
    recipient   TEXT NOT NULL,              -- the agent's number (To)
    body        TEXT NOT NULL,
    media       TEXT NOT NULL DEFAULT '[]', -- [{url, content_type}]
    geo         TEXT NOT NULL DEFAULT '{}', -- FromCity, FromState, FromZip, FromCountry
    intent      TEXT,                       -- opt_out, opt_in, help
    read_at     INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX inbound_contact ON inbound_messages(contact_id, created_at);
CREATE INDEX inbound_unread ON inbound_messages(agent_id, contact_id) WHERE read_at IS NULL;

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    contact_id  INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    message_id  INTEGER NOT NULL REFERENCES inbound_messages(id),
    title       TEXT NOT NULL,
    preview     TEXT NOT NULL,
    read_at     INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX notifications_agent ON notifications(agent_id, id);
