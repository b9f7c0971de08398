/*-------------------------------------------------------------------------
 *
 * test_json_value.c
 *	  Unit tests of src/json/json_value.c: grammar, strings, numbers, errors
 *	  with offsets, limits, lookups, writer, copy; and of json_span.c.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>

#include "json/json_span.h"
#include "json/json_value.h"
#include "unit.h"

static JsonDoc *doc;
static JsonError err;

static const JsonValue *
parse(const char *s)
{
	return json_parse(doc, s, strlen(s), &err);
}

/* Does s fail with this message at this offset? */
static int
fails_at(const char *s, const char *message, size_t offset)
{
	const JsonValue *v = parse(s);

	if (v != NULL)
		return 0;
	if (strcmp(err.message, message) != 0 || err.offset != offset)
	{
		fprintf(stderr, "  %s: got \"%s\" at %zu\n", s, err.message, err.offset);
		return 0;
	}
	return 1;
}

static int
string_is(const JsonValue *v, const char *s, size_t len)
{
	return v && v->kind == JSON_STRING && v->len == len &&
		memcmp(v->u.str, s, len) == 0;
}

static void
test_scalars(void)
{
	const JsonValue *v;

	CHECK((v = parse("null")) && v->kind == JSON_NULL);
	CHECK((v = parse(" true ")) && v->kind == JSON_BOOL && v->boolean);
	CHECK((v = parse("\tfalse\r\n")) && v->kind == JSON_BOOL && !v->boolean);
	CHECK((v = parse("\"\"")) && string_is(v, "", 0));
	CHECK((v = parse("\"abc\"")) && string_is(v, "abc", 3));
	CHECK(fails_at("nul", "unexpected character", 0));
	CHECK(fails_at("truex", "unexpected text after JSON value", 4));
	CHECK(fails_at("", "unexpected end of input", 0));
	CHECK(fails_at("   ", "unexpected end of input", 3));
	CHECK(fails_at("1 2", "unexpected text after JSON value", 2));
	CHECK(fails_at("\v1", "unexpected character", 0));
	CHECK(fails_at("'a'", "unexpected character", 0));
}

static void
test_numbers(void)
{
	const JsonValue *v;

	CHECK((v = parse("0")) && v->kind == JSON_NUMBER && v->num == 0 &&
		  (v->flags & JSON_NUM_INTEGER));
	CHECK((v = parse("-0")) && v->num == 0 && signbit(v->num));
	CHECK((v = parse("123")) && v->num == 123 && v->len == 3);
	CHECK((v = parse("-1.5")) && v->num == -1.5 && !(v->flags & JSON_NUM_INTEGER));
	CHECK((v = parse("1e3")) && v->num == 1000 && !(v->flags & JSON_NUM_INTEGER));
	CHECK((v = parse("1E+3")) && v->num == 1000);
	CHECK((v = parse("25e-1")) && v->num == 2.5);
	CHECK((v = parse("0.001")) && v->num == 0.001);
	CHECK((v = parse("0.1")) && v->num == 0.1);
	CHECK((v = parse("1.0e5")) && v->num == 1e5);
	/* slow path: many digits, big exponents */
	CHECK((v = parse("9007199254740993")) && v->num == 9007199254740992.0 &&
		  v->len == 16 && memcmp(v->u.str, "9007199254740993", 16) == 0);
	CHECK((v = parse("-9223372036854775808")) && v->num == -9223372036854775808.0);
	CHECK((v = parse("123456789012345678901234567890")) && v->num == 1.2345678901234568e29);
	CHECK((v = parse("1.7976931348623157e308")) && v->num == 1.7976931348623157e308);
	CHECK((v = parse("1e400")) && isinf(v->num) && v->len == 5);
	CHECK((v = parse("1e-400")) && v->num == 0);
	CHECK((v = parse("3.141592653589793238462643383279")) && v->num == 3.141592653589793);
	CHECK((v = parse("[1.5,2]")) && v->u.items[0]->num == 1.5 &&
		  v->u.items[0]->len == 3);
	CHECK(fails_at("01", "leading zero in number", 1));
	CHECK(fails_at("-", "invalid number", 1));
	CHECK(fails_at("-a", "invalid number", 1));
	CHECK(fails_at("1.", "digit expected after decimal point", 2));
	CHECK(fails_at("1.e5", "digit expected after decimal point", 2));
	CHECK(fails_at("1e", "digit expected in exponent", 2));
	CHECK(fails_at("1e+", "digit expected in exponent", 3));
	CHECK(fails_at(".5", "unexpected character", 0));
	CHECK(fails_at("+1", "unexpected character", 0));
	CHECK(fails_at("NaN", "unexpected character", 0));
	CHECK(fails_at("[1,]", "unexpected character", 3));
}

