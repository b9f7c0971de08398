/*-------------------------------------------------------------------------
 *
 * test_row_filter.c
 *	  Unit tests of src/filter/row_filter.c: every operator on every type
 *	  family, three-valued logic, key-only rows, every error class, date/time
 *	  edge cases through filters (value_compare.c has test_value_compare.c).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "filter/row_filter.h"
#include "filter/value_compare.h"
#include "json/json_encode.h"
#include "unit.h"

#define F ROW_FILTER_FALSE
#define T ROW_FILTER_TRUE
#define U ROW_FILTER_UNKNOWN
#define ERR (-1)

static const char *const col_defs[][2] = {
	{"id", "integer"},						/* 0 */
	{"big", "bigint"},						/* 1 */
	{"amount", "numeric(12,2)"},			/* 2 */
	{"score", "double precision"},			/* 3 */
	{"name", "text"},						/* 4 */
	{"code", "character(5)"},				/* 5 */
	{"active", "boolean"},					/* 6 */
	{"ts", "timestamp(3) with time zone"},	/* 7 */
	{"lts", "timestamp without time zone"}, /* 8 */
	{"day", "date"},						/* 9 */
	{"meta", "jsonb"},						/* 10 */
	{"tags", "text[]"},						/* 11 */
	{"uid", "uuid"},						/* 12 */
	{"at", "time without time zone"},		/* 13 */
	{"attz", "time with time zone"},		/* 14 */
	{"span", "interval"},					/* 15 */
	{"small", "smallint"},					/* 16 */
	{"r", "real"},							/* 17 */
	{"vc", "character varying(20)"},		/* 18 */
};

#define NCOLS ((int) (sizeof(col_defs) / sizeof(col_defs[0])))

static RowFilterColumn cols[NCOLS];
static JsonDoc *fdoc;
static JsonDoc *rdoc;
static RowFilterError ferr;

static RowFilter *
compile(const char *filter)
{
	JsonError	jerr;
	const JsonValue *fv = json_parse(fdoc, filter, strlen(filter), &jerr);

	if (fv == NULL)
	{
		fprintf(stderr, "  bad test JSON %.200s: %s\n", filter, jerr.message);
		ferr.code = FILTER_SYNTAX;
		return NULL;
	}
	return row_filter_compile(fv, cols, NCOLS, &ferr);
}

/*
 * Compile filter, evaluate it on a row given as column=value pairs in a
 * JSON object (the rest of the row is null); ERR if it does not compile.
 */
static int
eval_on(const char *filter, const char *rowobj)
{
	char		row[4096];
	size_t		n = 0;
	const JsonValue *obj,
			   *values;
	RowFilter  *f = compile(filter);
	JsonError	jerr;
	int			i,
				r;

	if (f == NULL)
		return ERR;
	/* turn {"id":1,...} into the positional array */
	obj = json_parse(rdoc, rowobj, strlen(rowobj), &jerr);
	row[n++] = '[';
	for (i = 0; i < NCOLS; i++)
	{
		const JsonValue *v = json_object_get_cstr(obj, col_defs[i][0]);
		size_t		w;

		if (i > 0)
			row[n++] = ',';
		if (v == NULL)
		{
			memcpy(row + n, "null", 4);
			n += 4;
		}
		else
		{
			w = json_value_write(v, row + n, sizeof(row) - n - 2);
			n += w;
		}
	}
	row[n++] = ']';
	values = json_parse(rdoc, row, n, &jerr);
	r = values ? (int) row_filter_eval(f, values) : ERR;
	row_filter_free(f);
	return r;
}

/* One comparison on one column with one literal against one value. */
static int
cmp(const char *col, const char *op, const char *literal, const char *value)
{
	char		filter[512];
	char		row[512];

	snprintf(filter, sizeof(filter), "{\"col\":\"%s\",\"op\":\"%s\",\"value\":%s}",
			 col, op, literal);
	snprintf(row, sizeof(row), "{\"%s\":%s}", col, value);
	return eval_on(filter, row);
}

static int
in(const char *col, const char *values, const char *value)
{
	char		filter[512];
	char		row[512];

	snprintf(filter, sizeof(filter), "{\"col\":\"%s\",\"op\":\"in\",\"values\":%s}",
			 col, values);
	snprintf(row, sizeof(row), "{\"%s\":%s}", col, value);
	return eval_on(filter, row);
}

/* Error code of compiling filter (FILTER_OK if it compiles). */
static RowFilterErrorCode
compile_error(const char *filter)
{
	RowFilter  *f = compile(filter);

	if (f != NULL)
	{
		row_filter_free(f);
		return FILTER_OK;
	}
	return ferr.code;
}

/* All six ordering operators: expect "<", "=" or ">" of value vs literal. */
static int
orders(const char *col, const char *value, const char *literal, char rel)
{
	static const char *const ops[] = {"eq", "neq", "lt", "lte", "gt", "gte"};
	int			want[6];
	int			i,
				ok = 1;

	want[0] = rel == '=';
	want[1] = rel != '=';
	want[2] = rel == '<';
	want[3] = rel != '>';
	want[4] = rel == '>';
	want[5] = rel != '<';
	for (i = 0; i < 6; i++)
	{
		int			r = cmp(col, ops[i], literal, value);

		if (r != (want[i] ? T : F))
		{
			fprintf(stderr, "  %s %s %s %s: got %d\n", col, value, ops[i], literal, r);
			ok = 0;
		}
	}
	return ok;
}

