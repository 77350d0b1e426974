-- Calendar providers are registered in code (sync/providers/registry.py), one package each; the
-- database no longer lists them in CHECK constraints, which a new provider could only pass with
-- a migration of its own. Instead every provider column references calendar_providers, which
-- each Chronik process fills from the registry when it starts (db/providers.py): a registered
-- provider is accepted, a misspelt or unknown one is refused by the foreign key, as the lists
-- refused it. Rows are never deleted: connections and meetings of a provider removed from the
-- code keep naming it.
CREATE TABLE calendar_providers (
    -- Stored in the provider columns, part of URLs; 'crm' is the meetings' own source.
    name  text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$' AND name <> 'crm'),
    label text NOT NULL
);
INSERT INTO calendar_providers (name, label)
VALUES ('google', 'Google Calendar'), ('microsoft', 'Microsoft 365');

ALTER TABLE accounts
    DROP CONSTRAINT accounts_integration_provider_check,
    ADD CONSTRAINT accounts_integration_provider_fkey
        FOREIGN KEY (integration_provider) REFERENCES calendar_providers (name);
ALTER TABLE calendar_connections
    DROP CONSTRAINT calendar_connections_provider_check,
    ADD CONSTRAINT calendar_connections_provider_fkey
        FOREIGN KEY (provider) REFERENCES calendar_providers (name);
ALTER TABLE oauth_link_states
    DROP CONSTRAINT oauth_link_states_provider_check,
    ADD CONSTRAINT oauth_link_states_provider_fkey
        FOREIGN KEY (provider) REFERENCES calendar_providers (name);

-- A meeting's source is 'crm' (created in Chronik) or the provider it was synced from. A
-- foreign key cannot allow 'crm' besides the providers, and meetings is the largest table:
-- the list becomes the shape of a provider name, while the provider itself is checked where
-- it is chosen (the connection whose provider the sync writes here references
-- calendar_providers). Every existing row passed the stricter list, so NOT VALID spares the
-- scan of the largest table; new and updated rows are checked.
ALTER TABLE meetings
    DROP CONSTRAINT meetings_source_check,
    ADD CONSTRAINT meetings_source_check
        CHECK (source = 'crm' OR source ~ '^[a-z][a-z0-9_]{0,31}$') NOT VALID;
