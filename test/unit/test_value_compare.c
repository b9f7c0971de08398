/*-------------------------------------------------------------------------
 *
 * test_value_compare.c
 *	  Unit tests of src/filter/value_compare.c: exact decimals, ISO 8601
 *	  dates and times as sort keys, JSON equality by meaning.  (Comparisons
 *	  through row filters are in test_row_filter.c.)
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "filter/value_compare.h"
#include "json/json_value.h"
#include "unit.h"

static void
test_decimal(void)
{
	Decimal		a,
				b;

#define DCMP(x, y) (decimal_parse(x, strlen(x), &a) && decimal_parse(y, strlen(y), &b) ? \
					decimal_cmp(&a, &b) : 99)
	CHECK(DCMP("007", "7") == 0);
	CHECK(DCMP("7.000", "7") == 0);
	CHECK(DCMP("70", "7e1") == 0);
	CHECK(DCMP("0.07", "7E-2") == 0);
	CHECK(DCMP("1e1000000000000000", "1e999") == 1);
	CHECK(DCMP("-1e1000000000000000", "-1e999") == -1);
	CHECK(DCMP("1e-99999999999999999999", "0") == 1);
	CHECK(DCMP("0e5", "-0.000") == 0);
	CHECK(DCMP("-1", "1") == -1);
	CHECK(DCMP("-2", "-10") == 1);
	CHECK(DCMP("10.01", "10.1") == -1);
	CHECK(DCMP("123.456", "123.4559999") == 1);
	CHECK(DCMP("-Infinity", "NaN") == -1);
	CHECK(DCMP("+inf", "Infinity") == 0);
	CHECK(DCMP("NaN", "NaN") == 0);
	CHECK(DCMP("5.", ".5e1") == 0);
	CHECK(DCMP("", "0") == 99);
	CHECK(DCMP(".", "0") == 99);
	CHECK(DCMP("1.2.3", "0") == 99);
	CHECK(DCMP("-nan", "0") == 99);
	CHECK(DCMP("1e+", "0") == 99);
	CHECK(DCMP("0x10", "0") == 99);
#undef DCMP
}

static int
dt_cmp(const char *x, const char *y, DateTimeType t)
{
	TimeKey		a,
				b;

	if (!datetime_parse(x, strlen(x), t, &a) || !datetime_parse(y, strlen(y), t, &b))
		return 99;
	return timekey_cmp(&a, &b);
}

static bool
dt_ok(const char *x, DateTimeType t)
{
	TimeKey		k;

	return datetime_parse(x, strlen(x), t, &k);
}

static void
test_datetime(void)
{
	/* the same instant written with different offsets */
	CHECK(dt_cmp("2024-01-02T03:04:05Z", "2024-01-02 04:04:05+01", DT_TIMESTAMPTZ) == 0);
	CHECK(dt_cmp("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000001Z", DT_TIMESTAMPTZ) == -1);
	CHECK(dt_cmp("2024-01-02T03:04:05+05:30", "2024-01-01T21:34:05Z", DT_TIMESTAMPTZ) == 0);
	CHECK(!dt_ok("2024-01-02T03:04:05", DT_TIMESTAMPTZ));	/* offset required */
	CHECK(dt_ok("2024-01-02", DT_TIMESTAMP) && dt_ok("2024-01-02 03:04", DT_TIMESTAMP));
	CHECK(!dt_ok("2024-01-02T03:04:05Z", DT_TIMESTAMP));	/* no offset */
	CHECK(dt_cmp("2024-01-02", "2024-01-03", DT_DATE) == -1);
	CHECK(dt_cmp("0044-03-15 BC", "0001-01-01", DT_DATE) == -1);
	CHECK(dt_cmp("infinity", "294276-12-31", DT_DATE) == 1);
	CHECK(dt_cmp("-infinity", "4713-01-01 BC", DT_DATE) == -1);
	CHECK(dt_cmp("12:00", "12:00:00.000001", DT_TIME) == -1);
	CHECK(dt_cmp("23:59:59", "00:00", DT_TIME) == 1);
	CHECK(dt_ok("12:00+01", DT_TIMETZ) && !dt_ok("12:00", DT_TIMETZ));
	CHECK(!dt_ok("2024-13-01", DT_DATE));
	CHECK(!dt_ok("2024-02-30", DT_DATE));
	CHECK(!dt_ok("", DT_DATE));
	CHECK(!dt_ok("24:00:01", DT_TIME));
}

static int
jeq(const char *x, const char *y)
{
	JsonDoc    *da = json_doc_create(1024, 256, 32);
	JsonDoc    *db = json_doc_create(1024, 256, 32);
	const JsonValue *a = json_parse(da, x, strlen(x), NULL);
	const JsonValue *b = json_parse(db, y, strlen(y), NULL);
	int			r = (a == NULL || b == NULL) ? 99 : json_semantic_equal(a, b);

	json_doc_free(da);
	json_doc_free(db);
	return r;
}

static void
test_json_equal(void)
{
	CHECK(jeq("1.0", "1") == 1);
	CHECK(jeq("1e2", "100") == 1);
	CHECK(jeq("{\"a\":1,\"b\":[2,3]}", "{\"b\":[2,3.0],\"a\":1}") == 1);
	CHECK(jeq("[1,2]", "[2,1]") == 0);
	CHECK(jeq("\"a\"", "\"b\"") == 0);
	CHECK(jeq("\"1\"", "1") == 0);
	CHECK(jeq("null", "false") == 0);
	CHECK(jeq("{\"a\":1}", "{\"a\":1,\"b\":2}") == 0);
	CHECK(jeq("{}", "{}") == 1 && jeq("[]", "[]") == 1);
}

int
main(void)
{
	test_decimal();
	test_datetime();
	test_json_equal();
	return unit_summary();
}
