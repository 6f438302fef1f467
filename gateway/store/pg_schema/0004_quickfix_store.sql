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
