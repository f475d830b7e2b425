-- Stored Rhai scripts (R-SCR-2). Every save is a version; deleting hides a script but keeps its
-- versions, since sends record the version they used.

CREATE TABLE scripts (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL COLLATE NOCASE,
    kind        TEXT NOT NULL CHECK (kind IN ('template', 'filter')),
    description TEXT NOT NULL DEFAULT '',
    version     INTEGER NOT NULL,          -- the current version
    created_by  INTEGER REFERENCES agents(id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE UNIQUE INDEX scripts_live_name ON scripts(name) WHERE deleted_at IS NULL;

CREATE TABLE script_versions (
    script_id   INTEGER NOT NULL REFERENCES scripts(id),
    version     INTEGER NOT NULL,
    source      TEXT NOT NULL,
    description TEXT NOT NULL,
    created_by  INTEGER REFERENCES agents(id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (script_id, version)
) WITHOUT ROWID;
