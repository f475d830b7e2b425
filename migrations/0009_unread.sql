-- The badge of every push is the agent's unread count: count it over unread rows only.
CREATE INDEX notifications_unread ON notifications(agent_id) WHERE read_at IS NULL;
