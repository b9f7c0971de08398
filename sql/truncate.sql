-- truncate: every variant, with its flags, and filtered tables.
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent);
CREATE TABLE seq_t (id serial PRIMARY KEY);
CREATE TABLE lone (id int);

TRUNCATE lone;
TRUNCATE seq_t RESTART IDENTITY;
TRUNCATE parent CASCADE;
TRUNCATE parent, child;
TRUNCATE lone, seq_t CONTINUE IDENTITY;
SELECT * FROM peek('regress', '{include-transaction,0}');
SELECT * FROM changes('regress', '{format,compact,include-transaction,0}');

-- a truncate of excluded tables only is not sent; a mixed one lists the rest
TRUNCATE lone;
TRUNCATE lone, seq_t;
SELECT * FROM changes('regress', '{exclude-tables,public.lone,include-timestamps,0}');
-- actions=insert leaves truncates out
TRUNCATE lone;
SELECT count(*) FROM pg_logical_slot_get_changes('regress', NULL, NULL, 'actions', 'insert');
