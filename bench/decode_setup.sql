-- bench/decode_setup.sql: schema, slots and helpers for bench/decode.
-- Run once on a fresh cluster, before the workload: the slots must exist
-- before the first change so that every contender decodes all of it.

CREATE TABLE bench (
	id		int PRIMARY KEY,
	name	text,
	amount	numeric(12,2),
	created	timestamptz,
	active	bool,
	attrs	jsonb
);

CREATE PUBLICATION bench_pub FOR TABLE bench;

-- The workload: n_ins inserts, then n_upd updates (text, numeric, bool) of
-- ids 1..n_upd, then n_del deletes of the last n_del ids, in transactions
-- of batch rows.  n_upd + n_del <= n_ins, so every statement touches
-- exactly the rows it names and the change count is n_ins + n_upd + n_del.
CREATE PROCEDURE bench_workload(n_ins int, n_upd int, n_del int, batch int)
LANGUAGE plpgsql AS $$
DECLARE
	lo	int;
BEGIN
	lo := 1;
	WHILE lo <= n_ins LOOP
		INSERT INTO bench
		SELECT i,
			   'customer ' || substr(md5(i::text), 1, 16),	-- 25 chars
			   round((i % 100000) * 1.37, 2),
			   timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second',
			   i % 3 <> 0,
			   jsonb_build_object('k', i % 1000, 'tag', substr(md5(i::text), 17, 3))
		  FROM generate_series(lo, least(lo + batch - 1, n_ins)) AS i;
		COMMIT;
		lo := lo + batch;
	END LOOP;

	lo := 1;
	WHILE lo <= n_upd LOOP
		UPDATE bench
		   SET name = 'renamed ' || substr(md5(id::text), 1, 16),	-- 24 chars
			   amount = amount + 1.25,
			   active = NOT active
		 WHERE id BETWEEN lo AND least(lo + batch - 1, n_upd);
		COMMIT;
		lo := lo + batch;
	END LOOP;

	lo := n_ins - n_del + 1;
	WHILE lo <= n_ins LOOP
		DELETE FROM bench WHERE id BETWEEN lo AND least(lo + batch - 1, n_ins);
		COMMIT;
		lo := lo + batch;
	END LOOP;
END
$$;

-- One timed decode: q is a query returning (rows, bytes).  Wall time is
-- taken inside the server, so connection and client costs are left out.
-- It writes nothing: a write during the timed runs would add transactions
-- for the later runs to decode.
CREATE FUNCTION bench_time(q text, OUT secs float8, OUT nrows bigint,
						   OUT nbytes bigint)
LANGUAGE plpgsql AS $$
DECLARE
	t0	timestamptz;
BEGIN
	t0 := clock_timestamp();
	EXECUTE q INTO nrows, nbytes;
	secs := extract(epoch FROM clock_timestamp() - t0);
END
$$;

-- Last, so that no DDL of the setup lands in what the slots decode.
SELECT pg_create_logical_replication_slot('bench_pgsync_full', 'pgsync');
SELECT pg_create_logical_replication_slot('bench_pgsync_compact', 'pgsync');
SELECT pg_create_logical_replication_slot('bench_wal2json', 'wal2json');
SELECT pg_create_logical_replication_slot('bench_pgoutput', 'pgoutput');
SELECT pg_create_logical_replication_slot('bench_test_decoding', 'test_decoding');
