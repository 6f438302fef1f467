-- 0004: the tables of QuickFIX's own PostgreSQLStore (gateway.message_store: postgresql), so that
-- one migrator owns the whole database. Names and columns are QuickFIX's (src/sql/postgresql/
-- sessions_table.sql and messages_table.sql of the QuickFIX repository): its C++ names them
-- unqualified and fixed, so they live in the connection's first search_path schema, beside ours.
-- QuickFIX writes each statement as its own transaction (autocommit), apart from our store's
-- commits: the sequence numbering of an answer follows its decision (docs/design/pg-message-store.md).

-- One row per QuickFIX session: the next sequence numbers expected (incoming) and to send
-- (outgoing); read when a session's store is created and at each Logon (RefreshOnLogon=Y).
CREATE TABLE sessions (
    beginstring       CHAR(8)     NOT NULL,
    sendercompid      VARCHAR(64) NOT NULL,
    targetcompid      VARCHAR(64) NOT NULL,
    session_qualifier VARCHAR(64) NOT NULL,
    creation_time     TIMESTAMP   NOT NULL,
    incoming_seqnum   INTEGER     NOT NULL,
    outgoing_seqnum   INTEGER     NOT NULL,
    PRIMARY KEY (beginstring, sendercompid, targetcompid, session_qualifier)
);

-- Every message sent (PersistMessages=Y), for ResendRequests; emptied by a sequence reset.
CREATE TABLE messages (
    beginstring       CHAR(8)     NOT NULL,
    sendercompid      VARCHAR(64) NOT NULL,
    targetcompid      VARCHAR(64) NOT NULL,
    session_qualifier VARCHAR(64) NOT NULL,
    msgseqnum         INTEGER     NOT NULL,
    message           TEXT        NOT NULL,
    PRIMARY KEY (beginstring, sendercompid, targetcompid, session_qualifier, msgseqnum)
);

-- Fencing of QuickFIX's writes. The store knows nothing of our leases, and a process that wakes
-- from a stall longer than the ttl still has its connections and timers. An instance process names
-- its connections "plxtra:<epoch>:<instance>" (PGAPPNAME, set once the lease is taken:
-- gateway/app/instance.py); a write from such a connection is refused unless that epoch is still
-- the instance's valid term, the check lease.fence() makes for our own commits. KEY SHARE on the
-- lease row makes a takeover wait for a write in flight. Connections without that name (a gateway
-- without --instance, the migrator, an operator) are not fenced.
CREATE FUNCTION quickfix_store_fence() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    term TEXT[] := regexp_match(current_setting('application_name', true), '^plxtra:([0-9]+):(.+)$');
BEGIN
    IF term IS NOT NULL THEN
        PERFORM 1 FROM leases
         WHERE name = term[2] AND epoch = term[1]::BIGINT AND expires_at > now()
           FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'lease % epoch % is no longer valid: QuickFIX store write refused', term[2], term[1]
                USING ERRCODE = '40001';
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_fence BEFORE INSERT OR UPDATE OR DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION quickfix_store_fence();
CREATE TRIGGER messages_fence BEFORE INSERT OR UPDATE OR DELETE ON messages
    FOR EACH STATEMENT EXECUTE FUNCTION quickfix_store_fence();
