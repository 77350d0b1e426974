-- Announce a token that stops working: revoked (`chronik token revoke`, or any UPDATE of
-- revoked_at) or deleted (with its user). An open websocket authenticated by it is closed by
-- the process that holds it (db/listen.py, app/live_socket.py), so revoking a token ends what
-- it can still see, not only what it can start. A trigger rather than code in db/tokens.py:
-- every path that ends a token goes through the table, including the user's deletion (cascade)
-- and an operator's own SQL. The payload is the token id (its secret is never stored).

CREATE FUNCTION chronik_announce_token_ended() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('chronik_tokens', OLD.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_tokens_revoked
    AFTER UPDATE OF revoked_at ON api_tokens
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION chronik_announce_token_ended();

CREATE TRIGGER api_tokens_deleted
    AFTER DELETE ON api_tokens
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL)
    EXECUTE FUNCTION chronik_announce_token_ended();
