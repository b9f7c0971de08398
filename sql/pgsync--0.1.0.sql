-- pgsync extension objects.  The output plugin itself needs no SQL objects:
-- it is used by name, e.g. pg_create_logical_replication_slot('s', 'pgsync').

\echo Use "CREATE EXTENSION pgsync" to load this file. \quit

CREATE FUNCTION version()
RETURNS text
AS 'MODULE_PATHNAME', 'pgsync_version'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION version() IS 'version of the pgsync shared library';
