/*-------------------------------------------------------------------------
 *
 * fuzz_row_filter.c
 *	  libFuzzer target for src/filter/row_filter.c and src/filter/value_compare.c.
 *
 * Input: a filter JSON text, a newline, a row JSON text.  The filter is
 * compiled against a fixed relation with columns of every type family and
 * evaluated on the row as a full row, as an old key array, and with the
 * row standing in for an unchanged-TOAST list; the row is also read as a
 * relation message and as a whole change message (row_filter_eval_change,
 * with its unchanged-TOAST and oversized lists).  Nothing may crash, and the
 * three-valued logic must hold: not f is the negation of f, and [f, f] and
 * or [f, f] are f.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/row_filter.h"

static const char *const col_defs[][2] = {
	{"id", "integer"}, {"big", "bigint"}, {"amount", "numeric(12,2)"},
	{"score", "double precision"}, {"name", "text"}, {"code", "character(5)"},
	{"active", "boolean"}, {"ts", "timestamp with time zone"},
	{"lts", "timestamp(3) without time zone"}, {"day", "date"},
	{"meta", "jsonb"}, {"tags", "text[]"}, {"uid", "uuid"},
	{"at", "time without time zone"}, {"attz", "time with time zone"},
	{"span", "interval"}, {"doc", "json"}, {"r", "real"},
};

#define NCOLS ((int) (sizeof(col_defs) / sizeof(col_defs[0])))
#define MAX_INPUT (1 << 16)

static RowFilterColumn cols[NCOLS];
static JsonDoc *fdoc,
		   *rdoc;
static char *wrapped;

static RowFilterResult
negate(RowFilterResult r)
{
	return r == ROW_FILTER_UNKNOWN ? r :
		r == ROW_FILTER_TRUE ? ROW_FILTER_FALSE : ROW_FILTER_TRUE;
}

/* Compile "<pre><filter>,<filter><post>" or just "<pre><filter><post>". */
static RowFilter *
compile_wrapped(const char *pre, const char *filter, size_t len, bool twice,
				const char *post)
{
	const JsonValue *v;
	size_t		n = strlen(pre);
	RowFilterError err;

	memcpy(wrapped, pre, n);
	memcpy(wrapped + n, filter, len);
	n += len;
	if (twice)
	{
		wrapped[n++] = ',';
		memcpy(wrapped + n, filter, len);
		n += len;
	}
	memcpy(wrapped + n, post, strlen(post));
	n += strlen(post);
	v = json_parse(fdoc, wrapped, n, NULL);
	return v ? row_filter_compile(v, cols, NCOLS, &err) : NULL;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	const char *nl = memchr(text, '\n', size);
	size_t		flen = nl ? (size_t) (nl - text) : size;
	const JsonValue *fv,
			   *row;
	RowFilterError err;
	RowFilter  *f,
			   *g;
	RowFilterResult r;
	RowFilterRow rr;
	int			key_cols[] = {4, 0, 7};
	int			i;

	if (fdoc == NULL)
	{
		for (i = 0; i < NCOLS; i++)
		{
			cols[i].name = col_defs[i][0];
			cols[i].name_len = strlen(col_defs[i][0]);
			cols[i].type = col_defs[i][1];
			cols[i].type_len = strlen(col_defs[i][1]);
		}
		fdoc = json_doc_create(2 * MAX_INPUT + 64, 1 << 15, JSON_DEFAULT_MAX_DEPTH);
		rdoc = json_doc_create(MAX_INPUT, 1 << 14, JSON_DEFAULT_MAX_DEPTH);
		wrapped = malloc(2 * MAX_INPUT + 64);
	}
	if (size > MAX_INPUT)
		return 0;
	fv = json_parse(fdoc, text, flen, NULL);
	if (fv == NULL)
		return 0;
	f = row_filter_compile(fv, cols, NCOLS, &err);
	if (f == NULL)
	{
		if (err.code == FILTER_OK || strlen(err.message) == 0 ||
			strcmp(row_filter_error_name(err.code), "unknown") == 0)
			abort();
		return 0;
	}
	if (err.code != FILTER_OK)
		abort();
	row = nl ? json_parse(rdoc, nl + 1, size - flen - 1, NULL) : NULL;
	if (row == NULL)
		row = json_parse(rdoc, "[1,2,\"3\",4,\"five\"]", 18, NULL);

	{
		RowFilterColumn rc[8];
		int			rk[8];
		int			nk = 0;
		int			n = row_filter_relation_columns(row, rc, rk, &nk, 8);

		if (n > 8 || (n >= 0 && (nk < 0 || nk > n)))
			abort();
		for (i = 0; i < nk; i++)
			if (rk[i] < 0 || rk[i] >= n)
				abort();
	}

	r = row_filter_eval(f, row);
	if (r != ROW_FILTER_TRUE && r != ROW_FILTER_FALSE && r != ROW_FILTER_UNKNOWN)
		abort();
	(void) row_filter_eval_keys(f, row, key_cols, 3);
	rr.values = row;
	rr.positions = NULL;
	rr.npositions = 0;
	rr.unknown = row;
	(void) row_filter_eval_row(f, &rr);
	/* the row read as a whole compact message (I, U, D, S, oversized lists) */
	{
		RowFilterResult m = row_filter_eval_change(f, row, key_cols, 3);

		if (m != ROW_FILTER_TRUE && m != ROW_FILTER_FALSE && m != ROW_FILTER_UNKNOWN)
			abort();
	}

	/* three-valued logic laws (the wrapped filter may be too deep/large) */
	if ((g = compile_wrapped("{\"not\":", text, flen, false, "}")) != NULL)
	{
		if (row_filter_eval(g, row) != negate(r))
			abort();
		row_filter_free(g);
	}
	if ((g = compile_wrapped("{\"and\":[", text, flen, true, "]}")) != NULL)
	{
		if (row_filter_eval(g, row) != r)
			abort();
		row_filter_free(g);
	}
	if ((g = compile_wrapped("{\"or\":[", text, flen, true, "]}")) != NULL)
	{
		if (row_filter_eval(g, row) != r)
			abort();
		row_filter_free(g);
	}
	row_filter_free(f);
	return 0;
}
