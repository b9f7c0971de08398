-- toast: unchanged TOASTed values are marked, never silently dropped.
CREATE TABLE docs (id int PRIMARY KEY, title text, body text, meta jsonb);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;  -- out of line, uncompressed
-- ~100 kB values: stored out of line
INSERT INTO docs VALUES (1, 't', repeat('x', 100000),
  (SELECT jsonb_object_agg('k' || g, repeat('v', 100)) FROM generate_series(1, 1000) g));
UPDATE docs SET title = 'changed';			-- body, meta unchanged: marked
UPDATE docs SET body = repeat('y', 100000);	-- body changed: sent; meta marked
DELETE FROM docs;

SELECT data::json->>'op' AS op,
       length(data::json->'new'->>'body') AS body_len,
       left(data::json->'new'->>'body', 3) AS body_start,
       (data::json->'new')::jsonb ? 'meta' AS has_meta,
       data::json->'unchanged_toast' AS unchanged_toast,
       data::json->'old' AS old
  FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'include-transaction', '0');
SELECT j->>0 AS op, json_array_length(j->3) AS ncols,
       length(j->3->>2) AS body_len, j->3->3 IS NULL OR json_typeof(j->3->3) = 'null' AS meta_null,
       j->4 AS old, j->5 AS unchanged_toast
  FROM (SELECT data::json AS j
          FROM pg_logical_slot_get_changes('regress', NULL, NULL,
               'include-transaction', '0', 'format', 'compact')) s
 WHERE j->>0 <> 'R';

-- with REPLICA IDENTITY FULL the old row is complete, TOAST included
ALTER TABLE docs REPLICA IDENTITY FULL;
INSERT INTO docs VALUES (2, 't', repeat('z', 50000), NULL);
UPDATE docs SET title = 'u';
DELETE FROM docs;
SELECT data::json->>'op' AS op,
       length(data::json->'old'->>'body') AS old_body_len,
       length(data::json->'new'->>'body') AS new_body_len,
       data::json->'unchanged_toast' AS unchanged_toast
  FROM pg_logical_slot_get_changes('regress', NULL, NULL, 'include-transaction', '0');
