/*-------------------------------------------------------------------------
 *
 * test_table_pattern.c
 *	  Unit tests of src/filter/table_pattern.c: list splitting (trimming, escaped
 *	  commas and spaces, empty elements, limits), "schema.table" pattern
 *	  parsing (no dot, escaped dots, malformed patterns), glob matching
 *	  ('*', '?', escapes, slices that are not NUL-terminated, no
 *	  catastrophic backtracking, an exhaustive comparison with the
 *	  reference matcher of test/fuzz/pattern_check.h) and match_any.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter/table_pattern.h"
#include "unit.h"
#include "../fuzz/pattern_check.h"

#define MAXPAT 16

/* A heap copy of s, so that AddressSanitizer sees reads past the NUL. */
static char *
dup_str(const char *s)
{
	size_t		len = strlen(s);
	char	   *p = malloc(len + 1);

	if (p == NULL)
		abort();
	memcpy(p, s, len + 1);
	return p;
}

/* ---------------------------------------------------------------------- */

/*
 * pattern_list_split(list) must give exactly the slices expect[0..n);
 * also checks the counting mode (out == NULL) and the max limit.
 */
static void
check_split_ok(const char *file, int line, const char *list,
			   const char *const *expect, int n)
{
	char	   *l = dup_str(list);
	PatternSlice out[MAXPAT];
	const char *err = "unset";
	int			got = pattern_list_split(l, out, MAXPAT, &err);
	int			i;
	char		q[200];

	if (!unit_check(got == n, file, line,
					"pattern_list_split(%s) returned %d (error %s), expected %d",
					unit_quote(q, sizeof(q), list, strlen(list)), got,
					err ? err : "NULL", n))
	{
		free(l);
		return;
	}
	unit_check(err == NULL, file, line, "error set on success: %s", err);
	for (i = 0; i < n; i++)
	{
		char		what[64];

		snprintf(what, sizeof(what), "element %d", i);
		unit_check(out[i].ptr >= l && out[i].ptr + out[i].len <= l + strlen(l),
				   file, line, "element %d points outside the list", i);
		unit_check_mem(out[i].ptr, out[i].len, expect[i], strlen(expect[i]),
					   what, "expected", file, line);
	}
	unit_check(pattern_list_split(l, NULL, 0, &err) == n, file, line,
			   "counting mode (out == NULL) disagrees");
	if (n > 1)
		unit_check(pattern_list_split(l, out, n - 1, &err) == -1 && err != NULL,
				   file, line, "max = %d with %d elements not rejected", n - 1, n);
	free(l);
}

#define SPLIT_OK(list, ...) \
	check_split_ok(__FILE__, __LINE__, (list), \
				   (const char *const[]) {__VA_ARGS__}, \
				   (int) (sizeof((const char *const[]) {__VA_ARGS__}) / sizeof(const char *)))

static void
check_split_fails(const char *file, int line, const char *list)
{
	char	   *l = dup_str(list);
	PatternSlice out[MAXPAT];
	const char *err = NULL;
	int			got = pattern_list_split(l, out, MAXPAT, &err);
	char		q[200];

	unit_check(got == -1 && err != NULL, file, line,
			   "pattern_list_split(%s) returned %d, expected -1 with an error",
			   unit_quote(q, sizeof(q), list, strlen(list)), got);
	err = NULL;
	got = pattern_list_split(l, NULL, 0, &err);
	unit_check(got == -1 && err != NULL, file, line,
			   "pattern_list_split(%s, NULL) returned %d, expected -1 with an error",
			   unit_quote(q, sizeof(q), list, strlen(list)), got);
	free(l);
}

#define SPLIT_FAILS(list) check_split_fails(__FILE__, __LINE__, (list))

