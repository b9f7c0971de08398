/*-------------------------------------------------------------------------
 *
 * fanout_columns.c
 *	  Pure column sets and projections (fanout_columns.h).
 *
 * Column sets are kept for the life of the process: there are as many as
 * distinct (table, readable columns) patterns among the roles clients use,
 * a handful, and an id must never come to mean another set while a grant
 * holding it is cached.
 *
 * Projection reads the message's structure with json_span.h and copies
 * the kept parts; only the column description is parsed (json_value.h,
 * row_filter_column_description(): its one parser), once per view.
 * Positions follow docs/PROTOCOL.md, "Messages, compact format":
 *	["R",relid,schema,table,[names],[types],[keys],identity]
 *	["I"|"U",relid,lsn,[new],[old],[toast],[[col,bytes]...],[[col,bytes]...]]
 *	["D",relid,lsn,[old],null,null,null,[[col,bytes]...]]
 *	["S",relid,[row],[[col,bytes]...]]
 * where [old] holds one value per key column, in the order of [keys] (for
 * REPLICA IDENTITY FULL every column is a key), and the index lists name
 * columns of the description.  Elements past these are left out of a
 * projection: what they hold is not known here, so it is not passed on.
 *
 *-------------------------------------------------------------------------
 */
#include "fanout/fanout_columns.h"

#include <stdlib.h>
#include <string.h>

#include "json/json_span.h"
#include "json/json_value.h"

/* ----------------------------------------------------------------
 * Column sets
 * ----------------------------------------------------------------
 */

typedef struct ColumnName
{
	const char *s;
	size_t		len;
} ColumnName;

typedef struct ColumnSet
{
	int			n;
	ColumnName *names;			/* sorted, distinct; into bytes */
	char	   *bytes;
} ColumnSet;

static ColumnSet *sets = NULL;	/* id i is sets[i - 1] */
static uint32_t nsets = 0;
static uint32_t sets_cap = 0;

static int
name_cmp(const void *a, const void *b)
{
	const ColumnName *x = a;
	const ColumnName *y = b;
	int			r = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);

	if (r != 0)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static bool
set_equals(const ColumnSet *set, const ColumnName *names, int n)
{
	if (set->n != n)
		return false;
	for (int i = 0; i < n; i++)
		if (name_cmp(&set->names[i], &names[i]) != 0)
			return false;
	return true;
}

/* Add the n sorted, distinct names as a new set; its id, or 0. */
static uint32_t
set_add(const ColumnName *names, int n)
{
	ColumnSet  *set;
	size_t		total = 0;
	char	   *p;

	if (nsets == sets_cap)
	{
		uint32_t	cap = sets_cap ? sets_cap * 2 : 16;
		ColumnSet  *grown = realloc(sets, sizeof(ColumnSet) * cap);

		if (grown == NULL)
			return 0;
		sets = grown;
		sets_cap = cap;
	}
	for (int i = 0; i < n; i++)
		total += names[i].len;
	set = &sets[nsets];
	set->n = n;
	set->names = malloc(sizeof(ColumnName) * (n > 0 ? n : 1));
	set->bytes = malloc(total + 1);
	if (set->names == NULL || set->bytes == NULL)
	{
		free(set->names);
		free(set->bytes);
		return 0;
	}
	p = set->bytes;
	for (int i = 0; i < n; i++)
	{
		memcpy(p, names[i].s, names[i].len);
		set->names[i].s = p;
		set->names[i].len = names[i].len;
		p += names[i].len;
	}
	return ++nsets;
}

bool
fanout_column_set_intern(const char *const *names, const size_t *lens, int n,
						 uint32_t *id)
{
	ColumnName *sorted = malloc(sizeof(ColumnName) * (n > 0 ? n : 1));
	int			k = 0;

	*id = 0;
	if (sorted == NULL)
		return false;
	for (int i = 0; i < n; i++)
	{
		sorted[i].s = names[i];
		sorted[i].len = lens[i];
	}
	qsort(sorted, n, sizeof(ColumnName), name_cmp);
	for (int i = 0; i < n; i++)
		if (k == 0 || name_cmp(&sorted[k - 1], &sorted[i]) != 0)
			sorted[k++] = sorted[i];
	for (uint32_t i = 0; i < nsets && *id == 0; i++)
		if (set_equals(&sets[i], sorted, k))
			*id = i + 1;
	if (*id == 0)
		*id = set_add(sorted, k);
	free(sorted);
	return *id != 0;
}

