-- Companies: account-scoped records with their web domains, and the contacts that belong to
-- them (many-to-many: a consultant can work for two clients). A company's timeline is the
-- meetings on its contacts' timelines (db/companies.py), so no meeting row points at it.

CREATE TABLE companies (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    industry   text,
    phone      text,
    city       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The list order; with id it is the keyset of pagination.
    sort_key   text GENERATED ALWAYS AS (lower(name)) STORED
);
CREATE INDEX companies_account_sort ON companies (account_id, sort_key, id);

CREATE TABLE company_domains (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    domain     text NOT NULL CHECK (domain = lower(domain)),
    position   int NOT NULL,
    PRIMARY KEY (company_id, domain)
);
-- One company per domain in an account: the domain names the company.
CREATE UNIQUE INDEX company_domains_account_domain ON company_domains (account_id, domain);

CREATE TABLE company_contacts (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, contact_id)
);
CREATE INDEX company_contacts_contact ON company_contacts (contact_id);

-- Meetings scheduled from a company (scheduleMeeting's companyIds): on its timeline whoever
-- the guests are. Meetings of its contacts need no row here.
CREATE TABLE company_meetings (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    -- No foreign key, like the other tables that point at meetings (migration 0005):
    -- db/cascade.meetings_deleted removes the rows of a deleted meeting.
    meeting_id bigint NOT NULL,
    PRIMARY KEY (company_id, meeting_id)
);
CREATE INDEX company_meetings_meeting ON company_meetings (meeting_id);

-- Opt-in: a contact also belongs to the companies whose domains its addresses are at (never
-- the account's own domains, never webmail: db/companies.py). Off by default.
ALTER TABLE accounts ADD COLUMN match_companies_by_domain boolean NOT NULL DEFAULT false;
CREATE INDEX contact_emails_domain ON contact_emails (account_id, split_part(email, '@', 2));