static void
test_split(void)
{
	SPLIT_OK("a", "a");
	SPLIT_OK("a,b", "a", "b");
	SPLIT_OK("public.*, audit.log_*, *.orders", "public.*", "audit.log_*", "*.orders");
	SPLIT_OK("  a  ,\tb\n", "a", "b");
	SPLIT_OK(" \r\n\t a b \t", "a b");	/* inner spaces kept */
	SPLIT_OK("a , b , c", "a", "b", "c");

	/* escaped commas do not split; escapes stay in the slice */
	SPLIT_OK("a\\,b", "a\\,b");
	SPLIT_OK("a\\,b,c", "a\\,b", "c");
	SPLIT_OK("\\,", "\\,");
	SPLIT_OK("a\\,  ", "a\\,");
	SPLIT_OK("s.t\\,x , y", "s.t\\,x", "y");
	/* an escaped backslash does not escape the comma after it */
	SPLIT_OK("a\\\\,b", "a\\\\", "b");
	/* an escaped space is part of the element, even at its ends */
	SPLIT_OK("a\\ ", "a\\ ");
	SPLIT_OK("a\\  , b", "a\\ ", "b");
	SPLIT_OK("\\ a", "\\ a");
	/* ... but a space after an escaped backslash is not escaped */
	SPLIT_OK("a\\\\ , b", "a\\\\", "b");
	SPLIT_OK("x\\\\ ", "x\\\\");

	/* a trailing backslash is left for table_pattern_parse() to reject */
	SPLIT_OK("a\\", "a\\");

	SPLIT_FAILS("");
	SPLIT_FAILS(" ");
	SPLIT_FAILS(" \t\n ");
	SPLIT_FAILS(",");
	SPLIT_FAILS("a,,b");
	SPLIT_FAILS("a, ,b");
	SPLIT_FAILS(",a");
	SPLIT_FAILS("a,");
	SPLIT_FAILS("a, ");
	SPLIT_FAILS("a\\,,");

	/* counting mode ignores max; output mode enforces it */
	{
		const char *err = NULL;
		PatternSlice one[1];

		CHECK_EQ_INT(pattern_list_split("a,b,c", NULL, 0, &err), 3);
		CHECK_EQ_INT(pattern_list_split("a,b,c", one, 1, &err), -1);
		CHECK(err != NULL);
		CHECK_EQ_INT(pattern_list_split("a", one, 1, &err), 1);
		CHECK_EQ_INT(pattern_list_split("a", one, 0, &err), -1);
	}
}

/* ---------------------------------------------------------------------- */

/*
 * The list must parse into exactly the given "schema|table" slices
 * (schema "*" for a pattern without a dot).
 */
static void
check_parse_ok(const char *file, int line, const char *list,
			   const char *const *expect, int n)
{
	char	   *l = dup_str(list);
	TablePattern pats[MAXPAT];
	const char *err = "unset";
	int			got = table_pattern_parse(l, pats, MAXPAT, &err);
	int			i;
	char		q[200];

	if (!unit_check(got == n, file, line,
					"table_pattern_parse(%s) returned %d (error %s), expected %d",
					unit_quote(q, sizeof(q), list, strlen(list)), got,
					err ? err : "NULL", n))
	{
		free(l);
		return;
	}
	for (i = 0; i < n; i++)
	{
		char		gotbuf[200];
		char		what[64];

		snprintf(gotbuf, sizeof(gotbuf), "%.*s|%.*s",
				 (int) pats[i].schema.len, pats[i].schema.ptr,
				 (int) pats[i].table.len, pats[i].table.ptr);
		snprintf(what, sizeof(what), "pattern %d (schema|table)", i);
		unit_check_str(gotbuf, expect[i], what, "expected", file, line);
	}
	unit_check(table_pattern_parse(l, NULL, 0, &err) == n, file, line,
			   "counting mode (out == NULL) disagrees");
	if (n > 1)
		unit_check(table_pattern_parse(l, pats, n - 1, &err) == -1 && err != NULL,
				   file, line, "max = %d with %d patterns not rejected", n - 1, n);
	free(l);
}

#define PARSE_OK(list, ...) \
	check_parse_ok(__FILE__, __LINE__, (list), \
				   (const char *const[]) {__VA_ARGS__}, \
				   (int) (sizeof((const char *const[]) {__VA_ARGS__}) / sizeof(const char *)))

/* The list must be rejected; the error must contain errpart. */
static void
check_parse_fails(const char *file, int line, const char *list,
				  const char *errpart)
{
	char	   *l = dup_str(list);
	TablePattern pats[MAXPAT];
	const char *err = NULL;
	int			got = table_pattern_parse(l, pats, MAXPAT, &err);
	char		q[200];

	unit_check(got == -1 && err != NULL && strstr(err, errpart) != NULL,
			   file, line,
			   "table_pattern_parse(%s) returned %d with error \"%s\", expected -1 with \"...%s...\"",
			   unit_quote(q, sizeof(q), list, strlen(list)), got,
			   err ? err : "NULL", errpart);
	err = NULL;
	got = table_pattern_parse(l, NULL, 0, &err);
	unit_check(got == -1 && err != NULL, file, line,
			   "table_pattern_parse(%s, NULL) returned %d, expected -1",
			   unit_quote(q, sizeof(q), list, strlen(list)), got);
	free(l);
}