static void
test_numbers(void)
{
	CHECK(orders("id", "5", "5", '='));
	CHECK(orders("id", "5", "6", '<'));
	CHECK(orders("id", "-5", "-6", '>'));
	CHECK(orders("id", "0", "-0", '='));
	CHECK(orders("id", "100", "1e2", '='));
	CHECK(orders("id", "100", "\"100\"", '='));
	CHECK(orders("id", "100", "\"+0100.00\"", '='));
	CHECK(orders("id", "100", "99.5", '>'));
	CHECK(orders("id", "100", "100.0001", '<'));
	CHECK(orders("small", "-32768", "-32768", '='));
	/* int64 extremes and beyond 2^53, exactly */
	CHECK(orders("big", "9223372036854775807", "9223372036854775806", '>'));
	CHECK(orders("big", "9223372036854775807", "\"9223372036854775807\"", '='));
	CHECK(orders("big", "-9223372036854775808", "-9223372036854775807", '<'));
	CHECK(orders("big", "9007199254740993", "9007199254740992", '>'));
	CHECK(orders("big", "9223372036854775807", "1e19", '<'));
	CHECK(orders("big", "9223372036854775807", "9223372036854775807.5", '<'));
	/* numeric: string (default) or number (numeric_as_number) values */
	CHECK(orders("amount", "\"1.50\"", "1.5", '='));
	CHECK(orders("amount", "1.50", "\"1.5\"", '='));
	CHECK(orders("amount", "\"-0.00\"", "0", '='));
	CHECK(orders("amount", "\"-1.25\"", "-1.2", '<'));
	CHECK(orders("amount", "\"123.45\"", "\"123.4500001\"", '<'));
	CHECK(orders("amount", "\"0.001\"", "1e-3", '='));
	CHECK(orders("amount", "\"12345678901234567890.12\"", "12345678901234567890.11", '>'));
	CHECK(orders("amount", "\"0.5\"", "\".5\"", '='));
	CHECK(orders("amount", "\"-0.5\"", "-0.05e1", '='));
	CHECK(orders("amount", "\"NaN\"", "\"NaN\"", '='));
	CHECK(orders("amount", "\"NaN\"", "\"Infinity\"", '>'));
	CHECK(orders("amount", "\"NaN\"", "1e308", '>'));
	CHECK(orders("amount", "\"Infinity\"", "\"inf\"", '='));
	CHECK(orders("amount", "\"-Infinity\"", "-1e300", '<'));
	CHECK(orders("amount", "\"5\"", "\"NaN\"", '<'));
	/* floats */
	CHECK(orders("score", "1.5", "1.5", '='));
	CHECK(orders("score", "1e+20", "100000000000000000000", '='));
	CHECK(orders("score", "\"NaN\"", "\"nan\"", '='));
	CHECK(orders("score", "\"-Infinity\"", "-1", '<'));
	CHECK(orders("r", "0.1", "0.1", '='));
	CHECK(in("id", "[1,2,3]", "2") == T);
	CHECK(in("id", "[1,2,3]", "4") == F);
	CHECK(in("amount", "[\"1.5\",2]", "\"2.00\"") == T);
	/* a row value that is not a number is UNKNOWN */
	CHECK(cmp("id", "eq", "1", "\"x\"") == U);
	CHECK(cmp("id", "eq", "1", "true") == U);
	/* literals */
	CHECK(compile_error("{\"col\":\"id\",\"op\":\"eq\",\"value\":\"abc\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"id\",\"op\":\"eq\",\"value\":\"NaN\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"id\",\"op\":\"eq\",\"value\":true}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"id\",\"op\":\"eq\",\"value\":[1]}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"id\",\"op\":\"eq\",\"value\":\"1 \"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"amount\",\"op\":\"eq\",\"value\":\"NaN\"}") == FILTER_OK);
	CHECK(compile_error("{\"col\":\"score\",\"op\":\"lt\",\"value\":\"-Infinity\"}") == FILTER_OK);
	CHECK(compile_error("{\"col\":\"amount\",\"op\":\"eq\",\"value\":\"1e\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"amount\",\"op\":\"eq\",\"value\":\"\"}") == FILTER_BAD_VALUE);
}

