-- 0001: the gateway's state in PostgreSQL (issue 14), the tables of the SQLite store
-- (gateway/store/orders_store.py) with PostgreSQL types, plus the leases of session sets.
--
-- Keying: every row belongs to one instance, the name of the session set it serves (config
-- `instances:`; a configuration without instances is the one set "default"). A session is unique
-- within its instance, and the leading `instance` column of every key keeps instances that share
-- one database apart: each instance loads and writes only its own rows, under its own lease, and
-- has its own RequestID namespace (meta). Moving a session to another instance is an operator's
-- UPDATE of that column with both instances stopped.
--
-- Applied once, in one transaction, by gateway/store/pg_migrate.py. Never edit this file after it
-- has been released: its checksum is recorded and a changed file is refused; add 0002_... instead.

CREATE TABLE meta (
    instance TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (instance, key)
);

-- One row per order the gateway placed: its Plxtra RequestID and what it knows of the order.
CREATE TABLE orders (
    instance   TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    session    TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    cl_ord_id  TEXT    NOT NULL,
    order_id   TEXT,
    state      TEXT    NOT NULL,
    working    BOOLEAN NOT NULL,
    data       JSONB   NOT NULL,
    created    BIGINT  NOT NULL,
    PRIMARY KEY (instance, request_id)
);
CREATE INDEX orders_by_session ON orders (instance, session, working);
CREATE INDEX orders_by_order_id ON orders (instance, order_id);
CREATE INDEX orders_by_account ON orders (instance, account);

-- Every ClOrdID seen on a session (a ClOrdID is used once per session).
CREATE TABLE clordids (
    instance   TEXT NOT NULL,
    session    TEXT NOT NULL,
    cl_ord_id  TEXT NOT NULL,
    request_id TEXT,
    kind       TEXT NOT NULL,
    PRIMARY KEY (instance, session, cl_ord_id)
);

-- ExecIDs already sent on a session: a fill is reported once.
CREATE TABLE execs (
    instance TEXT NOT NULL,
    session  TEXT NOT NULL,
    exec_id  TEXT NOT NULL,
    PRIMARY KEY (instance, session, exec_id)
);

-- Answers stored before QuickFIX has them; `handed` once QuickFIX sequenced them.
CREATE TABLE outbound (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance TEXT    NOT NULL,
    session  TEXT    NOT NULL,
    exec_id  TEXT,
    handed   BOOLEAN NOT NULL,
    msg_type TEXT    NOT NULL,
    fields   JSONB   NOT NULL
);
CREATE INDEX outbound_by_session ON outbound (instance, session, seq);

-- The one decision on each order-changing request (accepted as a RequestID, or the reject sent).
CREATE TABLE decisions (
    instance    TEXT        NOT NULL,
    session     TEXT        NOT NULL,
    request_key TEXT        NOT NULL,
    msg_type    TEXT        NOT NULL,
    cl_ord_id   TEXT        NOT NULL,
    outcome     TEXT        NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    request_id  TEXT,
    answer      JSONB,
    decided     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (instance, session, request_key)
);
CREATE INDEX decisions_by_cl_ord_id ON decisions (instance, session, cl_ord_id);

-- One lease per session set (name = the instance). Times come from the database clock only
-- (gateway/store/lease.py); epoch is the fencing token, +1 at every change of owner.
CREATE TABLE leases (
    name        TEXT        PRIMARY KEY,
    owner       TEXT,
    epoch       BIGINT      NOT NULL DEFAULT 0,
    expires_at  TIMESTAMPTZ,
    acquired_at TIMESTAMPTZ,
    renewed_at  TIMESTAMPTZ,
    CHECK ((owner IS NULL) = (expires_at IS NULL))
);
