-- identity: old keys and rows per REPLICA IDENTITY, odd identifiers.
CREATE TABLE ri_default (id int PRIMARY KEY, k2 int, v text);
CREATE TABLE ri_nopk (id int, v text);
CREATE TABLE ri_full (id int, v text, n int);
ALTER TABLE ri_full REPLICA IDENTITY FULL;
CREATE TABLE ri_nothing (id int PRIMARY KEY, v text);
ALTER TABLE ri_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE ri_index (id int PRIMARY KEY, code text NOT NULL, v text);
CREATE UNIQUE INDEX ri_index_code ON ri_index (code);
ALTER TABLE ri_index REPLICA IDENTITY USING INDEX ri_index_code;
CREATE TABLE ri_multi (a int, b text, v text, PRIMARY KEY (b, a));

INSERT INTO ri_default VALUES (1, 1, 'a');
UPDATE ri_default SET v = 'b';			-- key unchanged: no old key
UPDATE ri_default SET id = 2;			-- key changed: old key
DELETE FROM ri_default;					-- old key
INSERT INTO ri_nopk VALUES (1, 'a');
UPDATE ri_nopk SET v = 'b';				-- no identity: nothing old
DELETE FROM ri_nopk;					-- old is null: unavailable
INSERT INTO ri_full VALUES (1, 'a', NULL);
UPDATE ri_full SET v = 'b';				-- full old row
DELETE FROM ri_full;
INSERT INTO ri_nothing VALUES (1, 'a');
UPDATE ri_nothing SET id = 2;			-- nothing, even if the key changed
DELETE FROM ri_nothing;
INSERT INTO ri_index VALUES (1, 'x', 'a');
UPDATE ri_index SET v = 'b';
UPDATE ri_index SET code = 'y';			-- index key changed
UPDATE ri_index SET id = 5;				-- pk changed, identity index did not
DELETE FROM ri_index;
INSERT INTO ri_multi VALUES (1, 'k', 'v');
UPDATE ri_multi SET a = 2;
DELETE FROM ri_multi;
SELECT * FROM peek('regress', '{include-transaction,0}');
SELECT * FROM changes('regress', '{include-transaction,0,format,compact}');

-- identifiers needing quotes, spaces, Unicode, JSON escapes
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Table ""quoted"" \ back" (
  "Id" int PRIMARY KEY, "two words" text, "ünïcødé" int, "a""b" int,
  "tab	in name" int, "x.y" int);
INSERT INTO "My Schema"."Table ""quoted"" \ back" VALUES (1, 'v', 2, 3, 4, 5);
SELECT * FROM peek('regress', '{include-transaction,0}');
SELECT * FROM changes('regress', '{include-transaction,0,format,compact}');