static void
test_text(void)
{
	CHECK(orders("name", "\"abc\"", "\"abc\"", '='));
	CHECK(orders("name", "\"abc\"", "\"abd\"", '<'));
	CHECK(orders("name", "\"ab\"", "\"abc\"", '<'));
	CHECK(orders("name", "\"\"", "\"a\"", '<'));
	CHECK(orders("name", "\"a\"", "\"B\"", '>'));	/* C collation */
	CHECK(orders("name", "\"\xc3\xa9\"", "\"z\"", '>'));
	CHECK(orders("name", "\"a\\u0000b\"", "\"a\"", '>'));
	CHECK(orders("vc", "\"x \"", "\"x\"", '>'));	/* varchar keeps spaces */
	CHECK(orders("code", "\"ab   \"", "\"ab\"", '='));	/* char(n) does not */
	CHECK(orders("code", "\"ab   \"", "\"ab \"", '='));
	CHECK(orders("code", "\"ab   \"", "\"ab!\"", '<'));
	CHECK(orders("uid", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"",
				 "\"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\"", '='));
	CHECK(orders("uid", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"",
				 "\"{a0eebc999c0b4ef8bb6d6bb9bd380a12}\"", '<'));
	CHECK(in("name", "[\"new\",\"paid\"]", "\"paid\"") == T);
	CHECK(in("name", "[\"new\",\"paid\"]", "\"Paid\"") == F);
	CHECK(cmp("name", "eq", "\"1\"", "1") == U);
	CHECK(compile_error("{\"col\":\"name\",\"op\":\"eq\",\"value\":1}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"uid\",\"op\":\"eq\",\"value\":\"a0eebc99\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"uid\",\"op\":\"eq\",\"value\":"
						"\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-00\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"uid\",\"op\":\"eq\",\"value\":"
						"\"g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"}") == FILTER_BAD_VALUE);
}

static void
test_bool(void)
{
	CHECK(cmp("active", "eq", "true", "true") == T);
	CHECK(cmp("active", "eq", "false", "true") == F);
	CHECK(cmp("active", "neq", "false", "true") == T);
	CHECK(cmp("active", "neq", "true", "true") == F);
	CHECK(in("active", "[false]", "false") == T);
	CHECK(in("active", "[false]", "true") == F);
	CHECK(cmp("active", "eq", "true", "\"t\"") == U);
	CHECK(compile_error("{\"col\":\"active\",\"op\":\"eq\",\"value\":\"true\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"active\",\"op\":\"eq\",\"value\":1}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"active\",\"op\":\"lt\",\"value\":true}") == FILTER_BAD_OPERATOR);
	CHECK(compile_error("{\"col\":\"active\",\"op\":\"gte\",\"value\":true}") == FILTER_BAD_OPERATOR);
}

static void
test_times(void)
{
	/* timestamptz: the encoder writes UTC with Z; literals may use offsets */
	CHECK(orders("ts", "\"2024-01-02T01:04:05.123Z\"", "\"2024-01-02T03:04:05.123+02:00\"", '='));
	CHECK(orders("ts", "\"2024-01-02T01:04:05.123Z\"", "\"2024-01-01T20:04:05.123-05\"", '='));
	CHECK(orders("ts", "\"2024-01-02T01:04:05.123Z\"", "\"2024-01-02T01:04:05.12Z\"", '>'));
	CHECK(orders("ts", "\"2024-01-02T01:04:05.1Z\"", "\"2024-01-02T01:04:05.100000Z\"", '='));
	CHECK(orders("ts", "\"2024-01-02T01:04:05Z\"", "\"2024-01-02 01:04:05.000001z\"", '<'));
	CHECK(orders("ts", "\"2024-01-02T01:04:05Z\"", "\"2024-01-02T06:34:05+0530\"", '='));
	CHECK(orders("ts", "\"2024-01-02T01:04:05Z\"", "\"2024-01-02T01:04Z\"", '>'));
	CHECK(orders("ts", "\"2024-01-01T00:00:00Z\"", "\"2023-12-31T23:59:59.999999-00:00\"", '>'));
	CHECK(orders("ts", "\"infinity\"", "\"9999-12-31T23:59:59Z\"", '>'));
	CHECK(orders("ts", "\"-infinity\"", "\"0001-01-01T00:00:00Z\"", '<'));
	CHECK(orders("ts", "\"0044-03-15T12:00:00+00:00 BC\"", "\"0001-01-01T00:00:00Z\"", '<'));
	CHECK(orders("ts", "\"0001-12-31T00:00:00+00:00 BC\"", "\"0001-01-01T00:00:00Z\"", '<'));
	CHECK(orders("ts", "\"12345-01-01T00:00:00Z\"", "\"9999-01-01T00:00:00Z\"", '>'));
	CHECK(orders("ts", "\"1969-12-31T23:59:59.5Z\"", "\"1970-01-01T00:00:00Z\"", '<'));
	CHECK(compile_error("{\"col\":\"ts\",\"op\":\"gt\",\"value\":\"2024-01-02T03:04:05\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"ts\",\"op\":\"gt\",\"value\":\"2024-01-02\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"ts\",\"op\":\"gt\",\"value\":\"2024-01-02T03:04:05.1234567Z\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"ts\",\"op\":\"gt\",\"value\":\"2024-13-02T03:04:05Z\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"ts\",\"op\":\"gt\",\"value\":\"2024-01-02T25:04:05Z\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"ts\",\"op\":\"gt\",\"value\":\"2024-01-02T03:04:05+16:00\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"ts\",\"op\":\"gt\",\"value\":1704164645}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"ts\",\"op\":\"gt\",\"value\":\"24-01-02T03:04:05Z\"}") == FILTER_BAD_VALUE);
	CHECK(cmp("ts", "eq", "\"2024-01-02T03:04:05Z\"", "\"garbage\"") == U);

	/* timestamp without time zone */
	CHECK(orders("lts", "\"2024-01-01T10:00:00\"", "\"2024-01-01 10:00:00\"", '='));
	CHECK(orders("lts", "\"2024-01-01T00:00:00\"", "\"2024-01-01\"", '='));
	CHECK(orders("lts", "\"2024-01-01T10:00:00\"", "\"2024-01-01T24:00:00\"", '<'));
	CHECK(compile_error("{\"col\":\"lts\",\"op\":\"eq\",\"value\":\"2024-01-01T10:00:00Z\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"lts\",\"op\":\"eq\",\"value\":\"2024-01-01T24:00:01\"}") == FILTER_BAD_VALUE);

	/* date */
	CHECK(orders("day", "\"2024-02-03\"", "\"2024-02-03\"", '='));
	CHECK(orders("day", "\"2024-02-29\"", "\"2024-03-01\"", '<'));
	CHECK(orders("day", "\"2000-02-29\"", "\"1999-12-31\"", '>'));
	CHECK(orders("day", "\"0001-01-01 BC\"", "\"0001-01-01\"", '<'));
	CHECK(orders("day", "\"infinity\"", "\"+infinity\"", '='));
	CHECK(compile_error("{\"col\":\"day\",\"op\":\"eq\",\"value\":\"2023-02-29\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"day\",\"op\":\"eq\",\"value\":\"1900-02-29\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"day\",\"op\":\"eq\",\"value\":\"2024-04-31\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"day\",\"op\":\"eq\",\"value\":\"2024-01-01T00:00:00\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"day\",\"op\":\"eq\",\"value\":\"0000-01-01\"}") == FILTER_BAD_VALUE);

	/* time, time with time zone (UTC time first, then zone) */
	CHECK(orders("at", "\"10:00:00\"", "\"10:00\"", '='));
	CHECK(orders("at", "\"10:00:00.5\"", "\"10:00:00.499999\"", '>'));
	CHECK(orders("at", "\"23:59:59\"", "\"24:00:00\"", '<'));
	/* same UTC time: the zone decides, as in PostgreSQL */
	CHECK(orders("attz", "\"10:00:00+02\"", "\"08:00:00Z\"", '<'));
	CHECK(orders("attz", "\"10:00:00+02\"", "\"10:00:00+02:00\"", '='));
	CHECK(orders("attz", "\"10:00:00+02\"", "\"09:00:00+00\"", '<'));
	CHECK(compile_error("{\"col\":\"at\",\"op\":\"eq\",\"value\":\"10:00:00+02\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"attz\",\"op\":\"eq\",\"value\":\"10:00:00\"}") == FILTER_BAD_VALUE);
	CHECK(in("day", "[\"2024-01-01\",\"2024-02-03\"]", "\"2024-02-03\"") == T);
}

static void
test_json_array_other(void)
{
	CHECK(cmp("meta", "eq", "{\"a\":1,\"b\":[1,\"x\"]}", "{\"b\":[1.0,\"x\"],\"a\":1}") == T);
	CHECK(cmp("meta", "eq", "{\"a\":1}", "{\"a\":1,\"b\":2}") == F);
	CHECK(cmp("meta", "eq", "{\"a\":1,\"c\":2}", "{\"a\":1,\"b\":2}") == F);
	CHECK(cmp("meta", "neq", "[1,2]", "[2,1]") == T);
	CHECK(cmp("meta", "eq", "\"s\"", "\"s\"") == T);
	CHECK(cmp("meta", "eq", "false", "false") == T);
	CHECK(cmp("meta", "eq", "1e2", "100") == T);
	CHECK(in("meta", "[1,{\"k\":null}]", "{\"k\":null}") == T);
	CHECK(compile_error("{\"col\":\"meta\",\"op\":\"gt\",\"value\":1}") == FILTER_BAD_OPERATOR);
	CHECK(compile_error("{\"col\":\"meta\",\"op\":\"eq\",\"value\":null}") == FILTER_BAD_VALUE);

	CHECK(cmp("tags", "eq", "[\"a\",\"b\"]", "[\"a\",\"b\"]") == T);
	CHECK(cmp("tags", "eq", "[\"a\",\"b\"]", "[\"b\",\"a\"]") == F);
	CHECK(cmp("tags", "neq", "[]", "[\"a\"]") == T);
	CHECK(compile_error("{\"col\":\"tags\",\"op\":\"eq\",\"value\":\"a\"}") == FILTER_BAD_VALUE);
	CHECK(compile_error("{\"col\":\"tags\",\"op\":\"lt\",\"value\":[]}") == FILTER_BAD_OPERATOR);

	CHECK(cmp("span", "eq", "\"1 day\"", "\"1 day\"") == T);
	CHECK(cmp("span", "neq", "\"1 day\"", "\"24:00:00\"") == T);
	CHECK(compile_error("{\"col\":\"span\",\"op\":\"lte\",\"value\":\"1 day\"}") == FILTER_BAD_OPERATOR);
}

static void
test_nulls_and_logic(void)
{
	static const char *const ops[] = {"eq", "neq", "lt", "lte", "gt", "gte"};
	const char *cmp_null = "{\"col\":\"id\",\"op\":\"eq\",\"value\":1}";
	char		filter[512];
	int			i;

	for (i = 0; i < 6; i++)
	{
		CHECK(cmp("id", ops[i], "1", "null") == U);
		CHECK(cmp("name", ops[i], "\"a\"", "null") == U);
		CHECK(cmp("ts", ops[i], "\"2024-01-01T00:00:00Z\"", "null") == U);
	}
	CHECK(cmp("active", "eq", "true", "null") == U);
	CHECK(in("id", "[1,2]", "null") == U);
	CHECK(eval_on("{\"col\":\"id\",\"op\":\"is_null\"}", "{}") == T);
	CHECK(eval_on("{\"col\":\"id\",\"op\":\"is_null\"}", "{\"id\":0}") == F);
	CHECK(eval_on("{\"col\":\"meta\",\"op\":\"is_not_null\"}", "{}") == F);
	CHECK(eval_on("{\"col\":\"meta\",\"op\":\"is_not_null\"}", "{\"meta\":{}}") == T);

	snprintf(filter, sizeof(filter), "{\"not\":%s}", cmp_null);
	CHECK(eval_on(filter, "{}") == U);
	CHECK(eval_on(filter, "{\"id\":1}") == F);
	CHECK(eval_on(filter, "{\"id\":2}") == T);
	snprintf(filter, sizeof(filter), "{\"not\":{\"not\":%s}}", cmp_null);
	CHECK(eval_on(filter, "{}") == U);
	CHECK(eval_on(filter, "{\"id\":1}") == T);

	/* and: FALSE wins, then UNKNOWN */
	snprintf(filter, sizeof(filter),
			 "{\"and\":[%s,{\"col\":\"name\",\"op\":\"eq\",\"value\":\"x\"}]}", cmp_null);
	CHECK(eval_on(filter, "{\"id\":1,\"name\":\"x\"}") == T);
	CHECK(eval_on(filter, "{\"id\":1,\"name\":\"y\"}") == F);
	CHECK(eval_on(filter, "{\"name\":\"x\"}") == U);
	CHECK(eval_on(filter, "{\"name\":\"y\"}") == F);
	CHECK(eval_on(filter, "{\"id\":2}") == F);
	CHECK(eval_on(filter, "{}") == U);
	/* or: TRUE wins, then UNKNOWN */
	snprintf(filter, sizeof(filter),
			 "{\"or\":[%s,{\"col\":\"name\",\"op\":\"eq\",\"value\":\"x\"}]}", cmp_null);
	CHECK(eval_on(filter, "{\"id\":1}") == T);
	CHECK(eval_on(filter, "{\"name\":\"x\"}") == T);
	CHECK(eval_on(filter, "{\"id\":2,\"name\":\"y\"}") == F);
	CHECK(eval_on(filter, "{\"name\":\"y\"}") == U);
	CHECK(eval_on(filter, "{}") == U);
	snprintf(filter, sizeof(filter),
			 "{\"not\":{\"or\":[%s,{\"col\":\"name\",\"op\":\"eq\",\"value\":\"x\"}]}}", cmp_null);
	CHECK(eval_on(filter, "{\"name\":\"y\"}") == U);
	CHECK(eval_on(filter, "{\"id\":2,\"name\":\"y\"}") == T);
	/* nested, single-element and / or */
	CHECK(eval_on("{\"and\":[{\"or\":[{\"col\":\"id\",\"op\":\"gt\",\"value\":1},"
				  "{\"col\":\"active\",\"op\":\"eq\",\"value\":true}]},"
				  "{\"and\":[{\"col\":\"name\",\"op\":\"in\",\"values\":[\"a\",\"b\"]}]}]}",
				  "{\"id\":0,\"active\":true,\"name\":\"b\"}") == T);
}

static void
test_keys_and_toast(void)
{
	RowFilter  *f = compile("{\"and\":[{\"col\":\"id\",\"op\":\"eq\",\"value\":5},"
							"{\"col\":\"big\",\"op\":\"gt\",\"value\":0}]}");
	RowFilter  *g = compile("{\"col\":\"name\",\"op\":\"is_null\"}");
	RowFilter  *h = compile("{\"col\":\"big\",\"op\":\"gt\",\"value\":0}");
	const JsonValue *keys;
	const JsonValue *row;
	const JsonValue *toast;
	JsonDoc    *tdoc = json_doc_create(256, 64, 8);
	int			key_cols[] = {1, 0};
	int			one_key[] = {0};
	RowFilterRow rr;

	CHECK(f && g && h);
	keys = json_parse(rdoc, "[7,5]", strlen("[7,5]"), NULL);	/* big = 7, id = 5 */
	CHECK(row_filter_eval_keys(f, keys, key_cols, 2) == T);
	CHECK(row_filter_eval_keys(f, keys, one_key, 1) == F);	/* id = 7 */
	CHECK(row_filter_eval_keys(g, keys, key_cols, 2) == U);	/* name absent */
	keys = json_parse(rdoc, "[5]", strlen("[5]"), NULL);
	CHECK(row_filter_eval_keys(f, keys, one_key, 1) == U);	/* big absent */
	CHECK(row_filter_eval_keys(f, keys, key_cols, 2) == U);	/* short array */
	keys = json_parse(rdoc, "[6]", strlen("[6]"), NULL);
	CHECK(row_filter_eval_keys(f, keys, one_key, 1) == F);	/* FALSE and UNKNOWN */
	CHECK(row_filter_eval(f, NULL) == U);
	CHECK(row_filter_eval(f, json_parse(rdoc, "{}", strlen("{}"), NULL)) == U);

	/* an unchanged TOAST column is unknown, not null */
	row = json_parse(rdoc, "[5,null,null,null,null]", strlen("[5,null,null,null,null]"), NULL);
	toast = json_parse(tdoc, "[1,4]", strlen("[1,4]"), NULL);
	rr.values = row;
	rr.positions = NULL;
	rr.npositions = 0;
	rr.unknown = NULL;
	CHECK(row_filter_eval_row(g, &rr) == T);
	CHECK(row_filter_eval_row(h, &rr) == U);
	rr.unknown = toast;
	CHECK(row_filter_eval_row(g, &rr) == U);
	CHECK(row_filter_eval_row(h, &rr) == U);
	toast = json_parse(tdoc, "[2]", strlen("[2]"), NULL);
	rr.unknown = toast;
	CHECK(row_filter_eval_row(g, &rr) == T);
	row_filter_free(f);
	row_filter_free(g);
	row_filter_free(h);
	row_filter_free(NULL);
	json_doc_free(tdoc);
}

/* Evaluate a compiled filter on a whole compact message (JSON text). */
static RowFilterResult
eval_change(const RowFilter *f, const char *msg, const int *key_cols, int nkeys)
{
	const JsonValue *m = json_parse(rdoc, msg, strlen(msg), NULL);

	if (m == NULL)
	{
		fprintf(stderr, "  bad test JSON %.200s\n", msg);
		return (RowFilterResult) ERR;
	}
	return row_filter_eval_change(f, m, key_cols, nkeys);
}

/*
 * Whole messages: which row is filtered, and values left out as too large
 * to send ("oversized", [column, bytes] pairs) are UNKNOWN to every test,
 * is_null included, as unchanged TOAST is; other columns still decide.
 */
static void
test_changes_and_oversized(void)
{
	RowFilter  *isnull = compile("{\"col\":\"name\",\"op\":\"is_null\"}");
	RowFilter  *notnull = compile("{\"not\":{\"col\":\"name\",\"op\":\"is_null\"}}");
	RowFilter  *id5 = compile("{\"col\":\"id\",\"op\":\"eq\",\"value\":5}");
	RowFilter  *either = compile("{\"or\":[{\"col\":\"name\",\"op\":\"eq\",\"value\":\"x\"},"
								 "{\"col\":\"id\",\"op\":\"eq\",\"value\":5}]}");
	RowFilter  *both = compile("{\"and\":[{\"col\":\"name\",\"op\":\"neq\",\"value\":\"x\"},"
							   "{\"col\":\"id\",\"op\":\"eq\",\"value\":5}]}");
	int			key_id[] = {0};
	int			key_full[] = {0, 1, 2, 3, 4};

	CHECK(isnull && notnull && id5 && either && both);

	/* insert: a real NULL, then the same position left out as too large */
	CHECK(eval_change(isnull, "[\"I\",1,\"0/1\",[5,null,null,null,null]]", NULL, 0) == T);
	CHECK(eval_change(isnull, "[\"I\",1,\"0/1\",[5,null,null,null,null],null,null,[[4,1080000002]]]", NULL, 0) == U);
	CHECK(eval_change(notnull, "[\"I\",1,\"0/1\",[5,null,null,null,null],null,null,[[4,1080000002]]]", NULL, 0) == U);
	CHECK(eval_change(id5, "[\"I\",1,\"0/1\",[5,null,null,null,null],null,null,[[4,1080000002]]]", NULL, 0) == T);
	CHECK(eval_change(either, "[\"I\",1,\"0/1\",[5,null,null,null,null],null,null,[[4,99]]]", NULL, 0) == T);
	CHECK(eval_change(both, "[\"I\",1,\"0/1\",[5,null,null,null,null],null,null,[[4,99]]]", NULL, 0) == U);
	CHECK(eval_change(both, "[\"I\",1,\"0/1\",[6,null,null,null,null],null,null,[[4,99]]]", NULL, 0) == F);
	/* another column oversized: name's NULL is a NULL */
	CHECK(eval_change(isnull, "[\"I\",1,\"0/1\",[5,null,null,null,null],null,null,[[3,99]]]", NULL, 0) == T);

	/* update: unchanged TOAST (5) and oversized (6) both UNKNOWN; old row's list (7) does not count */
	CHECK(eval_change(isnull, "[\"U\",1,\"0/1\",[5,null,null,null,null],null,[4]]", NULL, 0) == U);
	CHECK(eval_change(isnull, "[\"U\",1,\"0/1\",[5,null,null,null,null],[5],null,[[4,70]]]", NULL, 0) == U);
	CHECK(eval_change(isnull, "[\"U\",1,\"0/1\",[5,null,null,null,null],[5,1,2,3,null],null,null,[[4,70]]]", NULL, 0) == T);
	CHECK(eval_change(id5, "[\"U\",1,\"0/1\",[5,null,null,null,null],null,[1],[[4,70]]]", NULL, 0) == T);

	/* delete: the old row, its oversized list at 7 */
	CHECK(eval_change(id5, "[\"D\",1,\"0/1\",[5]]", key_id, 1) == T);
	CHECK(eval_change(isnull, "[\"D\",1,\"0/1\",[5,null,null,null,null]]", key_full, 5) == T);
	CHECK(eval_change(isnull, "[\"D\",1,\"0/1\",[5,null,null,null,null],null,null,null,[[4,70]]]", key_full, 5) == U);
	CHECK(eval_change(isnull, "[\"D\",1,\"0/1\",[5,null,null,null,null],null,null,[[4,70]]]", key_full, 5) == T);
	CHECK(eval_change(id5, "[\"D\",1,\"0/1\",null]", key_id, 1) == U);

	/* snapshot rows */
	CHECK(eval_change(isnull, "[\"S\",1,[5,null,null,null,null]]", NULL, 0) == T);
	CHECK(eval_change(isnull, "[\"S\",1,[5,null,null,null,null],[[4,70]]]", NULL, 0) == U);
	CHECK(eval_change(id5, "[\"S\",1,[5,null,null,null,null],[[4,70]]]", NULL, 0) == T);

	/* not a change, or malformed lists: UNKNOWN or ignored, never a crash */
	CHECK(eval_change(id5, "[\"T\",\"0/1\",[1],false,false]", NULL, 0) == U);
	CHECK(eval_change(id5, "[\"X\",1,\"0/1\",[5]]", NULL, 0) == U);
	CHECK(eval_change(id5, "[\"II\",1,\"0/1\",[5]]", NULL, 0) == U);
	CHECK(eval_change(id5, "[1,1,\"0/1\",[5]]", NULL, 0) == U);
	CHECK(eval_change(id5, "{}", NULL, 0) == U);
	CHECK(eval_change(id5, "[\"I\",1,\"0/1\",{}]", NULL, 0) == U);
	CHECK(eval_change(id5, "[\"I\",1,\"0/1\",[5],null,null,[0,[],[\"a\"],{}]]", NULL, 0) == T);
	CHECK(eval_change(id5, "[\"I\",1,\"0/1\",[5],null,null,{\"0\":1}]", NULL, 0) == T);
	CHECK(eval_change(id5, "[\"I\",1,\"0/1\",[5],null,null,[[0]]]", NULL, 0) == U);

	row_filter_free(isnull);
	row_filter_free(notnull);
	row_filter_free(id5);
	row_filter_free(either);
	row_filter_free(both);
}

/* Does compiling filter fail with code and a message containing text? */
static int
fails_with(const char *filter, RowFilterErrorCode code, const char *text)
{
	RowFilter  *f = compile(filter);

	if (f != NULL)
	{
		row_filter_free(f);
		fprintf(stderr, "  compiled: %.200s\n", filter);
		return 0;
	}
	if (ferr.code != code || strstr(ferr.message, text) == NULL)
	{
		fprintf(stderr, "  %.200s: %s: %s\n", filter,
				row_filter_error_name(ferr.code), ferr.message);
		return 0;
	}
	return 1;
}

static void
test_errors(void)
{
	char	   *big = malloc(200000);
	size_t		n = 0;
	int			i;

	CHECK(fails_with("[]", FILTER_SYNTAX, "must be a JSON object"));
	CHECK(fails_with("{}", FILTER_SYNTAX, "empty filter object"));
	CHECK(fails_with("{\"column\":\"id\"}", FILTER_SYNTAX, "unknown key \"column\""));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"eq\",\"value\":1,\"x\":2}", FILTER_SYNTAX, "unknown key \"x\""));
	CHECK(fails_with("{\"col\":1,\"op\":\"eq\",\"value\":1}", FILTER_SYNTAX, "\"col\" must be a string"));
	CHECK(fails_with("{\"col\":\"id\",\"value\":1}", FILTER_SYNTAX, "\"op\" must be a string"));
	CHECK(fails_with("{\"col\":\"id\",\"op\":[],\"value\":1}", FILTER_SYNTAX, "\"op\" must be a string"));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"eq\"}", FILTER_SYNTAX, "\"eq\" takes \"value\""));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"eq\",\"values\":[1]}", FILTER_SYNTAX, "\"eq\" takes \"value\""));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"in\",\"value\":1}", FILTER_SYNTAX, "\"in\" takes \"values\""));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"in\",\"values\":[]}", FILTER_SYNTAX, "non-empty array"));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"in\",\"values\":1}", FILTER_SYNTAX, "non-empty array"));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"is_null\",\"value\":1}", FILTER_SYNTAX, "takes no value"));
	CHECK(fails_with("{\"col\":\"id\",\"col\":\"id\",\"op\":\"is_null\"}", FILTER_SYNTAX, "duplicate key \"col\""));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"eq\",\"value\":1,\"a\":1,\"b\":2}", FILTER_SYNTAX,
					 "at most 4 keys"));
	CHECK(fails_with("{\"and\":[]}", FILTER_SYNTAX, "\"and\" takes a non-empty array"));
	CHECK(fails_with("{\"or\":{}}", FILTER_SYNTAX, "\"or\" takes a non-empty array"));
	CHECK(fails_with("{\"not\":[]}", FILTER_SYNTAX, "at not: a filter must be a JSON object"));
	CHECK(fails_with("{\"and\":[{\"col\":\"id\",\"op\":\"is_null\"}],\"or\":[]}", FILTER_SYNTAX,
					 "must be the only key"));
	CHECK(fails_with("{\"and\":[1]}", FILTER_SYNTAX, "at and[0]: a filter must be"));

	CHECK(fails_with("{\"col\":\"nope\",\"op\":\"eq\",\"value\":1}", FILTER_UNKNOWN_COLUMN,
					 "no column \"nope\""));
	CHECK(fails_with("{\"col\":\"ID\",\"op\":\"eq\",\"value\":1}", FILTER_UNKNOWN_COLUMN, "\"ID\""));
	/* long names are cut in messages, never inside a UTF-8 sequence */
	n = (size_t) sprintf(big, "{\"col\":\"x");
	for (i = 0; i < 30; i++)
		n += (size_t) sprintf(big + n, "\xc3\xa9");
	sprintf(big + n, "\",\"op\":\"is_null\"}");
	CHECK(fails_with(big, FILTER_UNKNOWN_COLUMN, "no column \"x\xc3\xa9"));
	CHECK(json_is_clean_utf8(ferr.message, strlen(ferr.message)));
	CHECK(strstr(ferr.message, "\xc3\xa9\" in this table") != NULL);
	CHECK(fails_with("{\"or\":[{\"col\":\"id\",\"op\":\"is_null\"},{\"not\":{\"col\":\"x\",\"op\":\"is_null\"}}]}",
					 FILTER_UNKNOWN_COLUMN, "at or[1].not: no column \"x\""));

	CHECK(fails_with("{\"col\":\"id\",\"op\":\"like\",\"value\":1}", FILTER_BAD_OPERATOR,
					 "unknown operator \"like\""));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"EQ\",\"value\":1}", FILTER_BAD_OPERATOR, "\"EQ\""));
	CHECK(fails_with("{\"col\":\"active\",\"op\":\"lt\",\"value\":true}", FILTER_BAD_OPERATOR,
					 "operator \"lt\" does not apply to column \"active\" (boolean)"));

	CHECK(fails_with("{\"col\":\"id\",\"op\":\"eq\",\"value\":null}", FILTER_BAD_VALUE, "is_null"));
	CHECK(fails_with("{\"col\":\"id\",\"op\":\"in\",\"values\":[1,null]}", FILTER_BAD_VALUE,
					 "at values[1]: null"));
	CHECK(fails_with("{\"col\":\"amount\",\"op\":\"gt\",\"value\":\"x\"}", FILTER_BAD_VALUE,
					 "column \"amount\" (numeric(12,2)) needs a number"));
	CHECK(fails_with("{\"and\":[{\"col\":\"ts\",\"op\":\"gt\",\"value\":\"yesterday\"}]}", FILTER_BAD_VALUE,
					 "at and[0]: column \"ts\" (timestamp(3) with time zone) needs a timestamp with an offset"));

	/* depth: ROW_FILTER_MAX_DEPTH levels compile, one more does not */
	n = 0;
	for (i = 0; i < ROW_FILTER_MAX_DEPTH - 1; i++)
		n += (size_t) sprintf(big + n, "{\"not\":");
	n += (size_t) sprintf(big + n, "{\"col\":\"id\",\"op\":\"is_null\"}");
	for (i = 0; i < ROW_FILTER_MAX_DEPTH - 1; i++)
		big[n++] = '}';
	big[n] = '\0';
	CHECK(compile_error(big) == FILTER_OK);
	CHECK(eval_on(big, "{}") == F);	/* 15 nots of TRUE */
	n = 0;
	for (i = 0; i < ROW_FILTER_MAX_DEPTH; i++)
		n += (size_t) sprintf(big + n, "{\"and\":[");
	n += (size_t) sprintf(big + n, "{\"col\":\"id\",\"op\":\"is_null\"}");
	for (i = 0; i < ROW_FILTER_MAX_DEPTH; i++)
		n += (size_t) sprintf(big + n, "]}");
	big[n] = '\0';
	CHECK(fails_with(big, FILTER_TOO_DEEP, "deeper than 16"));

	/* size: nodes, values, JSON values */
	n = (size_t) sprintf(big, "{\"or\":[");
	for (i = 0; i < ROW_FILTER_MAX_NODES; i++)
		n += (size_t) sprintf(big + n, "%s{\"col\":\"id\",\"op\":\"eq\",\"value\":%d}", i ? "," : "", i);
	sprintf(big + n, "]}");
	CHECK(fails_with(big, FILTER_TOO_LARGE, "more than 256 filter nodes"));
	n = (size_t) sprintf(big, "{\"col\":\"id\",\"op\":\"in\",\"values\":[");
	for (i = 0; i < ROW_FILTER_MAX_VALUES + 1; i++)
		n += (size_t) sprintf(big + n, "%s%d", i ? "," : "", i);
	sprintf(big + n, "]}");
	CHECK(fails_with(big, FILTER_TOO_LARGE, "more than 1024 values"));
	n = (size_t) sprintf(big, "{\"col\":\"meta\",\"op\":\"eq\",\"value\":[");
	for (i = 0; i < ROW_FILTER_MAX_JSON; i++)
		n += (size_t) sprintf(big + n, "%s%d", i ? "," : "", i);
	sprintf(big + n, "]}");
	CHECK(fails_with(big, FILTER_TOO_LARGE, "more than 4096 JSON values"));
	n = (size_t) sprintf(big, "{\"col\":\"id\",\"op\":\"in\",\"values\":[");
	for (i = 0; i < ROW_FILTER_MAX_VALUES; i++)
		n += (size_t) sprintf(big + n, "%s%d", i ? "," : "", i);
	sprintf(big + n, "]}");
	CHECK(compile_error(big) == FILTER_OK);
	free(big);

	CHECK(row_filter_compile(NULL, cols, NCOLS, &ferr) == NULL && ferr.code == FILTER_SYNTAX);
	CHECK(strcmp(row_filter_error_name(FILTER_SYNTAX), "syntax") == 0);
	CHECK(strcmp(row_filter_error_name(FILTER_UNKNOWN_COLUMN), "unknown_column") == 0);
	CHECK(strcmp(row_filter_error_name(FILTER_BAD_OPERATOR), "bad_operator") == 0);
	CHECK(strcmp(row_filter_error_name(FILTER_BAD_VALUE), "bad_value") == 0);
	CHECK(strcmp(row_filter_error_name(FILTER_TOO_DEEP), "too_deep") == 0);
	CHECK(strcmp(row_filter_error_name(FILTER_TOO_LARGE), "too_large") == 0);
	CHECK(strcmp(row_filter_error_name(FILTER_NO_MEMORY), "no_memory") == 0);
}

