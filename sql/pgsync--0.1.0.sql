-- pgsync extension objects.  The output plugin itself needs no SQL objects:
-- it is used by name, e.g. pg_create_logical_replication_slot('s', 'pgsync').

\echo Use "CREATE EXTENSION pgsync" to load this file. \quit

CREATE FUNCTION version()
RETURNS text
AS 'MODULE_PATHNAME', 'pgsync_version'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION version() IS 'version of the pgsync shared library';

-- Status of the WebSocket worker (needs shared_preload_libraries = 'pgsync').
CREATE FUNCTION status(
    OUT slot_name text,
    OUT state text,
    OUT worker_pid int,
    OUT worker_started timestamptz,
    OUT confirmed_flush_lsn pg_lsn,
    OUT restart_lsn pg_lsn,
    OUT retained_wal_bytes bigint,
    OUT decode_lsn pg_lsn,
    OUT messages_decoded bigint,
    OUT messages_sent bigint,
    OUT bytes_sent bigint,
    OUT clients int,
    OUT last_error text,
    OUT last_error_time timestamptz,
    OUT log_bytes bigint,
    OUT log_oldest_lsn pg_lsn,
    OUT log_last_lsn pg_lsn,
    OUT wal_status text,
    OUT slot_last_advanced timestamptz,
    OUT network_workers int)
RETURNS record
AS 'MODULE_PATHNAME', 'pgsync_status'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION status() IS 'state of the pgsync WebSocket worker and its slot';

CREATE VIEW status AS SELECT * FROM status();

CREATE FUNCTION clients(
    OUT peer text,
    OUT subscriptions text,
    OUT last_lsn_sent pg_lsn,
    OUT queued_bytes bigint,
    OUT messages_sent bigint,
    OUT bytes_sent bigint,
    OUT connected_since timestamptz,
    OUT worker_pid int)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgsync_clients'
LANGUAGE C STRICT VOLATILE ROWS 100;

COMMENT ON FUNCTION clients() IS 'WebSocket clients connected to the pgsync worker';

CREATE VIEW clients AS SELECT * FROM clients();

-- Drop pgsync.slot_name and the change log together (docs/OPERATIONS.md);
-- refused while the worker holds the slot.  Returns the number of change
-- log segments removed.
CREATE FUNCTION drop_slot()
RETURNS int
AS 'MODULE_PATHNAME', 'pgsync_drop_slot'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION drop_slot() IS
  'drop the pgsync replication slot and its change log, releasing the WAL they hold';

REVOKE ALL ON FUNCTION status(), clients(), drop_slot() FROM PUBLIC;
REVOKE ALL ON status, clients FROM PUBLIC;

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
