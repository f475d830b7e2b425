-- Uploaded media (R-SND-6): kept in the database (at most 5 MB each) and served at an unguessable
-- URL for Twilio to fetch.
CREATE TABLE media (
    id          TEXT PRIMARY KEY,         -- 128 random bits, URL-safe: the URL is the secret
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    content_type TEXT NOT NULL,
    size        INTEGER NOT NULL,
    filename    TEXT,
    bytes       BLOB NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX media_agent ON media(agent_id, created_at);
