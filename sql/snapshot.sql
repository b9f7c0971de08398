-- snapshot: pgsync.snapshot_to_file() and the snapshot worker.  Rows are
-- the very bytes of compact insert messages; privileges and row-level
-- security apply; the file format (header, rows, trailer) and the
-- snapshot's xids; a large table with bounded memory.
SELECT 'start' FROM pg_replication_slot_advance('regress', pg_current_wal_lsn());

-- lines of a snapshot file, in order
CREATE FUNCTION snap_file(name text) RETURNS TABLE (l text) LANGUAGE sql AS $$
  SELECT l FROM regexp_split_to_table(
      rtrim(pg_read_file('pg_pgsync/snapshots/' || name), E'\n'), E'\n')
      WITH ORDINALITY AS t(l, n)
  ORDER BY n
$$;
-- the same with what differs between runs masked
CREATE FUNCTION snap_show(name text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT regexp_replace(regexp_replace(regexp_replace(l,
      '^\{"relid":\d+', '{"relid":OID'),
      '"snapshot":\{"xmin":\d+,"xmax":\d+,"xip":\[[\d,]*\],"lsn":"[0-9A-F]+/[0-9A-F]+"\}',
      '"snapshot":SNAPSHOT'),
      '"peak_rss_kb":\d+,"peak_anon_kb":\d+', '"peak_rss_kb":KB,"peak_anon_kb":KB')
  FROM snap_file(name)
$$;
CREATE FUNCTION snap_header(name text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT l::jsonb FROM snap_file(name) LIMIT 1
$$;

-- Session settings that output functions follow: the worker uses the
-- caller's, so the snapshot matches what this session decodes.
SET TimeZone = 'Asia/Kolkata';
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'iso_8601';
SET extra_float_digits = 0;
SET bytea_output = 'escape';

CREATE TYPE snap_mood AS ENUM ('sad', 'ok');
CREATE TYPE snap_pair AS (a int, b text);
CREATE DOMAIN snap_pos AS int CHECK (VALUE > 0);
CREATE TABLE snap_types (
  id int PRIMARY KEY,
  i2 smallint, i8 bigint, o oid, f4 real, f8 double precision,
  n numeric, n2 numeric(10,2), m money, d snap_pos, b boolean,
  t text, vc varchar(10), c char(5), nm name, by bytea, j json, jb jsonb,
  tstz timestamptz, ts timestamp, dt date, tm time, ttz timetz,
  ia int[], ta text[][], mood snap_mood, pr snap_pair, r tstzrange,
  u uuid, ip inet, iv interval, big text);
ALTER TABLE snap_types ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE snap_types ADD COLUMN gone int;
ALTER TABLE snap_types DROP COLUMN gone;	-- dropped columns never appear
INSERT INTO snap_types VALUES
  (1, -32768, -9223372036854775808, 4294967295, 1.5, 0.1,
   '123456789012345678901234567890.123456789', 99999999.99, 12.34, 7, true,
   E'quote " backslash \\ tab \t nl \n ctl \x01 é 中文 😀', 'vc', 'ab', 'nm',
   '\xdeadbeef00', E'{\n "a" : [1, 2.5, null] }', '{"b": {"c": [true, "\u00e9"]}}',
   '2024-02-29 13:14:15.5+02', '2024-02-29 13:14:15.123456', '2024-02-29',
   '13:14:15', '13:14:15+02', '{1,NULL,3}', '{{a,b},{"c d",NULL}}', 'ok',
   '(1,"x y")', '[2024-01-01 10:00+00,2024-01-02 10:00+00)',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.1.2.3/8', '1 year 2 months 3 days 04:05:06',
   repeat('0123456789', 1000)),
  (2, 32767, 9223372036854775807, 0, 'NaN', '-Infinity', 'NaN', -1.5, -1, 1,
   false, '', '', '', '', '', '[]', 'null', 'infinity', '-infinity',
   '0044-03-15 BC', '00:00:00', '23:59:59.999999-14', '{}', '{}', 'sad',
   '(,)', 'empty', '00000000-0000-0000-0000-000000000000', '::1', '-1 sec', 'x'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT pgsync.snapshot_to_file('snap_types', 'types') AS rows;
SELECT regexp_replace(s, '(0123456789){100}((0123456789){100})+', '0123456789 x 1000') AS line
  FROM snap_show('types') s;

-- every snapshot row is byte-for-byte the values array of the compact
-- insert message of the same row, decoded in this session
CREATE TEMP TABLE decoded AS
  SELECT data FROM pg_logical_slot_get_changes('regress', NULL, NULL,
      'format', 'compact', 'include-transaction', '0');
SELECT count(*) AS inserts,
       count(*) FILTER (WHERE s.l IS NOT NULL) AS identical
  FROM (SELECT substring(data FROM '^\["I",\d+,"[^"]*",(.*)\]$') AS v
          FROM decoded WHERE data LIKE '["I",%') d
  LEFT JOIN (SELECT l FROM snap_file('types') OFFSET 1) s ON s.l = d.v;
-- the header describes the table as the relation message does
SELECT h->'columns' = r->4 AS same_columns, h->'types' = r->5 AS same_types,
       h->'key' = r->6 AS same_key, (h->>'relid')::oid = 'snap_types'::regclass AS relid
  FROM snap_header('types') h,
       (SELECT data::jsonb AS r FROM decoded WHERE data LIKE '["R",%') rm;
-- every row line is valid JSON with one value per column
SELECT bool_and(jsonb_array_length(l::jsonb) = 32) AS rows_are_arrays
  FROM (SELECT l FROM snap_file('types') OFFSET 1 LIMIT 3) r;

-- the snapshot: 64-bit xids, xip sorted inside [xmin, xmax), nothing
-- after this session's snapshot
SELECT (s->>'xmin')::bigint <= (s->>'xmax')::bigint AS xmin_le_xmax,
       (s->>'xmax')::bigint <= pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax_not_future,
       coalesce(bool_and(x::bigint >= (s->>'xmin')::bigint AND x::bigint < (s->>'xmax')::bigint), true) AS xip_in_range,
       (s->>'lsn')::pg_lsn <= pg_current_wal_insert_lsn() AS lsn_ok
  FROM (SELECT snap_header('types')->'snapshot' AS s) h
  LEFT JOIN LATERAL jsonb_array_elements_text(s->'xip') x ON true
  GROUP BY s;

-- a transaction still open when the snapshot is taken is not visible in
-- it (by the join rule: its xid is in xip, or at or above xmax), and its
-- rows are not in the snapshot: the stream must deliver it
CREATE FUNCTION snap_visible(s jsonb, xid bigint) RETURNS boolean
LANGUAGE sql AS $$
  SELECT xid < (s->>'xmin')::bigint OR
         (xid < (s->>'xmax')::bigint AND NOT (s->'xip') @> to_jsonb(xid))
$$;
BEGIN;
INSERT INTO snap_types (id, t) VALUES (4, 'uncommitted at snapshot time');
SELECT pgsync.snapshot_to_file('snap_types', 'open_xact') AS rows;
SELECT snap_visible(snap_header('open_xact')->'snapshot',
                    pg_current_xact_id()::text::bigint) AS own_xact_visible;
SELECT count(*) AS rows_with_id_4 FROM snap_file('open_xact') WHERE l LIKE '[4,%';
COMMIT;
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('regress', NULL, NULL);

-- an empty table: header and trailer only
CREATE TABLE snap_empty (a int, "Mixed ""Case""" text);
SELECT pgsync.snapshot_to_file('snap_empty', 'empty') AS rows;
SELECT * FROM snap_show('empty');

-- only a plain file name under pg_pgsync/snapshots
SELECT pgsync.snapshot_to_file('snap_empty', '../escape');
SELECT pgsync.snapshot_to_file('snap_empty', 'x.tmp');
-- only ordinary tables
CREATE VIEW snap_view AS SELECT 1 AS one;
SELECT pgsync.snapshot_to_file('snap_view', 'view');
-- not while this transaction holds ACCESS EXCLUSIVE (the worker would wait)
BEGIN;
LOCK snap_empty;
SELECT pgsync.snapshot_to_file('snap_empty', 'locked');
ROLLBACK;

-- privileges: the worker reads as the calling role
CREATE ROLE regress_snap_nobody;
CREATE ROLE regress_snap_reader;
GRANT USAGE ON SCHEMA pgsync TO regress_snap_nobody, regress_snap_reader;
-- not granted by default
SET ROLE regress_snap_nobody;
SELECT pgsync.snapshot_to_file('snap_empty', 'nope');
RESET ROLE;
GRANT EXECUTE ON FUNCTION pgsync.snapshot_to_file(regclass, text)
  TO regress_snap_nobody, regress_snap_reader;
SET ROLE regress_snap_nobody;
SELECT pgsync.snapshot_to_file('snap_types', 'denied');
RESET ROLE;
-- a failed export leaves only <name>.tmp, ending with the error trailer
SELECT pg_read_file('pg_pgsync/snapshots/denied.tmp') AS failed_file;
SELECT count(*) AS renamed FROM pg_ls_dir('pg_pgsync/snapshots') f WHERE f = 'denied';

-- row-level security: a non-owner sees only the rows its policy allows
CREATE TABLE snap_rls (id int PRIMARY KEY, owner name);
INSERT INTO snap_rls SELECT g, CASE WHEN g % 3 = 0 THEN 'regress_snap_reader' ELSE 'someone' END
  FROM generate_series(1, 10) g;
ALTER TABLE snap_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY snap_own ON snap_rls FOR SELECT USING (owner = current_user);
GRANT SELECT ON snap_rls TO regress_snap_reader;
SET ROLE regress_snap_reader;
SELECT pgsync.snapshot_to_file('snap_rls', 'rls_reader') AS rows;
RESET ROLE;
SELECT * FROM snap_show('rls_reader');
SELECT pgsync.snapshot_to_file('snap_rls', 'rls_owner') AS rows;

-- a large table (~90 MB) is streamed in batches: the worker's private
-- memory stays small (its VmHWM also counts the shared buffers it read).
-- Under ASan (SANITIZE=1 test/run) shadow memory and the allocator's
-- quarantine come on top: twice the bound.
-- Unlogged so that the slot does not have to decode it.
CREATE UNLOGGED TABLE snap_big (id int PRIMARY KEY, payload text);
INSERT INTO snap_big SELECT g, repeat(md5(g::text), 12) FROM generate_series(1, 200000) g;
SELECT pgsync.snapshot_to_file('snap_big', 'big') AS rows;
SELECT (pg_stat_file('pg_pgsync/snapshots/big')).size > 75 * 1024 * 1024 AS file_over_75mb;
SELECT t->>'rows' AS trailer_rows, t->>'done' AS done,
       (t->>'peak_anon_kb')::int BETWEEN 1 AND 24 * 1024 *
         CASE WHEN pg_read_file('/proc/self/maps') ~ 'libasan' THEN 2 ELSE 1 END
         AS private_memory_under_24mb
  FROM (SELECT reverse(split_part(reverse(rtrim(
                 pg_read_file('pg_pgsync/snapshots/big',
                   (pg_stat_file('pg_pgsync/snapshots/big')).size - 200, 200),
                 E'\n')), E'\n', 1))::jsonb AS t) x;

DROP TABLE snap_rls, snap_big, snap_empty, snap_types;
DROP VIEW snap_view;
DROP OWNED BY regress_snap_nobody, regress_snap_reader;
DROP ROLE regress_snap_nobody, regress_snap_reader;
DROP TYPE snap_mood, snap_pair;
DROP DOMAIN snap_pos;
RESET ALL;
SELECT 'end' FROM pg_replication_slot_advance('regress', pg_current_wal_lsn());
