-- Exactly once (issue 12).
-- Reconciliation lookups that failed in a row: they back off without using a try (R-SND-5).
ALTER TABLE messages ADD COLUMN lookups INTEGER NOT NULL DEFAULT 0;
-- A refunded text gives its day's distinct number back when no other text of the day went to it
-- (R-LIM-3): found by agent, number and day.
CREATE INDEX messages_recipient_day ON messages(agent_id, recipient, usage_day);
-- Every stored number is read again from its as-entered form by the hook that runs with this
-- migration (contacts::reparse): phonenumber 0.3.10 had dropped digits of international numbers.