static void
test_strings(void)
{
	const JsonValue *v;

	CHECK((v = parse("\"a\\\"b\\\\c\\/d\"")) && string_is(v, "a\"b\\c/d", 7));
	CHECK((v = parse("\"\\b\\f\\n\\r\\t\"")) && string_is(v, "\b\f\n\r\t", 5));
	CHECK((v = parse("\"\\u0041\\u00e9\\u20AC\"")) &&
		  string_is(v, "A\xc3\xa9\xe2\x82\xac", 6));
	CHECK((v = parse("\"\\ud83d\\ude00\"")) && string_is(v, "\xf0\x9f\x98\x80", 4));
	CHECK((v = parse("\"x\\u0000y\"")) && string_is(v, "x\0y", 3));
	CHECK((v = parse("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"")) &&
		  string_is(v, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	/* escaped and plain strings side by side keep their own bytes */
	CHECK((v = parse("[\"a\\nb\",\"plain\",\"\\t\"]")) &&
		  string_is(v->u.items[0], "a\nb", 3) &&
		  string_is(v->u.items[1], "plain", 5) &&
		  string_is(v->u.items[2], "\t", 1));
	CHECK(fails_at("\"abc", "unterminated string", 0));
	CHECK(fails_at("\"abc\\", "unterminated string", 4));
	CHECK(fails_at("\"a\nb\"", "control character in string", 2));
	CHECK(fails_at("\"\\x\"", "invalid escape in string", 1));
	CHECK(fails_at("\"\\u12\"", "invalid \\u escape in string", 1));
	CHECK(fails_at("\"\\u12g4\"", "invalid \\u escape in string", 1));
	CHECK(fails_at("\"\\ude00\"", "unpaired low surrogate in string", 1));
	CHECK(fails_at("\"\\ud83d\"", "unpaired high surrogate in string", 1));
	CHECK(fails_at("\"\\ud83d\\u0041\"", "unpaired high surrogate in string", 1));
	CHECK(fails_at("\"\xff\"", "invalid UTF-8 in string", 1));
	CHECK(fails_at("\"\xc3\"", "invalid UTF-8 in string", 1));
	CHECK(fails_at("\"\xc0\xaf\"", "invalid UTF-8 in string", 1));	/* overlong */
	CHECK(fails_at("\"\xed\xa0\x80\"", "invalid UTF-8 in string", 1));	/* surrogate */
	CHECK(fails_at("\"\xf4\x90\x80\x80\"", "invalid UTF-8 in string", 1));
	CHECK(fails_at("\xc3\xa9", "unexpected character", 0));
}

static void
test_containers(void)
{
	const char *change = "[\"I\",16384,\"0/15379D8\",[1,\"x\",\"1.50\",null,true]]";
	const JsonValue *v,
			   *row;

	CHECK((v = parse("[]")) && v->kind == JSON_ARRAY && v->len == 0);
	CHECK((v = parse("{}")) && v->kind == JSON_OBJECT && v->len == 0);
	CHECK((v = parse(" [ [ ] , { } ] ")) && v->len == 2 &&
		  v->u.items[0]->kind == JSON_ARRAY && v->u.items[1]->kind == JSON_OBJECT);
	CHECK((v = parse(change)) && v->len == 4);
	row = json_array_get(v, 3);
	CHECK(row && row->len == 5);
	CHECK(json_array_get(row, 0)->num == 1);
	CHECK(string_is(json_array_get(row, 2), "1.50", 4));
	CHECK(json_array_get(row, 3)->kind == JSON_NULL);
	CHECK(json_array_get(row, 5) == NULL);
	CHECK(json_array_get(json_array_get(row, 0), 0) == NULL);
	CHECK(json_string_is(json_array_get(v, 0), "I"));

	v = parse("{\"type\":\"subscribe\",\"id\":\"1\",\"table\":\"public.orders\","
			  "\"filter\":{\"col\":\"amount\",\"op\":\"gt\",\"value\":100},"
			  "\"a\\u0062\":[1,{\"x\":[]}],\"type\":\"dup\"}");
	CHECK(v && v->kind == JSON_OBJECT && v->len == 6);
	CHECK(json_string_is(json_object_get_cstr(v, "type"), "subscribe"));
	CHECK(json_string_is(json_object_get_cstr(v, "table"), "public.orders"));
	CHECK(json_object_get_cstr(json_object_get_cstr(v, "filter"), "value")->num == 100);
	CHECK(json_object_get_cstr(v, "ab") != NULL);
	CHECK(json_object_get_cstr(v, "missing") == NULL);
	CHECK(json_object_get(v, "typ", 3) == NULL);
	CHECK(json_object_get_cstr(row, "x") == NULL);
	CHECK(json_string_is(json_member_key(v, 5), "type"));

	CHECK(fails_at("[1 2]", "',' or ']' expected", 3));
	CHECK(fails_at("{\"a\" 1}", "':' expected after object key", 5));
	CHECK(fails_at("{\"a\":1 \"b\":2}", "',' or '}' expected", 7));
	CHECK(fails_at("{1:2}", "object key expected", 1));
	CHECK(fails_at("{\"a\":1,}", "object key expected", 7));
	CHECK(fails_at("[1,2", "unexpected end of input", 4));
	CHECK(fails_at("{\"a\":", "unexpected end of input", 5));
	CHECK(fails_at("[1]]", "unexpected text after JSON value", 3));
	CHECK(fails_at("{\"a\":1]", "',' or '}' expected", 6));
}

static void
test_limits(void)
{
	JsonDoc    *small = json_doc_create(32, 8, 3);
	JsonDoc    *tiny;
	char		buf[512];
	char		mem[JSON_DOC_MEM_SIZE(16, 4)] __attribute__((aligned(8)));
	JsonDoc		stackdoc;
	int			i;

	CHECK(small != NULL);
	CHECK(json_parse(small, "[[[[1]]]]", 9, &err) == NULL &&
		  strcmp(err.message, "nesting too deep") == 0 && err.offset == 3);
	CHECK(json_parse(small, "[[[1]]]", 7, &err) != NULL);
	CHECK(json_parse(small, "[1,2,3,4,5,6,7]", 15, &err) != NULL);
	CHECK(json_parse(small, "[1,2,3,4,5,6,7,8]", 17, &err) == NULL &&
		  strcmp(err.message, "too many values") == 0 && err.offset == 15);
	CHECK(json_parse(small, "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 25, &err) == NULL &&
		  strcmp(err.message, "too many values") == 0);
	memset(buf, ' ', 40);
	CHECK(json_parse(small, buf, 33, &err) == NULL &&
		  strcmp(err.message, "input too large") == 0 && err.offset == 32);
	json_doc_free(small);

	/* deep nesting is an error, not a stack overflow */
	for (i = 0; i < 300; i++)
		buf[i] = '[';
	CHECK(json_parse(doc, buf, 300, &err) == NULL &&
		  strcmp(err.message, "nesting too deep") == 0 &&
		  err.offset == JSON_DEFAULT_MAX_DEPTH);
	tiny = json_doc_create(1000, 1000, 100000);
	CHECK(tiny->max_depth == JSON_DEPTH_LIMIT);
	json_doc_free(tiny);

	/* caller memory */
	CHECK(!json_doc_init(&stackdoc, mem, sizeof(mem) - 1, 16, 4, 8));
	CHECK(json_doc_init(&stackdoc, mem, sizeof(mem), 16, 4, 8));
	CHECK(json_parse(&stackdoc, "[\"\\u00e9\",2,3]", 14, &err) != NULL);
	CHECK(json_parse(&stackdoc, "[1,2,3,4]", 9, &err) == NULL);

	/* the doc is reusable after errors */
	CHECK(parse("[1") == NULL && parse("[1]") != NULL);
}

/* Parse s, write it, compare with expected, parse that, compare trees. */
static int
round_trip(const char *s, const char *expected)
{
	JsonDoc    *d2 = json_doc_create(4096, 4096, JSON_DEFAULT_MAX_DEPTH);
	const JsonValue *a = parse(s),
			   *b;
	char		out[4096];
	size_t		n;
	int			ok;

	if (a == NULL)
		return 0;
	n = json_value_write(a, out, sizeof(out));
	ok = n != (size_t) -1 && n == strlen(expected) && memcmp(out, expected, n) == 0;
	if (!ok)
		fprintf(stderr, "  wrote %.*s\n", (int) (n == (size_t) -1 ? 0 : n), out);
	b = json_parse(d2, out, n, &err);
	ok = ok && b != NULL && json_value_equal(a, b);
	json_doc_free(d2);
	return ok;
}

static void
test_write_copy_equal(void)
{
	JsonDoc    *d2 = json_doc_create(256, 64, 8);
	const char *src = "{\"a\":[1,2.50,{\"b\":\"x\\ny\"}],\"c\":null,\"d\":true}";
	const JsonValue *v,
			   *c;
	char		out[8];

	CHECK(round_trip(" { \"a\" : [ 1 , -2.5e3 ] , \"b\" : { } } ",
					 "{\"a\":[1,-2.5e3],\"b\":{}}"));
	CHECK(round_trip("\"\\u00e9\\n\\u0001\\/\\\"\"", "\"\xc3\xa9\\n\\u0001/\\\"\""));
	CHECK(round_trip("[null,true,false,[[]],\"\\ud83d\\ude00\"]",
					 "[null,true,false,[[]],\"\xf0\x9f\x98\x80\"]"));
	CHECK(json_value_write(parse("[1,2,3,4]"), out, sizeof(out)) == (size_t) -1);
	CHECK(json_value_write(parse("\"abcdefgh\""), out, sizeof(out)) == (size_t) -1);

	/* a copy survives the source doc's next parse */
	v = parse(src);
	c = json_doc_copy(d2, v);
	CHECK(c != NULL && json_value_equal(v, c));
	parse("[0]");
	v = json_parse(doc, src, strlen(src), &err);
	CHECK(json_value_equal(v, c));
	CHECK(json_object_get_cstr(c, "a")->u.items[1]->num == 2.5);
	json_doc_free(d2);
	d2 = json_doc_create(4, 64, 8);
	CHECK(json_doc_copy(d2, v) == NULL);	/* not enough bytes */
	json_doc_free(d2);

	d2 = json_doc_create(256, 64, 8);
	v = json_parse(d2, "[1]", 3, &err);
	CHECK(!json_value_equal(v, json_array_get(parse("[[1.0]]"), 0)));
	CHECK(json_value_equal(v, json_array_get(parse("[[1]]"), 0)));
	CHECK(!json_value_equal(v, parse("{\"1\":1}")));
	json_doc_free(d2);
}

/* The spans of s, joined by '|' into out. */
static int
spans_of(const char *s, char *out, int max)
{
	JsonSpan	sp[16];
	int			n = json_spans(s, strlen(s), sp, max);

	out[0] = '\0';
	for (int i = 0; i < n; i++)
		sprintf(out + strlen(out), "%s%.*s", i ? "|" : "", (int) sp[i].len,
				s + sp[i].off);
	return n;
}

static void
test_spans(void)
{
	char		out[256];
	JsonSpan	sp[4];
	const char *list = "[null,12,\"k\",012a]";

	CHECK_EQ_INT(spans_of("[\"I\",16384,\"0/1\",[1,\"a\\\"]\"],null]", out, 16), 5);
	CHECK_EQ_STR(out, "\"I\"|16384|\"0/1\"|[1,\"a\\\"]\"]|null");
	/* whitespace around elements is not part of them; nested objects */
	CHECK_EQ_INT(spans_of(" [ 1 , {\"a\": [2, \"}\"]} ,true ] ", out, 16), 3);
	CHECK_EQ_STR(out, "1|{\"a\": [2, \"}\"]}|true");
	/* objects: key and value */
	CHECK_EQ_INT(spans_of("{\"k\":[1,2],\"x\":\"y:z\"}", out, 16), 4);
	CHECK_EQ_STR(out, "\"k\"|[1,2]|\"x\"|\"y:z\"");
	CHECK_EQ_INT(spans_of("[]", out, 16), 0);
	CHECK_EQ_INT(spans_of(" {} ", out, 16), 0);
	/* what cannot be delimited, or more than max */
	CHECK_EQ_INT(spans_of("[1,2,3]", out, 2), -1);
	CHECK_EQ_INT(spans_of("[\"abc]", out, 16), -1);
	CHECK_EQ_INT(spans_of("[1,[2]", out, 16), -1);
	CHECK_EQ_INT(spans_of("[1,,2]", out, 16), -1);
	CHECK_EQ_INT(spans_of("[1,2] x", out, 16), -1);
	CHECK_EQ_INT(spans_of("[1}", out, 16), -1);
	CHECK_EQ_INT(spans_of("17", out, 16), -1);
	CHECK_EQ_INT(spans_of("", out, 16), -1);
	CHECK_EQ_INT(spans_of("[\"a\\", out, 16), -1);
	/* reading spans */
	CHECK(json_spans(list, strlen(list), sp, 4) == 4);
	CHECK(json_span_is(list, sp[0], "null"));
	CHECK(!json_span_is(list, sp[1], "1"));
	CHECK(json_span_is(list, sp[2], "\"k\""));
	CHECK_EQ_INT(json_span_index(list, sp[1]), 12);
	CHECK_EQ_INT(json_span_index(list, sp[0]), -1);
	CHECK_EQ_INT(json_span_index(list, sp[3]), -1);
	CHECK(json_spans("[1234567890,-1]", 15, sp, 4) == 2);
	CHECK_EQ_INT(json_span_index("[1234567890,-1]", sp[0]), -1);
	CHECK_EQ_INT(json_span_index("[1234567890,-1]", sp[1]), -1);
}

int
main(void)
{
	doc = json_doc_create(1 << 16, 1 << 12, JSON_DEFAULT_MAX_DEPTH);
	test_scalars();
	test_numbers();
	test_strings();
	test_containers();
	test_limits();
	test_write_copy_equal();
	test_spans();
	json_doc_free(doc);
	return unit_summary();
}
