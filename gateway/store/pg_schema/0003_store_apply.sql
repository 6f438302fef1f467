-- 0003: store_apply(instance, from_mark, units): one batch of the store's units (the journal
-- records of gateway/store/sqlite_apply.py, the same JSON arrays) applied in the caller's
-- transaction, with the instance's applied mark. One call per batch: the gateway pays one round
-- trip and one parameter per loop turn, and the statements below are planned once per connection.
--
-- units: a JSON array of [seq, unit]; units at or below the mark are skipped (a repeated batch
-- changes nothing), and every statement tolerates a repeat (ON CONFLICT), as in SQLite.
-- from_mark: the mark the caller last committed; if the row holds another value, another process
-- writes this instance's rows, and the call fails with SQLSTATE 40001 (nothing applied).

CREATE FUNCTION store_decision(p_instance TEXT, d JSONB) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF jsonb_typeof(d) = 'array' THEN
        INSERT INTO decisions (instance, session, request_key, msg_type, cl_ord_id, outcome, request_id,
                               answer, decided)
        VALUES (p_instance, d->>0, d->>1, d->>2, d->>3, d->>4, d->>5, NULLIF(d->6, 'null'::jsonb),
                to_timestamp((d->>7)::double precision))
        ON CONFLICT DO NOTHING;
    END IF;
END $$;

CREATE FUNCTION store_outbound(p_instance TEXT, rows_ JSONB) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    -- row: [seq, session, exec_id, handed, msg_type, fields]
    INSERT INTO outbound (instance, seq, session, exec_id, handed, msg_type, fields)
    SELECT p_instance, (r->>0)::bigint, r->>1, r->>2, (r->>3)::boolean, r->>4, r->5
    FROM jsonb_array_elements(rows_) AS r
    ON CONFLICT (instance, seq) DO UPDATE SET session = excluded.session, exec_id = excluded.exec_id,
        handed = excluded.handed, msg_type = excluded.msg_type, fields = excluded.fields;
END $$;

CREATE FUNCTION store_apply(p_instance TEXT, p_from BIGINT, p_units JSONB) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    mark  BIGINT := p_from;
    u_seq BIGINT;
    u     JSONB;
BEGIN
    FOR u_seq, u IN SELECT (e->>0)::bigint, e->1 FROM jsonb_array_elements(p_units) AS e LOOP
        CONTINUE WHEN u_seq <= mark;
        CASE u->>0
        WHEN 'A' THEN   -- order state, ExecIDs, decision, outbound rows
            IF u->>1 IS NOT NULL THEN
                UPDATE orders SET cl_ord_id = u->>2, order_id = u->>3, state = u->>4,
                                  working = (u->>5)::boolean, data = u->6
                WHERE instance = p_instance AND request_id = u->>1;
            END IF;
            INSERT INTO execs (instance, session, exec_id)
            SELECT p_instance, u->>7, x FROM jsonb_array_elements_text(u->8) AS x
            ON CONFLICT DO NOTHING;
            PERFORM store_decision(p_instance, u->10);
            PERFORM store_outbound(p_instance, u->9);
        WHEN 'N' THEN   -- new order: [N, session, rid, cl, account, state, data, created, decision]
            INSERT INTO clordids (instance, session, cl_ord_id, request_id, kind)
            VALUES (p_instance, u->>1, u->>3, u->>2, 'D') ON CONFLICT DO NOTHING;
            PERFORM store_decision(p_instance, u->8);
            INSERT INTO orders (instance, request_id, session, account, cl_ord_id, order_id, state, working,
                                data, created)
            VALUES (p_instance, u->>2, u->>1, u->>4, u->>3, NULL, u->>5, TRUE, u->6, (u->>7)::bigint)
            ON CONFLICT DO NOTHING;
        WHEN 'L' THEN
            UPDATE orders SET order_id = u->>2 WHERE instance = p_instance AND request_id = u->>1;
        WHEN 'E' THEN
            INSERT INTO execs (instance, session, exec_id) VALUES (p_instance, u->>1, u->>2)
            ON CONFLICT DO NOTHING;
        WHEN 'C' THEN   -- [C, session, cl, rid, kind, decision]
            INSERT INTO clordids (instance, session, cl_ord_id, request_id, kind)
            VALUES (p_instance, u->>1, u->>2, u->>3, u->>4) ON CONFLICT DO NOTHING;
            PERFORM store_decision(p_instance, u->5);
        WHEN 'D' THEN
            PERFORM store_decision(p_instance, u->1);
        WHEN 'O' THEN
            PERFORM store_outbound(p_instance, u->1);
        WHEN 'H' THEN
            UPDATE outbound SET handed = TRUE
            WHERE instance = p_instance AND seq IN (SELECT x::bigint FROM jsonb_array_elements_text(u->1) AS x);
        WHEN 'X' THEN
            DELETE FROM outbound
            WHERE instance = p_instance AND seq IN (SELECT x::bigint FROM jsonb_array_elements_text(u->1) AS x);
        WHEN 'R' THEN
            INSERT INTO meta (instance, key, value) VALUES (p_instance, 'request_seq', u->>1)
            ON CONFLICT (instance, key) DO UPDATE SET value = excluded.value;
        ELSE
            RAISE EXCEPTION 'unknown store unit %', u->>0;
        END CASE;
        mark := u_seq;
    END LOOP;
    -- Checked last, in one statement: the row lock makes a concurrent writer wait here, and an
    -- error rolls back everything above.
    UPDATE meta SET value = mark::text
    WHERE instance = p_instance AND key = 'applied_seq' AND value = p_from::text;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'instance %: the applied mark is no longer %: another process writes this instance''s rows',
            p_instance, p_from USING ERRCODE = '40001';
    END IF;
    RETURN mark;
END $$;
