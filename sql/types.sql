-- types: every type family as JSON, and output that is always valid JSON.
SET extra_float_digits = 0;	-- must not change our float output
SET bytea_output = 'escape';	-- nor bytea's
SET TimeZone = 'America/New_York';	-- nor timestamptz's (always UTC)
SET DateStyle = 'SQL, DMY';	-- nor dates'

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN email AS text;

CREATE TABLE numbers (
  id serial PRIMARY KEY,
  i2 smallint, i4 int, i8 bigint, o oid,
  f4 real, f8 double precision,
  n numeric, n2 numeric(10,2), m money, d posint);
INSERT INTO numbers (i2, i4, i8, o, f4, f8, n, n2, m, d) VALUES
  (-32768, -2147483648, -9223372036854775808, 0, 1.5, 0.1, 0, 0, 0, 1),
  (32767, 2147483647, 9223372036854775807, 4294967295, 3.4e38, 1e308,
   123456789012345678901234567890.123456789, 99999999.99, 12.34, 42),
  (NULL, NULL, NULL, NULL, 'NaN', 'NaN', 'NaN', NULL, NULL, NULL),
  (0, 0, 0, 1, 'Infinity', '-Infinity', 'Infinity', -1.5, -1, 7),
  (1, 1, 1, 1, -0.0, 1e-300, '-Infinity', 0.01, NULL, 3),
  (2, 2, 2, 2, 1.17549435e-38, 2.2250738585072014e-308, -0.000001, 1, NULL, 9);
SELECT * FROM peek('regress', '{include-transaction,0}');
SELECT * FROM changes('regress', '{include-transaction,0,numeric-as-number,1}');
-- numbers that JSON could not hold are strings even with numeric-as-number
INSERT INTO numbers (n) VALUES ('NaN'), ('Infinity');
SELECT * FROM changes('regress', '{include-transaction,0,numeric-as-number,1,format,compact}');

CREATE TABLE texts (
  id int PRIMARY KEY, t text, vc varchar(10), c char(5), nm name, e email,
  "char" "char", x xml, u uuid);
INSERT INTO texts VALUES
  (1, 'plain', 'vc', 'ab', 'nm', 'a@b.c', 'x', '<a>1</a>',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
  (2, E'quote " backslash \\ slash / tab \t nl \n cr \r ff \f bs \b', '', '', '', '', ' ', NULL, NULL),
  (3, E'ctl \x01\x02\x1f del \x7f', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 'unicode: é ß 中文 😀 ︎ zero-width​joiner', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (5, E'line\u2028sep\u2029', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (6, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM changes('regress', '{include-transaction,0}');

-- every control character round-trips through JSON
INSERT INTO texts (id, t)
  SELECT 100, string_agg(chr(c), '' ORDER BY c) FROM generate_series(1, 127) c;
SELECT data::json->'new'->>'t' = (SELECT string_agg(chr(c), '' ORDER BY c)
                                    FROM generate_series(1, 127) c) AS all_ascii_roundtrip
  FROM pg_logical_slot_get_changes('regress', NULL, NULL, 'include-transaction', '0');

CREATE TABLE jsons (id int PRIMARY KEY, j json, jb jsonb, by bytea);
INSERT INTO jsons VALUES
  (1, '{"a": [1, 2.5, "x", null, true]}', '{"b": {"c": "d"}, "e": [1e3]}', '\xdeadbeef'),
  (2, '"just a string"', '"\u00e9\n"', ''),
  (3, '  [ ]  ', '[]', '\x00'),
  (4, '{"nul": "\u0000"}', 'null', NULL),
  (5, '123', '-0.5', 'bytes with '' quote'),
  (6, E'{\n\t"multi": "line"\r\n}', NULL, NULL),  -- no raw newline in output
  (7, NULL, E'{"": {}, "a\\"b": [[], {}, [null]], "k\\n": "v\\u0001", "n": 1.50, '
            '"big": 123456789012345678901234567890, "neg": -1e-5, "t": true, '
            '"deep": [[[[{"x": [1, [2, [3]]]}]]]], "u": "é😀"}', NULL);
-- jsonb is written compactly from its binary form: same value
SELECT bool_and((data::json->'new'->'jb')::jsonb IS NOT DISTINCT FROM
                (SELECT coalesce(jb, 'null') FROM jsons
                  WHERE id = (data::json->'new'->>'id')::int)) AS jsonb_roundtrip
  FROM pg_logical_slot_peek_changes('regress', NULL, NULL, 'include-transaction', '0')
 WHERE strpos(data, '\u0000') = 0;	-- json operators refuse \u0000
SELECT * FROM changes('regress', '{include-transaction,0}');

CREATE TABLE times (
  id int PRIMARY KEY, ts timestamp, tstz timestamptz, d date, t time,
  tz timetz, iv interval);
INSERT INTO times VALUES
  (1, '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.5+05:30', '2024-02-29',
   '13:14:15', '13:14:15+02', '1 day 2 hours'),
  (2, 'infinity', '-infinity', 'infinity', '00:00', '00:00+00', '-1 year'),
  (3, '0044-03-15 12:00 BC', '2000-01-01 00:00:00+00', '0001-01-01 BC', '24:00', '23:59:59.999999-12', '0'),
  (4, '2024-01-01 00:00:00', '2024-06-30 23:59:59.999999Z', '1970-01-01', NULL, NULL, NULL);
SELECT * FROM changes('regress', '{include-transaction,0}');

-- other types go through their output function, so session settings apply
RESET DateStyle;
RESET TimeZone;
CREATE TABLE others (
  id int PRIMARY KEY, mo mood, pr pair, r int4range, tr tstzrange, b bool,
  bits bit varying(8), ip inet, pt point, v tsvector);
INSERT INTO others VALUES
  (1, 'happy', ROW(1, 'x "y"'), '[1,10)', '[2024-01-01,2024-02-01)', true,
   B'101', '192.168.0.1/24', '(1.5,2)', 'a fat cat'),
  (2, NULL, NULL, 'empty', NULL, false, NULL, '::1', NULL, NULL);
SELECT * FROM changes('regress', '{include-transaction,0}');

CREATE TABLE arrays (
  id int PRIMARY KEY, ia int[], ta text[], na numeric[], ba bool[],
  ja jsonb[], tsa timestamptz[], ea mood[], m2 int[][], da posint[], ua uuid[]);
INSERT INTO arrays VALUES
  (1, '{1,2,NULL,4}', '{"a","b c","d\"e",NULL,"NULL"}', '{1.5,NaN}', '{t,f}',
   ARRAY['{"k":1}'::jsonb, '[]'], '{2024-01-01 00:00:00+00}', '{sad,happy}',
   '{{1,2},{3,4}}', '{5}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'),
  (2, '{}', '{}', NULL, NULL, NULL, NULL, '{}', '{{{1},{2}},{{3},{4}}}', NULL, NULL),
  (3, '[0:1]={7,8}', '{""}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM changes('regress', '{include-transaction,0}');

-- the compact relation message names each column's type
INSERT INTO arrays (id) VALUES (4);
INSERT INTO times (id) VALUES (5);
SELECT * FROM changes('regress', '{include-transaction,0,format,compact}');
RESET ALL;
