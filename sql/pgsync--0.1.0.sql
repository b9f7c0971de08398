-- pgsync extension objects.  The output plugin itself needs no SQL objects:
-- it is used by name, e.g. pg_create_logical_replication_slot('s', 'pgsync').

\echo Use "CREATE EXTENSION pgsync" to load this file. \quit

CREATE FUNCTION version()
RETURNS text
AS 'MODULE_PATHNAME', 'pgsync_version'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION version() IS 'version of the pgsync shared library';

-- Initial snapshot of a table to a file, by the snapshot background worker
-- (docs/SNAPSHOT.md).  The file is $PGDATA/pg_pgsync/snapshots/<path>, path
-- being a plain file name (A-Z a-z 0-9 . _ -, no directory part); the rows
-- are read with the caller's privileges (SELECT on the table, row-level
-- security).  Returns the number of rows.  Writing files in the data
-- directory is not for everyone: only superusers may call it unless granted.
CREATE FUNCTION snapshot_to_file(rel regclass, path text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgsync_snapshot_to_file'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION snapshot_to_file(regclass, text) FROM PUBLIC;

COMMENT ON FUNCTION snapshot_to_file(regclass, text) IS
  'export the rows of a table under a REPEATABLE READ snapshot to pg_pgsync/snapshots/<path>';
