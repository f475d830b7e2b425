-- Foundation: teams, agents, sessions, contacts with their phones and tags, full-text search.
-- Timestamps are milliseconds since the Unix epoch (UTC).

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE agents (
    id                      INTEGER PRIMARY KEY,
    email                   TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name                    TEXT NOT NULL,
    password_hash           TEXT NOT NULL,
    role                    TEXT NOT NULL CHECK (role IN ('agent', 'admin')),
    team_id                 INTEGER REFERENCES teams(id),
    country                 TEXT NOT NULL,
    time_zone               TEXT NOT NULL,
    sending_number          TEXT UNIQUE,
    -- NULL: the configured default ([defaults] in the config)
    daily_unique_recipients INTEGER,
    daily_segments          INTEGER,
    monthly_credits         INTEGER,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX agents_team ON agents(team_id);

-- Bearer tokens, stored only as SHA-256 of the token.
CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_agent ON sessions(agent_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    first_name  TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL DEFAULT '',
    email       TEXT,
    street      TEXT,
    city        TEXT,
    state       TEXT,
    zip         TEXT,
    country     TEXT,
    time_zone   TEXT,
    source      TEXT NOT NULL CHECK (source IN ('manual', 'import', 'inbound_text')),
    -- custom fields: a JSON object of strings
    fields      TEXT NOT NULL DEFAULT '{}',
    -- lower-cased "last first email", the list order
    sort_key    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX contacts_agent_sort ON contacts(agent_id, sort_key, id);
CREATE INDEX contacts_agent_email ON contacts(agent_id, email COLLATE NOCASE);

CREATE TABLE contact_phones (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    agent_id    INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    number      TEXT NOT NULL,      -- as entered
    label       TEXT NOT NULL CHECK (label IN ('mobile', 'home', 'work', 'other')),
    e164        TEXT,               -- NULL when it does not parse at all
    extension   TEXT,
    valid       INTEGER NOT NULL    -- libphonenumber's verdict
);
CREATE INDEX contact_phones_contact ON contact_phones(contact_id, position);
CREATE INDEX contact_phones_agent_e164 ON contact_phones(agent_id, e164);

CREATE TABLE contact_tags (
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    agent_id    INTEGER NOT NULL,
    tag         TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX contact_tags_agent_tag ON contact_tags(agent_id, tag, contact_id);

-- Name and email search: word prefixes, accents folded.
CREATE VIRTUAL TABLE contacts_fts USING fts5(
    first_name, last_name, email,
    content = 'contacts', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts(rowid, first_name, last_name, email)
    VALUES (new.id, new.first_name, new.last_name, new.email);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, first_name, last_name, email)
    VALUES ('delete', old.id, old.first_name, old.last_name, old.email);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF first_name, last_name, email ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, first_name, last_name, email)
    VALUES ('delete', old.id, old.first_name, old.last_name, old.email);
    INSERT INTO contacts_fts(rowid, first_name, last_name, email)
    VALUES (new.id, new.first_name, new.last_name, new.email);
END;
