-- oversized: values whose JSON would pass max-value-bytes are left out and
-- marked with their size (docs/PROTOCOL.md, "Values too large to send").
CREATE TABLE ovs (id int PRIMARY KEY, title text, body text, n int, b bytea,
                  j jsonb, a int[]);
ALTER TABLE ovs ALTER COLUMN body SET STORAGE EXTERNAL;  -- out of line

-- 40 and 64 bytes of JSON with 64 allowed: sent; 66 bytes: left out.  A control
-- character takes six bytes of JSON (\u0001), so 20 of them take 122.
INSERT INTO ovs (id, title) VALUES (1, repeat('t', 38));
INSERT INTO ovs (id, title) VALUES (2, repeat('t', 62));
INSERT INTO ovs (id, title) VALUES (3, repeat('t', 64));
INSERT INTO ovs (id, title, n) VALUES (4, repeat(chr(1), 20), 7);
SELECT * FROM changes('regress', '{include-transaction,off,max-value-bytes,64}');

-- every fast path counts exactly: bytea (2 per byte + 5), jsonb, arrays
INSERT INTO ovs (id, b, j, a) VALUES (5, '\x00112233', '{"k":[1,2]}', '{1,2}');
INSERT INTO ovs (id, b, j, a) VALUES (6, decode(repeat('ab', 40), 'hex'),
  (SELECT jsonb_agg(g) FROM generate_series(1, 40) g),
  (SELECT array_agg(g) FROM generate_series(1, 40) g));
SELECT * FROM peek('regress', '{include-transaction,off,max-value-bytes,64}');
SELECT * FROM changes('regress', '{include-transaction,off,format,compact,max-value-bytes,64}');
DELETE FROM ovs;
SELECT count(*) FROM changes('regress', '{}');

-- unchanged TOAST, oversized and NULL in one update; then a key change
INSERT INTO ovs (id, title, body) VALUES (10, 'small', repeat('x', 100000));
UPDATE ovs SET title = repeat('u', 2000), n = NULL;
UPDATE ovs SET id = 11, title = 'again';
SELECT * FROM changes('regress', '{include-transaction,off,max-value-bytes,1kB}');
INSERT INTO ovs (id, body) VALUES (12, repeat('y', 100000));
UPDATE ovs SET title = repeat('u', 2000), n = NULL WHERE id = 11;
SELECT * FROM changes('regress', '{include-transaction,off,format,compact,max-value-bytes,1kB}');

-- REPLICA IDENTITY FULL: the old row's values are marked too ("old")
ALTER TABLE ovs REPLICA IDENTITY FULL;
UPDATE ovs SET n = 1 WHERE id = 11;
DELETE FROM ovs WHERE id = 11;
SELECT * FROM changes('regress', '{include-transaction,off,max-value-bytes,1kB}');
UPDATE ovs SET n = 2 WHERE id = 12;
DELETE FROM ovs WHERE id = 12;
SELECT * FROM changes('regress', '{include-transaction,off,format,compact,max-value-bytes,1kB}');
ALTER TABLE ovs REPLICA IDENTITY DEFAULT;

-- the default (64MB) sends a 100 kB value
INSERT INTO ovs (id, body) VALUES (13, repeat('z', 100000));
SELECT length(data) > 100000 AS sent, data::json->'oversized' AS oversized
  FROM pg_logical_slot_get_changes('regress', NULL, NULL, 'include-transaction', 'off');

-- logical messages: prefix and content, text and binary
SELECT 'msg' FROM pg_logical_emit_message(true, 'p', repeat('c', 100));
SELECT 'msg' FROM pg_logical_emit_message(true, repeat('p', 100), 'c');
SELECT 'msg' FROM pg_logical_emit_message(true, 'p', decode(repeat('00', 40), 'hex'));
SELECT 'msg' FROM pg_logical_emit_message(true, 'p', decode(repeat('00', 10), 'hex'));
SELECT * FROM changes('regress', '{include-transaction,off,max-value-bytes,64}');
SELECT 'msg' FROM pg_logical_emit_message(true, 'p', repeat('c', 100));
SELECT 'msg' FROM pg_logical_emit_message(true, repeat('p', 100), 'c');
SELECT 'msg' FROM pg_logical_emit_message(true, 'p', decode(repeat('00', 40), 'hex'));
SELECT 'msg' FROM pg_logical_emit_message(true, 'p', decode(repeat('00', 10), 'hex'));
SELECT * FROM changes('regress', '{include-transaction,off,format,compact,max-value-bytes,64}');

-- bad values name the option
SELECT * FROM changes('regress', '{max-value-bytes,abc}');
SELECT * FROM changes('regress', '{max-value-bytes,15}');
SELECT * FROM changes('regress', '{max-value-bytes,1GB}');
SELECT * FROM changes('regress', '{max-value-bytes,10parsecs}');
SELECT * FROM changes('regress', '{max-value-bytes,1MB,max-value-bytes,2MB}');
SELECT count(*) FROM changes('regress', '{max-value-bytes,512MB}');
DROP TABLE ovs;
SELECT count(*) FROM changes('regress', '{}');
