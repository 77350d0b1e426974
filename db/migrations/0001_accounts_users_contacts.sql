-- Accounts (companies), their internal email domains, users, API tokens and contacts.
-- Emails are matched case-insensitively everywhere, so every lookup column holds the
-- lower-cased address and the uniqueness rules live in the schema, not in code.

CREATE TABLE accounts (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The calendar provider the account installed ('google' | 'microsoft'); one at a time.
    integration_provider text CHECK (integration_provider IN ('google', 'microsoft')),
    auto_create_contacts boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_name_key ON accounts (lower(name));

CREATE TABLE account_domains (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    domain     text NOT NULL CHECK (domain = lower(domain)),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, domain)
);

CREATE TABLE users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      text NOT NULL CHECK (email = lower(email)),
    is_admin   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- A person signs in as one user; the address is unique across the whole service.
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_account_idx ON users (account_id);

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the token; the token itself is shown once and never stored.
    token_hash   bytea NOT NULL UNIQUE,
    label        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE contacts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    first_name   text NOT NULL DEFAULT '',
    last_name    text NOT NULL DEFAULT '',
    email        text NOT NULL,
    company_name text,
    phone        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- The list order (last name, first name, email); with id it is the keyset of pagination.
    sort_key     text GENERATED ALWAYS AS (
                     lower(last_name || ' ' || first_name || ' ' || email)
                 ) STORED
);
CREATE INDEX contacts_account_sort_idx ON contacts (account_id, sort_key, id);

-- Every address of a contact, the primary one included, lower-cased. One address belongs to
-- at most one contact of an account, whether primary or extra: the sync matches attendees here.
CREATE TABLE contact_emails (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    email      text NOT NULL CHECK (email = lower(email)),
    is_primary boolean NOT NULL,
    position   int NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, email)
);
CREATE INDEX contact_emails_contact_idx ON contact_emails (contact_id);
CREATE UNIQUE INDEX contact_emails_one_primary ON contact_emails (contact_id) WHERE is_primary;
