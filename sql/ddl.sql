-- ddl: the schema changes mid-stream; the compact relation message follows.
CREATE TABLE evolving (id int PRIMARY KEY, a text);
INSERT INTO evolving VALUES (1, 'one');
ALTER TABLE evolving ADD COLUMN b int DEFAULT 7;
INSERT INTO evolving VALUES (2, 'two', 2);
ALTER TABLE evolving DROP COLUMN a;
INSERT INTO evolving VALUES (3, 3);
ALTER TABLE evolving RENAME COLUMN b TO bee;
ALTER TABLE evolving ALTER COLUMN bee TYPE bigint;
INSERT INTO evolving VALUES (4, 4);
ALTER TABLE evolving RENAME TO evolved;
INSERT INTO evolved VALUES (5, 5);
ALTER TABLE evolved REPLICA IDENTITY FULL;
DELETE FROM evolved WHERE id = 5;
-- DDL and DML in one transaction
BEGIN;
ALTER TABLE evolved ADD COLUMN c text;
INSERT INTO evolved VALUES (6, 6, 'six');
ALTER TABLE evolved DROP COLUMN c;
INSERT INTO evolved VALUES (7, 7);
COMMIT;
-- an invalidation that changes nothing visible (ANALYZE, a comment) does
-- not make the relation message repeat
ANALYZE evolved;
COMMENT ON TABLE evolved IS 'hello';
INSERT INTO evolved VALUES (8, 8);
SELECT * FROM peek('regress', '{format,compact,include-transaction,0}');
SELECT * FROM changes('regress', '{include-transaction,0}');
