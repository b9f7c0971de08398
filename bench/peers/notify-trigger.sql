-- bench/peers/notify-trigger.sql: the trigger half of notify-bridge.js.
-- One notification per changed row on channel pgsync_bench; the payload is
-- the message clients get:
--   {"op" : "insert", "schema" : "public", "table" : "lat", "row" : {...}}
-- (json_build_object's spacing; row_to_json writes timestamptz as
-- "2026-11-30T22:43:23.123456+00:00").  pg_notify payloads must be under
-- 8000 bytes: a wider row makes the writing statement fail.
-- Attach it with
--   CREATE TRIGGER bench_notify AFTER INSERT OR UPDATE OR DELETE ON lat
--     FOR EACH ROW EXECUTE FUNCTION bench_notify_change();
CREATE OR REPLACE FUNCTION bench_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('pgsync_bench', json_build_object(
    'op', lower(TG_OP),
    'schema', TG_TABLE_SCHEMA,
    'table', TG_TABLE_NAME,
    'row', CASE WHEN TG_OP = 'DELETE' THEN row_to_json(OLD) ELSE row_to_json(NEW) END)::text);
  RETURN NULL;
END $$;
