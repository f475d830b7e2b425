-- The badge of every push is the agent's unread count: kept as a counter by triggers, so a reply
-- reads one row instead of counting (an agent can have thousands of unread notifications).
ALTER TABLE agents ADD COLUMN unread_notifications INTEGER NOT NULL DEFAULT 0;
UPDATE agents SET unread_notifications =
    (SELECT count(*) FROM notifications n WHERE n.agent_id = agents.id AND n.read_at IS NULL);

CREATE TRIGGER notifications_unread_insert AFTER INSERT ON notifications WHEN NEW.read_at IS NULL
BEGIN
    UPDATE agents SET unread_notifications = unread_notifications + 1 WHERE id = NEW.agent_id;
END;

CREATE TRIGGER notifications_unread_read AFTER UPDATE OF read_at ON notifications
    WHEN OLD.read_at IS NULL AND NEW.read_at IS NOT NULL
BEGIN
    UPDATE agents SET unread_notifications = max(0, unread_notifications - 1) WHERE id = NEW.agent_id;
END;

CREATE TRIGGER notifications_unread_delete AFTER DELETE ON notifications WHEN OLD.read_at IS NULL
BEGIN
    UPDATE agents SET unread_notifications = max(0, unread_notifications - 1) WHERE id = OLD.agent_id;
END;
