-- Linking calendars: one connection per user, OAuth link attempts, encrypted provider tokens.

CREATE TABLE calendar_connections (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id       bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id          bigint NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    provider         text NOT NULL CHECK (provider IN ('google', 'microsoft')),
    -- The owner of the linked primary calendar, as the provider reports it (lower-cased).
    calendar_email   text NOT NULL,
    status           text NOT NULL CHECK (status IN ('active', 'needs_reauth', 'disconnected')),
    -- Events created before this moment are never synced (the product's rule 5).
    linked_at        timestamptz NOT NULL,
    -- Fernet token of {"access_token", "refresh_token"}: never stored in plaintext.
    token_ciphertext bytea,
    token_expires_at timestamptz,
    -- Bumped by every refresh, so a process can tell whether another one refreshed first.
    token_version    int NOT NULL DEFAULT 0,
    last_synced_at   timestamptz,
    last_error       text,
    last_error_at    timestamptz,
    failure_count    int NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calendar_connections_account_idx ON calendar_connections (account_id);
-- Two users of one account syncing the same calendar would log every meeting twice.
CREATE UNIQUE INDEX calendar_connections_one_linker
    ON calendar_connections (account_id, provider, calendar_email) WHERE status <> 'disconnected';

-- One OAuth authorization attempt: single use, expiring, bound to the user who asked for it
-- and to the first browser that opens it (a nonce in a cookie, its hash here), with the PKCE
-- verifier encrypted.
CREATE TABLE oauth_link_states (
    state_hash        bytea PRIMARY KEY,
    user_id           bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider          text NOT NULL CHECK (provider IN ('google', 'microsoft')),
    browser_hash      bytea,
    verifier_cipher   bytea NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    used_at           timestamptz
);
CREATE INDEX oauth_link_states_expiry_idx ON oauth_link_states (expires_at);