#define PARSE_FAILS(list, errpart) \
	check_parse_fails(__FILE__, __LINE__, (list), (errpart))

static void
test_parse(void)
{
	PARSE_OK("orders", "*|orders");
	PARSE_OK("public.orders", "public|orders");
	PARSE_OK("  public.orders  ,  audit.log_*  ", "public|orders", "audit|log_*");
	PARSE_OK("public.*, audit.log_*, *.orders", "public|*", "audit|log_*", "*|orders");
	PARSE_OK("*", "*|*");
	PARSE_OK("*.*", "*|*");
	PARSE_OK("a.b,c", "a|b", "*|c");
	/* escaped dots do not separate */
	PARSE_OK("my\\.schema.t\\*", "my\\.schema|t\\*");
	PARSE_OK("a\\.b", "*|a\\.b");
	PARSE_OK("a\\.b\\.c", "*|a\\.b\\.c");
	PARSE_OK("s.t\\,x, y", "s|t\\,x", "*|y");
	PARSE_OK("a\\\\.b", "a\\\\|b");
	PARSE_OK("a\\..b", "a\\.|b");
	PARSE_OK("\\..\\.", "\\.|\\.");

	PARSE_FAILS("a.b.c", "more than one unescaped dot");
	PARSE_FAILS("a..b", "more than one unescaped dot");
	PARSE_FAILS("public.orders, a.b.c", "more than one unescaped dot");
	PARSE_FAILS(".a", "empty");
	PARSE_FAILS("a.", "empty");
	PARSE_FAILS(".", "empty");
	PARSE_FAILS("ok, .a", "empty");
	PARSE_FAILS("a\\", "backslash");
	PARSE_FAILS("x, a.b\\", "backslash");
	PARSE_FAILS("", "empty");
	PARSE_FAILS("a,,b", "empty");
	PARSE_FAILS("a,", "empty");

	{
		const char *err = NULL;
		TablePattern one[1];

		CHECK_EQ_INT(table_pattern_parse("a.b, c.d, e", NULL, 0, &err), 3);
		CHECK_EQ_INT(table_pattern_parse("a.b, c.d, e", one, 1, &err), -1);
		CHECK(err != NULL);
		CHECK_EQ_INT(table_pattern_parse("a.b", one, 1, &err), 1);
	}
}

/* ---------------------------------------------------------------------- */

static bool
glob(const char *pat, const char *s)
{
	char	   *p = dup_str(pat);
	char	   *str = dup_str(s);
	PatternSlice slice = {p, strlen(p)};
	bool		r = glob_match(slice, str);

	free(p);
	free(str);
	return r;
}

#define GLOB_MATCHES(p, s) \
	CHECK_MSG(glob((p), (s)), "glob \"%s\" should match \"%s\"", (p), (s))
#define GLOB_REJECTS(p, s) \
	CHECK_MSG(!glob((p), (s)), "glob \"%s\" should not match \"%s\"", (p), (s))

