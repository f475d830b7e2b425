-- Keeps contacts_search (migration 13) in step with contacts. "rest" is the sort key without its
-- first word: substr after the first space of sort_key || ' '.
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_search(rowid, rest)
    VALUES (new.id, substr(new.sort_key || ' ', instr(new.sort_key || ' ', ' ') + 1));
END;
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
    DELETE FROM contacts_search WHERE rowid = old.id;
END;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF sort_key ON contacts BEGIN
    DELETE FROM contacts_search WHERE rowid = old.id;
    INSERT INTO contacts_search(rowid, rest)
    VALUES (new.id, substr(new.sort_key || ' ', instr(new.sort_key || ' ', ' ') + 1));
END;