bool
fanout_column_set_contains(uint32_t id, const char *name, size_t len)
{
	const ColumnSet *set;
	ColumnName	key = {name, len};

	if (id == 0 || id > nsets)
		return false;
	set = &sets[id - 1];
	return bsearch(&key, set->names, set->n, sizeof(ColumnName),
				   name_cmp) != NULL;
}

/* ----------------------------------------------------------------
 * Output
 * ----------------------------------------------------------------
 */

typedef struct Out
{
	char	   *buf;
	size_t		cap;
	size_t		len;
	bool		ok;
} Out;

static void
put(Out *o, const char *s, size_t n)
{
	if (!o->ok || o->cap - o->len < n)
	{
		o->ok = false;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
put_str(Out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
put_span(Out *o, const char *text, JsonSpan s)
{
	put(o, text + s.off, s.len);
}

static void
put_int(Out *o, int v)
{
	char		digits[12];
	int			n = 0;

	do
	{
		digits[sizeof(digits) - 1 - n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v > 0);
	put(o, digits + sizeof(digits) - n, n);
}

/* ----------------------------------------------------------------
 * Views
 * ----------------------------------------------------------------
 */

void
fanout_column_view_free(FoColumnView *v)
{
	free(v->newpos);
	free(v->keys);
	for (int i = 0; i < 3; i++)
		free(v->desc[i]);
	memset(v, 0, sizeof(*v));
}

/* The kept elements of the array at span at, as a JSON array (malloc'd). */
static char *
kept_elements(const FoColumnView *v, const char *text, JsonSpan at,
			  size_t *len)
{
	JsonSpan   *el = malloc(sizeof(JsonSpan) * (v->ncols + 1));
	Out			o = {malloc(at.len + 3), at.len + 3, 0, true};
	bool		first = true;

	if (el == NULL || o.buf == NULL ||
		json_spans(text + at.off, at.len, el, v->ncols) != v->ncols)
		o.ok = false;
	put_str(&o, "[");
	for (int i = 0; i < v->ncols && o.ok; i++)
	{
		if (v->newpos[i] < 0)
			continue;
		if (!first)
			put_str(&o, ",");
		first = false;
		put_span(&o, text + at.off, el[i]);
	}
	put_str(&o, "]");
	free(el);
	if (!o.ok)
	{
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

/* p, made smaller (or p itself if that fails). */
static void *
shrink(void *p, size_t size)
{
	void	   *smaller = realloc(p, size);

	return smaller != NULL ? smaller : p;
}

/*
 * Fill v from a parsed column description (names, types, keys) whose
 * names and types arrays are at names_at and types_at in text.
 */
static bool
view_build(FoColumnView *v, uint32_t set, const JsonValue *names,
		   const JsonValue *types, const JsonValue *keys, const char *text,
		   JsonSpan names_at, JsonSpan types_at)
{
	RowFilterColumn *cols = malloc(sizeof(RowFilterColumn) * ROW_FILTER_MAX_COLUMNS);
	bool		ok = false;
	Out			o;

	memset(v, 0, sizeof(*v));
	v->set = set;
	v->keys = malloc(sizeof(int) * ROW_FILTER_MAX_COLUMNS);
	if (cols == NULL || v->keys == NULL)
		goto done;
	v->ncols = row_filter_column_description(names, types, keys, cols, v->keys,
											 &v->nkeys, ROW_FILTER_MAX_COLUMNS);
	if (v->ncols < 0 || (v->newpos = malloc(sizeof(int) * (v->ncols + 1))) == NULL)
		goto done;
	v->keys = shrink(v->keys, sizeof(int) * (v->nkeys + 1));
	for (int i = 0; i < v->ncols; i++)
		v->newpos[i] = fanout_column_set_contains(set, cols[i].name,
												  cols[i].name_len) ?
			v->nvisible++ : -1;
	v->desc[0] = kept_elements(v, text, names_at, &v->desc_len[0]);
	v->desc[1] = kept_elements(v, text, types_at, &v->desc_len[1]);
	o.cap = 12 * (size_t) v->nkeys + 3;
	o.buf = malloc(o.cap);
	o.len = 0;
	o.ok = o.buf != NULL;
	put_str(&o, "[");
	for (int k = 0, first = 1; k < v->nkeys; k++)
	{
		if (v->newpos[v->keys[k]] < 0)
			continue;
		if (!first)
			put_str(&o, ",");
		first = 0;
		put_int(&o, v->newpos[v->keys[k]]);
	}
	put_str(&o, "]");
	v->desc[2] = o.buf;
	v->desc_len[2] = o.len;
	ok = v->desc[0] != NULL && v->desc[1] != NULL && o.ok;
done:
	free(cols);
	if (!ok)
		fanout_column_view_free(v);
	return ok;
}

/* Top-level spans of a relation message or header: enough for either. */
#define TOP_SPANS 64

/* The positions of the names, types and keys in a relation message. */
static const int rel_desc_at[3] = {4, 5, 6};

bool
fanout_column_view_of_relation(FoColumnView *v, uint32_t set,
							   const char *msg, size_t len)
{
	JsonSpan	top[TOP_SPANS];
	JsonDoc    *doc = json_doc_create(len, (uint32_t) (len / 2 + 2),
									  JSON_DEFAULT_MAX_DEPTH);
	const JsonValue *rel = doc ? json_parse(doc, msg, len, NULL) : NULL;
	bool		ok;

	memset(v, 0, sizeof(*v));
	ok = rel != NULL && json_string_is(json_array_get(rel, 0), "R") &&
		json_spans(msg, len, top, TOP_SPANS) >= 8 &&
		view_build(v, set, json_array_get(rel, 4), json_array_get(rel, 5),
				   json_array_get(rel, 6), msg, top[4], top[5]);
	json_doc_free(doc);
	return ok;
}

/* Span indexes of the values of a header's "columns", "types", "key". */
static bool
header_desc_at(const char *hdr, const JsonSpan *top, int n, int at[3])
{
	static const char *const keys[3] = {"\"columns\"", "\"types\"", "\"key\""};

	for (int k = 0; k < 3; k++)
	{
		at[k] = -1;
		for (int i = 0; i + 1 < n && at[k] < 0; i += 2)
			if (json_span_is(hdr, top[i], keys[k]))
				at[k] = i + 1;
		if (at[k] < 0)
			return false;
	}
	return true;
}

bool
fanout_column_view_of_header(FoColumnView *v, uint32_t set,
							 const char *hdr, size_t len)
{
	JsonSpan	top[TOP_SPANS];
	int			n = json_spans(hdr, len, top, TOP_SPANS);
	int			at[3];
	JsonDoc    *doc = json_doc_create(len, (uint32_t) (len / 2 + 2),
									  JSON_DEFAULT_MAX_DEPTH);
	const JsonValue *h = doc ? json_parse(doc, hdr, len, NULL) : NULL;
	bool		ok;

	memset(v, 0, sizeof(*v));
	ok = h != NULL && h->kind == JSON_OBJECT && header_desc_at(hdr, top, n, at) &&
		view_build(v, set, json_object_get_cstr(h, "columns"),
				   json_object_get_cstr(h, "types"),
				   json_object_get_cstr(h, "key"), hdr, top[at[0]], top[at[1]]);
	json_doc_free(doc);
	return ok;
}

/*
 * text with its top-level spans, elements (or member values) at[0..2]
 * replaced by the view's projected description.
 */
static char *
splice_desc(const FoColumnView *v, const char *text, size_t len,
			bool object, const int at[3], size_t *outlen)
{
	JsonSpan	top[TOP_SPANS];
	int			n = json_spans(text, len, top, TOP_SPANS);
	Out			o = {malloc(len + 4), len + 3, 0, true};

	if (n < 0 || o.buf == NULL)
		o.ok = false;
	put_str(&o, object ? "{" : "[");
	for (int i = 0; i < n && o.ok; i++)
	{
		int			k;

		if (i > 0)
			put_str(&o, object && i % 2 == 1 ? ":" : ",");
		for (k = 0; k < 3 && at[k] != i; k++)
			;
		if (k < 3)
			put(&o, v->desc[k], v->desc_len[k]);
		else
			put_span(&o, text, top[i]);
	}
	put_str(&o, object ? "}" : "]");
	if (!o.ok)
	{
		free(o.buf);
		return NULL;
	}
	o.buf[o.len] = '\0';
	*outlen = o.len;
	return o.buf;
}

char *
fanout_column_view_relation(const FoColumnView *v, const char *msg,
							size_t len, size_t *outlen)
{
	return splice_desc(v, msg, len, false, rel_desc_at, outlen);
}

char *
fanout_column_view_header(const FoColumnView *v, const char *hdr, size_t len,
						  size_t *outlen)
{
	JsonSpan	top[TOP_SPANS];
	int			n = json_spans(hdr, len, top, TOP_SPANS);
	int			at[3];

	if (!header_desc_at(hdr, top, n, at))
		return NULL;
	return splice_desc(v, hdr, len, true, at, outlen);
}

void
fanout_column_view_mask(const FoColumnView *v, RowFilterColumn *cols,
						int ncols)
{
	for (int i = 0; i < ncols; i++)
		if (i >= v->ncols || v->newpos[i] < 0)
		{
			cols[i].name = NULL;
			cols[i].name_len = 0;
		}
}

/* ----------------------------------------------------------------
 * Changes and snapshot rows
 * ----------------------------------------------------------------
 */

/* A row is positioned by column; an old key by the description's keys. */
typedef enum Positions
{
	BY_COLUMN,
	BY_KEY
} Positions;

/* Projected position of element i of a row or old key, or -1. */
static int
element_pos(const FoColumnView *v, Positions by, int i)
{
	if (by == BY_COLUMN)
		return i < v->ncols ? v->newpos[i] : -1;
	return i < v->nkeys ? v->newpos[v->keys[i]] : -1;
}

/*
 * Write the kept values of the row or old key at span at (with out NULL:
 * only count them); null stays null.  Its length must be the
 * description's.  Returns the number kept, -1 if malformed.
 */
static int
put_values(Out *o, const FoColumnView *v, Positions by, const char *msg,
		   JsonSpan at)
{
	int			want = by == BY_COLUMN ? v->ncols : v->nkeys;
	JsonSpan   *el;
	int			kept = 0;

	if (json_span_is(msg, at, "null"))
	{
		if (o != NULL)
			put_str(o, "null");
		return 0;
	}
	el = malloc(sizeof(JsonSpan) * (want + 1));
	if (el == NULL || json_spans(msg + at.off, at.len, el, want) != want)
	{
		free(el);
		if (o != NULL)
			o->ok = false;
		return -1;
	}
	if (o != NULL)
		put_str(o, "[");
	for (int i = 0; i < want; i++)
	{
		if (element_pos(v, by, i) < 0)
			continue;
		if (o != NULL)
		{
			if (kept > 0)
				put_str(o, ",");
			put_span(o, msg + at.off, el[i]);
		}
		kept++;
	}
	if (o != NULL)
		put_str(o, "]");
	free(el);
	return kept;
}

/*
 * Write the kept entries of a column index list ([2,3]) or, with pairs,
 * of an oversized list ([[1,2002]]), renumbered; with out NULL only count
 * them.  A null or absent list keeps none.  Returns the number kept, -1
 * if malformed.
 */
static int
put_index_list(Out *o, const FoColumnView *v, bool pairs, const char *msg,
			   const JsonSpan *at)
{
	const char *list;
	JsonSpan   *el;
	int			n,
				kept = 0;

	if (at == NULL || json_span_is(msg, *at, "null"))
		return 0;
	list = msg + at->off;
	el = malloc(sizeof(JsonSpan) * (v->ncols + 1));
	n = el ? json_spans(list, at->len, el, v->ncols) : -1;
	if (o != NULL)
		put_str(o, "[");
	for (int i = 0; i < n; i++)
	{
		const char *entry = list;
		JsonSpan	index = el[i];
		JsonSpan	pair[2];
		int			col;

		if (pairs)
		{
			entry = list + el[i].off;
			if (json_spans(entry, el[i].len, pair, 2) != 2)
			{
				n = -1;
				break;
			}
			index = pair[0];
		}
		if ((col = json_span_index(entry, index)) < 0 || col >= v->ncols)
		{
			n = -1;
			break;
		}
		if (v->newpos[col] < 0)
			continue;
		if (o != NULL)
		{
			if (kept > 0)
				put_str(o, ",");
			if (pairs)
				put_str(o, "[");
			put_int(o, v->newpos[col]);
			if (pairs)
			{
				put_str(o, ",");
				put_span(o, entry, pair[1]);
				put_str(o, "]");
			}
		}
		kept++;
	}
	if (o != NULL)
		put_str(o, "]");
	free(el);
	if (n < 0 && o != NULL)
		o->ok = false;
	return n < 0 ? -1 : kept;
}

/* A list element of a change: written if it keeps entries, else null. */
static void
put_list_or_null(Out *o, const FoColumnView *v, bool pairs, const char *msg,
				 const JsonSpan *at, int kept)
{
	put_str(o, ",");
	if (kept > 0)
		put_index_list(o, v, pairs, msg, at);
	else
		put_str(o, "null");
}

size_t
fanout_column_view_change(const FoColumnView *v, const char *msg, size_t len,
						  char *out, size_t cap)
{
	JsonSpan	top[TOP_SPANS];
	int			n = json_spans(msg, len, top, TOP_SPANS);
	Out			o = {out, cap, 0, true};
	char		op;
	int			toast,
				ov_new,
				ov_old,
				old_kept = 0,
				last = 3,
				old_at;

#define AT(i) (n > (i) ? &top[i] : NULL)
	if (n < 3 || top[0].len != 3 || msg[top[0].off] != '"')
		return (size_t) -1;
	op = msg[top[0].off + 1];
	put_str(&o, "[");
	put_span(&o, msg, top[0]);
	put_str(&o, ",");
	put_span(&o, msg, top[1]);
	if (op == 'S')
	{
		/* ["S",relid,[row],[[col,bytes]...]] */
		ov_new = put_index_list(NULL, v, true, msg, AT(3));
		put_str(&o, ",");
		if (ov_new < 0 || put_values(&o, v, BY_COLUMN, msg, top[2]) < 0)
			return (size_t) -1;
		if (ov_new > 0)
			put_list_or_null(&o, v, true, msg, AT(3), ov_new);
		put_str(&o, "]");
		return o.ok ? o.len : (size_t) -1;
	}
	if ((op != 'I' && op != 'U' && op != 'D') || n < 4)
		return (size_t) -1;
	put_str(&o, ",");
	put_span(&o, msg, top[2]);

	/* the old key or row: 3 in a delete, 4 in an update that logged it */
	old_at = op == 'D' ? 3 : 4;
	if (n > old_at &&
		(old_kept = put_values(NULL, v, BY_KEY, msg, top[old_at])) < 0)
		return (size_t) -1;
	toast = put_index_list(NULL, v, false, msg, AT(5));
	ov_new = put_index_list(NULL, v, true, msg, AT(6));
	ov_old = put_index_list(NULL, v, true, msg, AT(7));
	if (toast < 0 || ov_new < 0 || ov_old < 0)
		return (size_t) -1;
	if (ov_old > 0)
		last = 7;
	else if (ov_new > 0)
		last = 6;
	else if (toast > 0)
		last = 5;
	else if (op == 'U' && old_kept > 0)
		last = 4;

	put_str(&o, ",");
	if (op == 'D')
	{
		put_values(&o, v, BY_KEY, msg, top[3]);
		if (last == 7)
			put_str(&o, ",null,null,null");
	}
	else
	{
		put_values(&o, v, BY_COLUMN, msg, top[3]);
		if (last >= 4)
		{
			put_str(&o, ",");
			if (old_kept > 0)
				put_values(&o, v, BY_KEY, msg, top[4]);
			else
				put_str(&o, "null");
		}
		if (last >= 5)
			put_list_or_null(&o, v, false, msg, AT(5), toast);
		if (last >= 6)
			put_list_or_null(&o, v, true, msg, AT(6), ov_new);
	}
	if (last >= 7)
		put_list_or_null(&o, v, true, msg, AT(7), ov_old);
	put_str(&o, "]");
#undef AT
	return o.ok ? o.len : (size_t) -1;
}
