-- 0002: outbound rows are numbered by the store of each instance (it gives the seq, as SQLite's
-- store does, so that the loop knows it without a round trip); two instances sharing the database
-- number independently, so the key is (instance, seq) and the column is no longer an identity.

ALTER TABLE outbound ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE outbound DROP CONSTRAINT outbound_pkey;
ALTER TABLE outbound ADD PRIMARY KEY (instance, seq);
