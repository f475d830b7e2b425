-- Composing and limits (R-LIM, R-COST-5), and the consent state quotes check (R-IN-4).

-- Segments and credits used per agent and period ('2026-11-29' days, '2026-11' months, in the
-- agent's time zone). Checked and reserved in the transaction that queues messages.
CREATE TABLE usage_counters (
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    counter     TEXT NOT NULL CHECK (counter IN ('daily_segments', 'monthly_credits')),
    period      TEXT NOT NULL,
    used        INTEGER NOT NULL,
    PRIMARY KEY (agent_id, counter, period)
) WITHOUT ROWID;

-- The distinct numbers an agent texted each day: the daily unique recipients counter.
CREATE TABLE daily_recipients (
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    day         TEXT NOT NULL,
    number      TEXT NOT NULL,
    PRIMARY KEY (agent_id, day, number)
) WITHOUT ROWID;

-- Numbers that opted out of texts from a sending number (current state; the replies feature
-- keeps the ledger of changes).
CREATE TABLE opt_outs (
    sender      TEXT NOT NULL,
    number      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (sender, number)
) WITHOUT ROWID;

-- The admins' do-not-contact list: never texted by anyone.
CREATE TABLE dnc_numbers (
    number      TEXT PRIMARY KEY,
    reason      TEXT NOT NULL DEFAULT '',
    added_by    INTEGER REFERENCES agents(id),
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Quotes: what was asked and a fingerprint of what it came to, so a send can tell a stale one.
CREATE TABLE quotes (
    id          TEXT PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    request     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    totals      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX quotes_expiry ON quotes(expires_at);
