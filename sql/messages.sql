-- messages: pg_logical_emit_message, transactional or not, prefix filters.
SELECT 'm' FROM pg_logical_emit_message(false, 'app.alert', 'non-transactional');
BEGIN;
SELECT 'm' FROM pg_logical_emit_message(true, 'app.audit', 'in a transaction');
SELECT 'm' FROM pg_logical_emit_message(true, 'other', E'tab\there "quoted" é');
COMMIT;
BEGIN;
SELECT 'm' FROM pg_logical_emit_message(true, 'app.audit', 'rolled back');
SELECT 'm' FROM pg_logical_emit_message(false, 'app.alert', 'sent even though rolled back');
ROLLBACK;
SELECT 'm' FROM pg_logical_emit_message(false, 'bin', '\x00ff10'::bytea);
SELECT 'm' FROM pg_logical_emit_message(false, 'bin', '\xc328'::bytea);  -- invalid UTF-8
SELECT 'm' FROM pg_logical_emit_message(false, 'empty', '');
SELECT 'm' FROM pg_logical_emit_message(false, E'odd "prefix"\n', 'x');
-- non-transactional messages are not flushed by themselves: a transaction
-- that writes WAL flushes them (DDL only, so it is not in the output)
CREATE TABLE flush_wal ();
SELECT * FROM peek('regress', '{include-timestamps,0}');
SELECT * FROM peek('regress', '{format,compact,include-timestamps,0}');
-- prefix filters are glob patterns
SELECT * FROM peek('regress', '{message-prefixes,app.*,include-timestamps,0}');
SELECT * FROM peek('regress', '{message-prefixes,"bin, other",include-timestamps,0}');
-- actions without message leave them out
SELECT count(*) FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'actions', 'insert,update');
SELECT count(*) > 0 FROM pg_logical_slot_get_changes('regress', NULL, NULL);