static void
test_glob(void)
{
	GLOB_MATCHES("", "");
	GLOB_REJECTS("", "a");
	GLOB_MATCHES("abc", "abc");
	GLOB_REJECTS("abc", "ab");
	GLOB_REJECTS("ab", "abc");
	GLOB_REJECTS("abc", "abd");
	GLOB_REJECTS("abc", "ABC");	/* case-sensitive */

	/* '?' */
	GLOB_MATCHES("?", "a");
	GLOB_REJECTS("?", "");
	GLOB_REJECTS("?", "ab");
	GLOB_MATCHES("a?c", "abc");
	GLOB_MATCHES("???", "xyz");
	GLOB_REJECTS("???", "xy");
	/* '?' is one character: a whole UTF-8 sequence */
	GLOB_MATCHES("caf?", "caf\xC3\xA9");
	GLOB_MATCHES("?", "\xF0\x9F\x98\x80");
	GLOB_REJECTS("??", "\xF0\x9F\x98\x80");
	GLOB_MATCHES("*?x", "a\xE2\x82\xACx");

	/* '*' at start, middle, end; several */
	GLOB_MATCHES("*", "");
	GLOB_MATCHES("*", "anything at all");
	GLOB_MATCHES("**", "");
	GLOB_MATCHES("log_*", "log_");
	GLOB_MATCHES("log_*", "log_2024");
	GLOB_REJECTS("log_*", "log");
	GLOB_REJECTS("log_*", "xlog_1");
	GLOB_MATCHES("*_archive", "orders_archive");
	GLOB_MATCHES("*_archive", "_archive");
	GLOB_REJECTS("*_archive", "orders_archive2");
	GLOB_MATCHES("a*c", "ac");
	GLOB_MATCHES("a*c", "abbbc");
	GLOB_REJECTS("a*c", "abbb");
	GLOB_MATCHES("a*b*c", "aXbYc");
	GLOB_MATCHES("a*b*c", "abc");
	GLOB_REJECTS("a*b*c", "acb");
	GLOB_MATCHES("*b*", "abc");
	GLOB_MATCHES("a**c", "abc");
	GLOB_MATCHES("*a", "aaa");
	GLOB_MATCHES("*ab", "aab");		/* needs backtracking */
	GLOB_MATCHES("*aab", "aaab");
	GLOB_MATCHES("*abcd*abce", "abcdabcdabce");
	GLOB_REJECTS("*abcd*abce", "abcdabcdabcf");
	GLOB_MATCHES("*?", "a");
	GLOB_REJECTS("*?", "");
	GLOB_MATCHES("?*?", "ab");
	GLOB_REJECTS("?*?", "a");
	GLOB_MATCHES("*x*y*z*", "--x--y--z--");
	GLOB_REJECTS("*x*y*z*", "--x--z--y--");

	/* escapes */
	GLOB_MATCHES("\\*", "*");
	GLOB_REJECTS("\\*", "a");
	GLOB_REJECTS("\\*", "");
	GLOB_MATCHES("\\?", "?");
	GLOB_REJECTS("\\?", "a");
	GLOB_MATCHES("\\\\", "\\");
	GLOB_REJECTS("\\\\", "\\\\");
	GLOB_MATCHES("\\a", "a");
	GLOB_MATCHES("a\\.b", "a.b");
	GLOB_REJECTS("a\\.b", "aXb");
	GLOB_MATCHES("t\\*", "t*");
	GLOB_REJECTS("t\\*", "tx");
	GLOB_MATCHES("*\\*", "abc*");
	GLOB_REJECTS("*\\*", "abc");
	GLOB_MATCHES("a\\,b", "a,b");
	GLOB_MATCHES("\\**", "*abc");
	GLOB_REJECTS("\\**", "abc");
	GLOB_MATCHES("my\\ table", "my table");

	/* multi-byte names: '*' spans whole bytes; literals compare bytes */
	GLOB_MATCHES("caf*", "caf\xC3\xA9");
	GLOB_MATCHES("*\xC3\xA9", "caf\xC3\xA9");
	GLOB_MATCHES("caf\xC3\xA9", "caf\xC3\xA9");

	/* a slice is not NUL-terminated: the bytes after it do not count */
	{
		static const char text[] = "abcdef";
		PatternSlice s3 = {text, 3};
		PatternSlice s0 = {text, 0};
		PatternSlice star = {"*xyz", 1};
		PatternSlice esc = {"a\\*", 2};		/* ends in a lone backslash */

		CHECK(glob_match(s3, "abc"));
		CHECK(!glob_match(s3, "abcdef"));
		CHECK(!glob_match(s3, "abcd"));
		CHECK(glob_match(s0, ""));
		CHECK(!glob_match(s0, "a"));
		CHECK(glob_match(star, "anything"));
		CHECK(glob_match(esc, "a\\"));
		CHECK(!glob_match(esc, "a*"));
	}
}

/*
 * Single-star backtracking keeps the matcher polynomial: patterns that
 * make a naive recursive matcher exponential must finish fast.
 */
static void
test_glob_no_catastrophic_backtracking(void)
{
	enum
	{
		N = 10000
	};
	char	   *as = malloc(N + 2);
	clock_t		t0 = clock();
	double		secs;
	static const char *const pats[] = {
		"*a*a*a*a*a*a*b", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
		"*aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "a*a*a*a*a*a*a*a*?b",
	};
	size_t		i;

	memset(as, 'a', N);
	as[N] = '\0';
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		CHECK_MSG(!glob(pats[i], as), "\"%s\" matched 10k 'a's", pats[i]);
	as[N] = 'b';
	as[N + 1] = '\0';
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		CHECK_MSG(glob(pats[i], as), "\"%s\" did not match 10k 'a's + 'b'", pats[i]);
	secs = (double) (clock() - t0) / CLOCKS_PER_SEC;
	CHECK_MSG(secs < 1.0, "pathological globs took %.2f s", secs);
	free(as);
}

/*
 * Every pattern of up to 5 symbols over {a, b, *, ?, \} against every
 * string of up to 4 characters over {a, b, *, \}, compared with the
 * dynamic-programming reference.  One check; the first difference printed.
 */
