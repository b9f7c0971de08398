-- big_txn: a multi-million-row transaction decodes with flat memory.
-- Each change is its own output row, the reorder buffer spills to disk past
-- logical_decoding_work_mem, and the result set spills past work_mem: the
-- decoding backend's peak RSS stays far below the output size.
CREATE TABLE big (id int PRIMARY KEY, payload text);
BEGIN;
INSERT INTO big SELECT g, repeat('p', 100) FROM generate_series(1, 2000000) g;
UPDATE big SET payload = 'q' WHERE id <= 100000;
COMMIT;
\c
SET logical_decoding_work_mem = '16MB';
SET work_mem = '4MB';
SELECT count(*) AS rows, sum(octet_length(data)) > 300 * 1024 * 1024 AS output_over_300mb,
       count(*) FILTER (WHERE data LIKE '{"op":"I"%') AS inserts,
       count(*) FILTER (WHERE data LIKE '{"op":"U"%') AS updates
  FROM pg_logical_slot_get_changes('regress', NULL, NULL);
-- peak resident memory of this backend, which did the decoding
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+) kB'))[1]::int / 1024 AS peak_mb \gset
SELECT :peak_mb < 100 AS peak_rss_under_100mb;