/* A compiled filter owns its literals: the filter JSON may go away. */
static void
test_independence(void)
{
	char		text[] = "{\"or\":[{\"col\":\"name\",\"op\":\"eq\",\"value\":\"x\\ty\"},"
		"{\"col\":\"meta\",\"op\":\"eq\",\"value\":{\"k\":[\"v\"]}},"
		"{\"col\":\"amount\",\"op\":\"gt\",\"value\":12.5}]}";
	RowFilter  *f = compile(text);
	const JsonValue *row;

	memset(text, 'Z', sizeof(text) - 1);
	json_parse(fdoc, "[0,0,0,0,0,0,0,0,0,0,0]", strlen("[0,0,0,0,0,0,0,0,0,0,0]"), NULL);
	CHECK(f != NULL);
	row = json_parse(rdoc, "[1,2,\"3\",4,\"x\\ty\"]", strlen("[1,2,\"3\",4,\"x\\ty\"]"), NULL);
	CHECK(row_filter_eval(f, row) == T);
	row = json_parse(rdoc, "[1,2,\"13\",4,\"z\"]", strlen("[1,2,\"13\",4,\"z\"]"), NULL);
	CHECK(row_filter_eval(f, row) == T);
	row = json_parse(rdoc, "[1,2,\"3\",4,\"z\",null,null,null,null,null,{\"k\":[\"v\"]}]", strlen("[1,2,\"3\",4,\"z\",null,null,null,null,null,{\"k\":[\"v\"]}]"), NULL);
	CHECK(row_filter_eval(f, row) == T);
	row = json_parse(rdoc, "[1,2,\"3\",4,\"z\",null,null,null,null,null,{\"k\":[]}]", strlen("[1,2,\"3\",4,\"z\",null,null,null,null,null,{\"k\":[]}]"), NULL);
	CHECK(row_filter_eval(f, row) == F);
	row_filter_free(f);
}

