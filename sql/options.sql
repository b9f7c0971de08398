-- options: table patterns, actions, and clear errors for anything wrong.
CREATE SCHEMA app;
CREATE TABLE app.orders (id int PRIMARY KEY);
CREATE TABLE app.order_lines (id int PRIMARY KEY);
CREATE TABLE app.users (id int PRIMARY KEY);
CREATE TABLE public.orders (id int PRIMARY KEY);
CREATE TABLE "we.ird" (id int PRIMARY KEY);
INSERT INTO app.orders VALUES (1);
INSERT INTO app.order_lines VALUES (1);
INSERT INTO app.users VALUES (1);
INSERT INTO public.orders VALUES (1);
INSERT INTO "we.ird" VALUES (1);
UPDATE app.users SET id = 2;
DELETE FROM app.orders;

CREATE FUNCTION tables_seen(opts text[]) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg((data::json->>'op') || ':' || (data::json->>'schema') || '.' ||
                    (data::json->>'table'), ' ' ORDER BY lsn)
    FROM pg_logical_slot_peek_changes('regress', NULL, NULL, VARIADIC opts)
   WHERE data::json->>'op' IN ('I', 'U', 'D')
$$;
SELECT tables_seen('{}');
SELECT tables_seen('{include-tables,app.*}');
SELECT tables_seen('{include-tables,orders}');		-- any schema
SELECT tables_seen('{include-tables,app.order*}');
SELECT tables_seen('{include-tables,"app.orders, public.*"}');
SELECT tables_seen('{include-tables,*.orders}');
SELECT tables_seen('{include-tables,app.?sers}');
SELECT tables_seen('{exclude-tables,app.*}');
SELECT tables_seen('{include-tables,app.*,exclude-tables,app.order_*}');
SELECT tables_seen('{include-tables,we\\.ird}');		-- escaped dot
SELECT tables_seen('{include-tables,nomatch.*}');
SELECT tables_seen('{actions,insert}');
SELECT tables_seen('{actions,"update, delete"}');
SELECT tables_seen('{actions,delete,include-tables,app.orders}');
SELECT count(*) > 0 FROM pg_logical_slot_get_changes('regress', NULL, NULL);

-- every bad option is an ERROR naming it
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'no-such-option', '1');
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'format', 'xml');
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'include-xids', 'perhaps');
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'actions', 'insert,upsert');
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'actions', 'insert,,delete');
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'include-tables', 'a.b.c');
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'include-tables', 'app.');
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'exclude-tables', 'x\');
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'message-prefixes', ' , ');
SELECT * FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'format', 'full', 'format', 'compact');
-- creating a slot with the plugin checks nothing but the name
SELECT 'ok' FROM pg_create_logical_replication_slot('regress_tmp', 'pgsync', true);
SELECT pg_drop_replication_slot('regress_tmp');
