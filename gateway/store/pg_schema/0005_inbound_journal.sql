-- 0005: the inbound journal in PostgreSQL (gateway/store/pg_inbound_journal.py). Every D/F/G/q is
-- appended inside QuickFIX's fromApp, before QuickFIX counts it; with the sequence numbers in this
-- database (0004), a journal left in a dead host's local file would hold the only copy of an order
-- QuickFIX counted but the loop never decided. Here the instance's standby, on any host, reads it.
--
-- One row per appended message, keyed by the instance like every other table of the store; `run`
-- names the process that appended it (a new process replays the rows of earlier runs); `record` is
-- the file journal's JSON line (gateway/store/inbound_journal.py encode()), so both backends share
-- one format and one decoder.
CREATE TABLE inbound_journal (
    instance    TEXT   NOT NULL,
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    run         TEXT   NOT NULL,
    received_ns BIGINT NOT NULL,
    record      TEXT   NOT NULL,
    PRIMARY KEY (instance, id)
);

-- Fenced like QuickFIX's tables: a process whose connections carry a lease term that is no longer
-- valid (application_name "plxtra:<epoch>:<instance>") can neither append nor compact.
CREATE TRIGGER inbound_journal_fence BEFORE INSERT OR UPDATE OR DELETE ON inbound_journal
    FOR EACH STATEMENT EXECUTE FUNCTION quickfix_store_fence();