static void
test_relation_columns(void)
{
	RowFilterColumn rc[4];
	int			keys[4];
	int			nkeys = -1;
	const char *rel = "[\"R\",16384,\"public\",\"t\",[\"id\",\"v\",\"n\"],"
		"[\"integer\",\"text\",\"numeric\"],[0,2],\"default\"]";

#define RELCOLS(s, max) row_filter_relation_columns(json_parse(rdoc, s, strlen(s), NULL), \
													rc, keys, &nkeys, max)
	CHECK(RELCOLS(rel, 4) == 3 && nkeys == 2 && keys[0] == 0 && keys[1] == 2);
	CHECK(rc[1].name_len == 1 && rc[1].name[0] == 'v' &&
		  rc[2].type_len == 7 && memcmp(rc[2].type, "numeric", 7) == 0);
	CHECK(RELCOLS(rel, 2) == -1);
	CHECK(RELCOLS("[\"I\",1,\"0/0\",[1]]", 4) == -1);
	CHECK(RELCOLS("[\"R\",1,\"s\",\"t\",[\"a\"],[\"b\"],[1],\"d\"]", 4) == -1);
	CHECK(RELCOLS("[\"R\",1,\"s\",\"t\",[\"a\"],[],[],\"d\"]", 4) == -1);
	CHECK(RELCOLS("[\"R\",1,\"s\",\"t\",[1],[\"b\"],[],\"d\"]", 4) == -1);
	CHECK(RELCOLS("[\"R\",1,\"s\",\"t\",[\"a\"],[\"b\"],[0.5],\"d\"]", 4) == -1);
	CHECK(RELCOLS("[\"R\",1,\"s\",\"t\",[],[],[],\"n\"]", 4) == 0 && nkeys == 0);
