-- format: the two encodings, transaction boundaries, LSNs, xids, timestamps.
CREATE TABLE items (id int PRIMARY KEY, name text, qty int);

BEGIN;
INSERT INTO items VALUES (1, 'apple', 3), (2, 'pear', NULL);
UPDATE items SET qty = 4 WHERE id = 1;
DELETE FROM items WHERE id = 2;
COMMIT;

-- full (the default), then compact, over the same changes
SELECT * FROM peek('regress', '{include-timestamps,off}');
SELECT * FROM peek('regress', '{format,compact,include-timestamps,off}');

-- the same changes once more, now with commit timestamps (masked)
SELECT * FROM changes('regress', '{format,full}');

-- xids, LSNs and timestamps are the real ones
BEGIN;
INSERT INTO items VALUES (3, 'fig', 1);
SELECT txid_current() AS xid \gset
COMMIT;
SELECT (data::json->>'xid')::bigint = :xid AS xid_matches,
       (data::json->>'ts')::timestamptz BETWEEN now() - interval '1 hour' AND now() + interval '1 hour' AS ts_recent,
       data::json->>'op' AS op
  FROM pg_logical_slot_peek_changes('regress', NULL, NULL)
 WHERE data::json->>'op' IN ('B', 'C');
-- begin carries the commit LSN; each change LSN is below it; commit's
-- end_lsn is past it; the slot's lsn column agrees with the message
WITH m AS (
  SELECT lsn, data::json AS j FROM pg_logical_slot_get_changes('regress', NULL, NULL))
SELECT (SELECT (j->>'lsn')::pg_lsn FROM m WHERE j->>'op' = 'B') =
       (SELECT (j->>'lsn')::pg_lsn FROM m WHERE j->>'op' = 'C') AS begin_has_commit_lsn,
       (SELECT (j->>'lsn')::pg_lsn < (SELECT (j->>'lsn')::pg_lsn FROM m WHERE j->>'op' = 'C')
          FROM m WHERE j->>'op' = 'I') AS change_before_commit,
       (SELECT (j->>'end_lsn')::pg_lsn > (j->>'lsn')::pg_lsn FROM m WHERE j->>'op' = 'C') AS end_after_commit,
       (SELECT bool_and(lsn = (j->>'lsn')::pg_lsn) FROM m WHERE j->>'op' = 'I') AS lsn_column_matches;

-- compact: the relation message comes once per decoding session
INSERT INTO items VALUES (4, 'kiwi', 2);
INSERT INTO items VALUES (5, 'lime', 7);
SELECT * FROM changes('regress', '{format,compact,include-timestamps,0,include-xids,0}');
-- a new session sends it again
INSERT INTO items VALUES (6, 'plum', 1);
SELECT * FROM changes('regress', '{format,compact,include-timestamps,0,include-xids,0}');

-- options that leave fields out: in compact the position stays, as null
INSERT INTO items VALUES (7, 'date', 5);
SELECT * FROM peek('regress', '{include-lsn,0,include-xids,0,include-timestamps,0}');
SELECT * FROM peek('regress', '{format,compact,include-lsn,0,include-xids,0,include-timestamps,0}');
SELECT * FROM changes('regress', '{include-transaction,false}');

-- include-types adds the column types to full-format changes
INSERT INTO items VALUES (8, 'yuzu', 9);
SELECT * FROM changes('regress', '{include-types,on,include-transaction,off}');

-- the binary interface gives the same bytes
INSERT INTO items VALUES (9, 'sloe', 1);
SELECT convert_from(data, 'UTF8')::json->>'op' AS op
  FROM pg_logical_slot_get_binary_changes('regress', NULL, NULL);
