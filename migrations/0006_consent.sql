-- The consent ledger (R-IN-4): every opt-out and opt-in, with how it came and the message that
-- carried it. `opt_outs` holds the current state.
CREATE TABLE consent_events (
    id          INTEGER PRIMARY KEY,
    sender      TEXT NOT NULL,
    number      TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('opt_out', 'opt_in')),
    how         TEXT NOT NULL,      -- 'keyword:STOP', 'phrase:wrong number', 'twilio:21610', …
    message_id  INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX consent_events_number ON consent_events(number, sender, created_at);