#undef RELCOLS
}

/*
 * The same description as a snapshot file's header carries it ("columns",
 * "types", "key" members), through the same parser.
 */
static void
test_column_description(void)
{
	RowFilterColumn rc[4];
	int			keys[4];
	int			nkeys = -1;
	const char *hdr = "{\"relid\":16384,\"schema\":\"public\",\"table\":\"t\","
		"\"columns\":[\"id\",\"v\"],\"types\":[\"integer\",\"text\"],\"key\":[0],"
		"\"rows\":null}";
	const JsonValue *h = json_parse(rdoc, hdr, strlen(hdr), NULL);

	CHECK(h != NULL);
	CHECK(row_filter_column_description(json_object_get_cstr(h, "columns"),
										json_object_get_cstr(h, "types"),
										json_object_get_cstr(h, "key"),
										rc, keys, &nkeys, 4) == 2);
	CHECK(nkeys == 1 && keys[0] == 0 && rc[1].type_len == 4 &&
		  memcmp(rc[1].type, "text", 4) == 0);
	CHECK(row_filter_column_description(json_object_get_cstr(h, "columns"),
										json_object_get_cstr(h, "types"),
										json_object_get_cstr(h, "key"),
										rc, keys, &nkeys, 1) == -1);
	CHECK(row_filter_column_description(json_object_get_cstr(h, "columns"),
										json_object_get_cstr(h, "types"),
										NULL, rc, keys, &nkeys, 4) == -1);
	CHECK(row_filter_column_description(json_object_get_cstr(h, "columns"),
										json_object_get_cstr(h, "columns"),
										json_object_get_cstr(h, "table"),
										rc, keys, &nkeys, 4) == -1);
	CHECK(ROW_FILTER_MAX_COLUMNS >= 1600);
}

