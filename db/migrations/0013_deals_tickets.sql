-- Deals and tickets: account-scoped records with their contacts (many-to-many) and at most
-- one company each, and the meetings scheduled from them (their timelines). Deleting a deal
-- or a ticket keeps its contacts, its company and every meeting.

CREATE TABLE deals (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    stage      text NOT NULL CHECK (stage IN ('appointment_scheduled', 'qualified_to_buy',
                   'presentation_scheduled', 'decision_maker_bought_in', 'contract_sent',
                   'closed_won', 'closed_lost')),
    amount     numeric(18, 2) CHECK (amount >= 0),
    close_date date,
    company_id bigint REFERENCES companies (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    sort_key   text GENERATED ALWAYS AS (lower(name)) STORED
);
CREATE INDEX deals_account_sort ON deals (account_id, sort_key, id);
CREATE INDEX deals_company ON deals (company_id) WHERE company_id IS NOT NULL;

CREATE TABLE tickets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    subject    text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    status     text NOT NULL CHECK (status IN ('new', 'waiting_on_contact', 'waiting_on_us',
                   'closed')),
    priority   text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    company_id bigint REFERENCES companies (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    sort_key   text GENERATED ALWAYS AS (lower(subject)) STORED
);
CREATE INDEX tickets_account_sort ON tickets (account_id, sort_key, id);
CREATE INDEX tickets_company ON tickets (company_id) WHERE company_id IS NOT NULL;

CREATE TABLE deal_contacts (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    deal_id    bigint NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    PRIMARY KEY (deal_id, contact_id)
);
CREATE INDEX deal_contacts_contact ON deal_contacts (contact_id);

CREATE TABLE ticket_contacts (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    ticket_id  bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, contact_id)
);
CREATE INDEX ticket_contacts_contact ON ticket_contacts (contact_id);

-- Meetings scheduled from a deal or a ticket (no foreign key to meetings: db/cascade.py).
CREATE TABLE deal_meetings (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    deal_id    bigint NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    meeting_id bigint NOT NULL,
    PRIMARY KEY (deal_id, meeting_id)
);
CREATE INDEX deal_meetings_meeting ON deal_meetings (meeting_id);

CREATE TABLE ticket_meetings (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    ticket_id  bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    meeting_id bigint NOT NULL,
    PRIMARY KEY (ticket_id, meeting_id)
);
CREATE INDEX ticket_meetings_meeting ON ticket_meetings (meeting_id);
