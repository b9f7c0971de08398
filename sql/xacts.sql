-- xacts: empty transactions, rollbacks, subtransactions.
CREATE TABLE acct (id int PRIMARY KEY, balance int);
CREATE TABLE other (id int);

-- rolled-back work never appears
BEGIN;
INSERT INTO acct VALUES (1, 100);
ROLLBACK;

-- subtransactions: the rolled-back savepoint's changes are gone, the rest
-- arrive in order within one transaction
BEGIN;
INSERT INTO acct VALUES (1, 10);
SAVEPOINT a;
INSERT INTO acct VALUES (2, 20);
ROLLBACK TO SAVEPOINT a;
SAVEPOINT b;
INSERT INTO acct VALUES (3, 30);
SAVEPOINT c;
UPDATE acct SET balance = 31 WHERE id = 3;
RELEASE SAVEPOINT c;
RELEASE SAVEPOINT b;
SAVEPOINT d;
DELETE FROM acct WHERE id = 1;
ROLLBACK TO d;
COMMIT;
SELECT * FROM changes('regress', '{include-timestamps,0}');

-- a transaction with no row changes (DDL only) is skipped by default
CREATE TABLE empty_ddl (x int);
SELECT count(*) AS rows_for_ddl_only FROM pg_logical_slot_peek_changes('regress', NULL, NULL);
SELECT * FROM changes('regress', '{skip-empty-xacts,false,include-timestamps,0}');

-- a transaction whose changes are all filtered out is empty too
INSERT INTO other VALUES (1);
SELECT count(*) AS rows_when_filtered FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'include-tables', 'public.acct');
SELECT * FROM changes('regress', '{include-tables,public.acct,skip-empty-xacts,0,include-timestamps,0}');

-- two sessions interleaving: output is in commit order
\set QUIET on
BEGIN;
INSERT INTO acct VALUES (10, 1);
\! psql -X -q -c "INSERT INTO acct VALUES (11, 1)" contrib_regression
INSERT INTO acct VALUES (12, 1);
COMMIT;
\set QUIET off
SELECT * FROM changes('regress', '{format,compact,include-timestamps,0,include-xids,0}');