/* row_filter_check(): what is checked without columns, and what is not. */
static void
test_check(void)
{
	static const struct
	{
		const char *filter;
		RowFilterErrorCode code;
	}			cases[] = {
		/* column-dependent problems pass: no columns to check against */
		{"{\"col\":\"nope\",\"op\":\"lt\",\"value\":true}", FILTER_OK},
		{"{\"col\":\"x\",\"op\":\"in\",\"values\":[1,\"a\",[2]]}", FILTER_OK},
		{"{\"not\":{\"col\":\"x\",\"op\":\"is_null\"}}", FILTER_OK},
		/* the rest is checked */
		{"{\"col\":\"x\",\"op\":\"like\",\"value\":1}", FILTER_BAD_OPERATOR},
		{"{\"col\":\"x\",\"op\":\"eq\",\"value\":null}", FILTER_BAD_VALUE},
		{"{\"col\":\"x\",\"op\":\"eq\"}", FILTER_SYNTAX},
		{"{\"col\":1,\"op\":\"eq\",\"value\":1}", FILTER_SYNTAX},
		{"{\"and\":[]}", FILTER_SYNTAX},
		{"[1]", FILTER_SYNTAX},
		{"{\"col\":\"x\",\"op\":\"eq\",\"value\":1,\"extra\":2}", FILTER_SYNTAX},
	};
	char		deep[1024];
	size_t		n = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *t = cases[i].filter;
		bool		ok = row_filter_check(json_parse(fdoc, t, strlen(t), NULL), &ferr);

		CHECK(ok == (cases[i].code == FILTER_OK));
		CHECK(ok || ferr.code == cases[i].code);
	}
	for (int i = 0; i < 17; i++)
		n += (size_t) snprintf(deep + n, sizeof(deep) - n, "{\"not\":");
	n += (size_t) snprintf(deep + n, sizeof(deep) - n, "{\"col\":\"x\",\"op\":\"is_null\"}");
	for (int i = 0; i < 17; i++)
		deep[n++] = '}';
	CHECK(!row_filter_check(json_parse(fdoc, deep, n, NULL), &ferr) &&
		  ferr.code == FILTER_TOO_DEEP);
	CHECK(!row_filter_check(NULL, &ferr) && ferr.code == FILTER_SYNTAX);
}

int
main(void)
{
	int			i;

	for (i = 0; i < NCOLS; i++)
	{
		cols[i].name = col_defs[i][0];
		cols[i].name_len = strlen(col_defs[i][0]);
		cols[i].type = col_defs[i][1];
		cols[i].type_len = strlen(col_defs[i][1]);
	}
	fdoc = json_doc_create(1 << 20, 1 << 16, JSON_DEFAULT_MAX_DEPTH);
	rdoc = json_doc_create(1 << 16, 1 << 12, JSON_DEFAULT_MAX_DEPTH);
	test_numbers();
	test_text();
	test_bool();
	test_times();
	test_json_array_other();
	test_nulls_and_logic();
	test_keys_and_toast();
	test_changes_and_oversized();
	test_errors();
	test_independence();
	test_relation_columns();
	test_column_description();
	test_check();
	json_doc_free(fdoc);
	json_doc_free(rdoc);
	return unit_summary();
}