static void
test_glob_exhaustive(void)
{
	static const char palpha[] = "ab*?\\";
	static const char salpha[] = "ab*\\";
	char		pat[8];
	char		str[8];
	long		npat = 0;
	long		nbad = 0;
	char		first[200] = "";
	int			plen;

	for (plen = 0; plen <= 5; plen++)
	{
		long		pcount = 1;
		long		pi;
		int			k;

		for (k = 0; k < plen; k++)
			pcount *= 5;
		for (pi = 0; pi < pcount; pi++)
		{
			long		v = pi;
			int			slen;

			for (k = 0; k < plen; k++, v /= 5)
				pat[k] = palpha[v % 5];
			pat[plen] = '\0';
			npat++;
			for (slen = 0; slen <= 4; slen++)
			{
				long		scount = 1;
				long		si;

				for (k = 0; k < slen; k++)
					scount *= 4;
				for (si = 0; si < scount; si++)
				{
					long		w = si;
					PatternSlice slice = {pat, (size_t) plen};
					bool		got,
								want;

					for (k = 0; k < slen; k++, w /= 4)
						str[k] = salpha[w % 4];
					str[slen] = '\0';
					got = glob_match(slice, str);
					want = jp_ref_glob(pat, (size_t) plen, str);
					if (got != want && nbad++ == 0)
						snprintf(first, sizeof(first),
								 "glob \"%s\" vs \"%s\": got %d, reference %d",
								 pat, str, got, want);
				}
			}
		}
	}
	CHECK_MSG(nbad == 0, "%ld glob results differ from the reference over %ld patterns; first: %s",
			  nbad, npat, first);
}

/* ---------------------------------------------------------------------- */

static void
test_match(void)
{
	TablePattern pats[MAXPAT];
	const char *err = NULL;
	char	   *list = dup_str("public.*, audit.log_*, *.orders, my\\.schema.t\\*, plain");
	int			n = table_pattern_parse(list, pats, MAXPAT, &err);

	CHECK_EQ_INT(n, 5);
	if (n != 5)
	{
		free(list);
		return;
	}

	CHECK(table_pattern_match(&pats[0], "public", "anything"));
	CHECK(!table_pattern_match(&pats[0], "public2", "anything"));
	CHECK(table_pattern_match(&pats[1], "audit", "log_2024"));
	CHECK(!table_pattern_match(&pats[1], "audit", "events"));
	CHECK(table_pattern_match(&pats[2], "sales", "orders"));
	CHECK(table_pattern_match(&pats[2], "", "orders"));
	CHECK(!table_pattern_match(&pats[2], "sales", "orders_old"));
	CHECK(table_pattern_match(&pats[3], "my.schema", "t*"));
	CHECK(!table_pattern_match(&pats[3], "my.schema", "tx"));
	CHECK(!table_pattern_match(&pats[3], "myXschema", "t*"));
	/* no dot: any schema */
	CHECK(table_pattern_match(&pats[4], "public", "plain"));
	CHECK(table_pattern_match(&pats[4], "other", "plain"));
	CHECK(!table_pattern_match(&pats[4], "plain", "other"));

	CHECK(table_pattern_match_any(pats, n, "public", "x"));
	CHECK(table_pattern_match_any(pats, n, "audit", "log_1"));
	CHECK(table_pattern_match_any(pats, n, "x", "orders"));
	CHECK(table_pattern_match_any(pats, n, "x", "plain"));
	CHECK(table_pattern_match_any(pats, n, "my.schema", "t*"));
	CHECK(!table_pattern_match_any(pats, n, "audit", "events"));
	CHECK(!table_pattern_match_any(pats, n, "x", "y"));
	CHECK(!table_pattern_match_any(pats, 0, "public", "x"));
	CHECK(!table_pattern_match_any(pats + 1, 1, "public", "x"));
	CHECK(table_pattern_match_any(pats + 4, 1, "q", "plain"));
	free(list);

	/* schema/table boundary: the dot is not matched by '*' across parts */
	list = dup_str("a*.b");
	n = table_pattern_parse(list, pats, MAXPAT, &err);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
	{
		CHECK(table_pattern_match(&pats[0], "a.x", "b"));	/* schema has a dot */
		CHECK(!table_pattern_match(&pats[0], "a", "x.b"));
	}
	free(list);
}

int
main(void)
{
	test_split();
	test_parse();
	test_glob();
	test_glob_no_catastrophic_backtracking();
	test_glob_exhaustive();
	test_match();
	return unit_summary();
}
