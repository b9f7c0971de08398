-- init: create the extension and the helpers every later test uses.
CREATE EXTENSION pgsync;
SELECT pgsync.version() ~ '^\d+\.\d+\.\d+$' AS version_ok;

-- Changes of a slot with the values that differ between runs masked:
-- LSNs, xids, relation oids and commit timestamps.  Data values are never
-- masked.  Every row is also checked to be valid JSON.
CREATE FUNCTION changes(slot name, opts text[] DEFAULT '{}')
RETURNS SETOF text LANGUAGE sql AS $$
  SELECT CASE WHEN data::json IS NULL THEN 'not json' ELSE
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
      data,
      '"[0-9A-F]{1,8}/[0-9A-F]{1,8}"', '"LSN"', 'g'),
      '^\["([RIUD])",\d+', '["\1",OID'),
      '^(\["T","LSN",\[)[\d,]+', '\1OIDS'),
      '^(\["[BC]",|\{"op":"[BC]","xid":)\d+', '\1XID'),
      '("ts":|\["[BC]",[^\]]*)"\d{4}-\d\d-\d\dT[\d:.]+Z"', '\1"TS"')
  END
  FROM pg_logical_slot_get_changes(slot, NULL, NULL, VARIADIC opts)
$$;

-- Same, but peeking (the changes stay in the slot).
CREATE FUNCTION peek(slot name, opts text[] DEFAULT '{}')
RETURNS SETOF text LANGUAGE sql AS $$
  SELECT regexp_replace(regexp_replace(regexp_replace(
      data,
      '"[0-9A-F]{1,8}/[0-9A-F]{1,8}"', '"LSN"', 'g'),
      '^\["([RIUD])",\d+', '["\1",OID'),
      '^(\["[BC]",|\{"op":"[BC]","xid":)\d+', '\1XID')
  FROM pg_logical_slot_peek_changes(slot, NULL, NULL, VARIADIC opts)
$$;

SELECT 'init' FROM pg_create_logical_replication_slot('regress', 'pgsync');
