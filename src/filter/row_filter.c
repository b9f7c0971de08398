/*-------------------------------------------------------------------------
 *
 * row_filter.c
 *	  Pure row filters: client JSON compiled against a relation's columns,
 *	  evaluated on the positional values of compact change messages.
 *
 * This file compiles; row_filter_eval.c evaluates; comparisons themselves
 * live in value_compare.c.  Compilation measures the filter JSON first,
 * which bounds everything the compiled form can need, and allocates one
 * block for it: the nodes (in prefix order, each knowing where its subtree
 * ends), the literal values converted for their column's type, the bytes
 * they point to, and a JsonDoc for literals kept as JSON (json, arrays,
 * other types).
 *
 *-------------------------------------------------------------------------
 */
#include "filter/row_filter_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
	"eq", "neq", "lt", "lte", "gt", "gte", "in", "is_null", "is_not_null"
};

#define N_OPS ((int) (sizeof(op_names) / sizeof(op_names[0])))

/* How a type name from the relation message is compared. */
typedef struct TypeInfo
{
	const char *name;			/* without type modifiers */
	uint8_t		family;
	uint8_t		flags;
	uint8_t		dt;				/* DateTimeType for FAM_TIME */
} TypeInfo;

static const TypeInfo known_types[] = {
	{"smallint", FAM_NUMBER, T_INTEGER, 0},
	{"integer", FAM_NUMBER, T_INTEGER, 0},
	{"bigint", FAM_NUMBER, T_INTEGER, 0},
	{"oid", FAM_NUMBER, T_INTEGER, 0},
	{"real", FAM_NUMBER, 0, 0},
	{"double precision", FAM_NUMBER, 0, 0},
	{"numeric", FAM_NUMBER, 0, 0},
	{"text", FAM_TEXT, 0, 0},
	{"character varying", FAM_TEXT, 0, 0},
	{"character", FAM_TEXT, T_BPCHAR, 0},
	{"name", FAM_TEXT, 0, 0},
	{"\"char\"", FAM_TEXT, 0, 0},
	{"uuid", FAM_TEXT, T_UUID, 0},
	{"boolean", FAM_BOOL, 0, 0},
	{"timestamp with time zone", FAM_TIME, 0, DT_TIMESTAMPTZ},
	{"timestamp without time zone", FAM_TIME, 0, DT_TIMESTAMP},
	{"date", FAM_TIME, 0, DT_DATE},
	{"time without time zone", FAM_TIME, 0, DT_TIME},
	{"time with time zone", FAM_TIME, 0, DT_TIMETZ},
	{"json", FAM_JSON, 0, 0},
	{"jsonb", FAM_JSON, 0, 0},
};

static const TypeInfo array_type = {"array", FAM_JSON, T_ARRAY, 0};
static const TypeInfo other_type = {"other", FAM_JSON, 0, 0};

typedef struct Compiler
{
	const RowFilterColumn *cols;
	int			ncols;
	FNode	   *nodes;
	uint32_t	nnodes;
	uint32_t	maxnodes;
	FValue	   *vals;
	uint32_t	nvals;
	uint32_t	maxvals;
	char	   *bytes;
	size_t		nbytes;
	JsonDoc		doc;			/* copies of JSON literals */
	RowFilterError *err;
	char		path[96];		/* where we are: "and[1].not" */
	size_t		pathlen;
} Compiler;

#define ALIGN8(n) (((n) + 7) & ~(size_t) 7)

const char *
row_filter_error_name(RowFilterErrorCode code)
{
	switch (code)
	{
		case FILTER_OK:
			return "ok";
		case FILTER_SYNTAX:
			return "syntax";
		case FILTER_UNKNOWN_COLUMN:
			return "unknown_column";
		case FILTER_BAD_OPERATOR:
			return "bad_operator";
		case FILTER_BAD_VALUE:
			return "bad_value";
		case FILTER_TOO_DEEP:
			return "too_deep";
		case FILTER_TOO_LARGE:
			return "too_large";
		case FILTER_NO_MEMORY:
			return "no_memory";
	}
	return "unknown";
}

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static void set_error(RowFilterError *err, RowFilterErrorCode code,
					  const char *path, const char *fmt, va_list ap)
			PRINTF_LIKE(4, 0);

static void
set_error(RowFilterError *err, RowFilterErrorCode code, const char *path,
		  const char *fmt, va_list ap)
{
	int			n = 0;

	if (err == NULL)
		return;
	err->code = code;
	if (path != NULL && path[0] != '\0')
		n = snprintf(err->message, sizeof(err->message), "at %s: ", path);
	vsnprintf(err->message + n, sizeof(err->message) - n, fmt, ap);
}

static bool cfail(Compiler *c, RowFilterErrorCode code, const char *fmt,...)
			PRINTF_LIKE(3, 4);
static void early_fail(RowFilterError *err, RowFilterErrorCode code,
					   const char *fmt,...) PRINTF_LIKE(3, 4);

/* Record an error; returns false for "return cfail(...)". */
static bool
cfail(Compiler *c, RowFilterErrorCode code, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	set_error(c->err, code, c->path, fmt, ap);
	va_end(ap);
	return false;
}

static void
early_fail(RowFilterError *err, RowFilterErrorCode code, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	set_error(err, code, NULL, fmt, ap);
	va_end(ap);
}

/* Append ".name" or "[i]" (i >= 0) to the path; returns the old length. */
static size_t
path_push(Compiler *c, const char *name, int i)
{
	size_t		old = c->pathlen;
	size_t		room = sizeof(c->path) - c->pathlen;
	int			n;

	if (i >= 0)
		n = snprintf(c->path + old, room, "[%d]", i);
	else
		n = snprintf(c->path + old, room, "%s%s", old ? "." : "", name);
	if (n > 0)
		c->pathlen = (size_t) n >= room ? sizeof(c->path) - 1 : old + n;
	return old;
}

static void
path_pop(Compiler *c, size_t old)
{
	c->pathlen = old;
	c->path[old] = '\0';
}

/* Which TypeInfo describes a type name from the relation message. */
static const TypeInfo *
classify_type(const char *t, size_t len)
{
	char		buf[64];
	size_t		n = 0,
				i;
	int			paren = 0;

	/* drop type modifiers: "numeric(12,2)", "timestamp(3) with time zone" */
	for (i = 0; i < len; i++)
	{
		if (t[i] == '(')
			paren++;
		else if (t[i] == ')' && paren > 0)
			paren--;
		else if (paren == 0)
		{
			if (n + 1 >= sizeof(buf))
				break;
			buf[n++] = t[i];
		}
	}
	if (len >= 2 && t[len - 2] == '[' && t[len - 1] == ']')
		return &array_type;
	if (i < len)
		return &other_type;
	buf[n] = '\0';
	for (i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
		if (strcmp(buf, known_types[i].name) == 0)
			return &known_types[i];
	return &other_type;
}

/* Count what compiling v can need at most. */
static void
measure(const JsonValue *v, uint32_t *nvalues, uint32_t *nobjects,
		size_t *nbytes)
{
	uint32_t	i,
				n;

	if (++*nvalues > ROW_FILTER_MAX_JSON)
		return;
	if (v->kind == JSON_STRING || v->kind == JSON_NUMBER)
		*nbytes += v->len;
	else if (v->kind == JSON_ARRAY || v->kind == JSON_OBJECT)
	{
		if (v->kind == JSON_OBJECT)
			++*nobjects;
		n = v->kind == JSON_OBJECT ? 2 * v->len : v->len;
		for (i = 0; i < n && *nvalues <= ROW_FILTER_MAX_JSON; i++)
			measure(v->u.items[i], nvalues, nobjects, nbytes);
	}
}

static const char *
copy_bytes(Compiler *c, const char *s, size_t len)
{
	char	   *d = c->bytes + c->nbytes;

	memcpy(d, s, len);
	c->nbytes += len;
	return d;
}

/*
 * Length of the first 40 bytes or so of a JSON string, for messages,
 * not cutting a UTF-8 sequence.
 */
static int
show_len(const JsonValue *v)
{
	uint32_t	n = v->len;

	if (n > 40)
	{
		n = 40;
		while (n > 0 && (v->u.str[n] & 0xC0) == 0x80)
			n--;
	}
	return (int) n;
}

#define SHOW(v) show_len(v), (v)->u.str

static bool
compile_uuid(Compiler *c, const RowFilterColumn *col, const JsonValue *lv,
			 FValue *out)
{
	static const char hex[] = "0123456789abcdef";
	char		canon[36];
	int			n = 0;
	uint32_t	i;

	for (i = 0; i < lv->len; i++)
	{
		char		ch = lv->u.str[i];
		const char *h;

		if (ch == '-' || ch == '{' || ch == '}')
			continue;
		if (ch >= 'A' && ch <= 'F')
			ch += 'a' - 'A';
		if (ch == '\0' || (h = strchr(hex, ch)) == NULL || n >= 32)
			return cfail(c, FILTER_BAD_VALUE, "\"%.*s\" is not a uuid (column \"%.*s\")",
						 SHOW(lv), (int) col->name_len, col->name);
		canon[n + (n >= 8) + (n >= 12) + (n >= 16) + (n >= 20)] = *h;
		n++;
	}
	if (n != 32)
		return cfail(c, FILTER_BAD_VALUE, "\"%.*s\" is not a uuid (column \"%.*s\")",
					 SHOW(lv), (int) col->name_len, col->name);
	canon[8] = canon[13] = canon[18] = canon[23] = '-';
	out->str.s = copy_bytes(c, canon, 36);
	out->str.len = 36;
	return true;
}

static const char *const time_formats[] = {
	[DT_TIMESTAMPTZ] = "a timestamp with an offset, like \"2024-01-02T03:04:05Z\"",
	[DT_TIMESTAMP] = "a timestamp without offset, like \"2024-01-02T03:04:05\"",
	[DT_DATE] = "a date, like \"2024-01-02\"",
	[DT_TIME] = "a time, like \"03:04:05\"",
	[DT_TIMETZ] = "a time with an offset, like \"03:04:05+02:00\"",
};

/* Convert literal lv for the column of node n into *out. */
static bool
compile_literal(Compiler *c, const FNode *n, const RowFilterColumn *col,
				const JsonValue *lv, FValue *out)
{
	int			cl = (int) col->name_len;

	if (lv->kind == JSON_NULL)
		return cfail(c, FILTER_BAD_VALUE,
					 "null never compares equal: use the is_null operator");
	switch ((Family) n->family)
	{
		case FAM_NUMBER:
			if ((lv->kind != JSON_NUMBER && lv->kind != JSON_STRING) ||
				!decimal_parse(lv->u.str, lv->len, &out->dec))
				return cfail(c, FILTER_BAD_VALUE,
							 "column \"%.*s\" (%.*s) needs a number",
							 cl, col->name, (int) col->type_len, col->type);
			if ((n->flags & T_INTEGER) && out->dec.kind != DEC_FINITE)
				return cfail(c, FILTER_BAD_VALUE,
							 "column \"%.*s\" (%.*s) needs a finite number",
							 cl, col->name, (int) col->type_len, col->type);
			if (out->dec.len > 0)
				out->dec.digits = copy_bytes(c, out->dec.digits, out->dec.len);
			return true;
		case FAM_TEXT:
			if (lv->kind != JSON_STRING)
				return cfail(c, FILTER_BAD_VALUE,
							 "column \"%.*s\" (%.*s) needs a string",
							 cl, col->name, (int) col->type_len, col->type);
			if (n->flags & T_UUID)
				return compile_uuid(c, col, lv, out);
			out->str.len = lv->len;
			if (n->flags & T_BPCHAR)
				while (out->str.len > 0 && lv->u.str[out->str.len - 1] == ' ')
					out->str.len--;
			out->str.s = copy_bytes(c, lv->u.str, out->str.len);
			return true;
		case FAM_BOOL:
			if (lv->kind != JSON_BOOL)
				return cfail(c, FILTER_BAD_VALUE,
							 "column \"%.*s\" (boolean) needs true or false", cl, col->name);
			out->b = lv->boolean;
			return true;
		case FAM_TIME:
			if (lv->kind != JSON_STRING ||
				!datetime_parse(lv->u.str, lv->len, (DateTimeType) n->dt, &out->time))
				return cfail(c, FILTER_BAD_VALUE,
							 "column \"%.*s\" (%.*s) needs %s",
							 cl, col->name, (int) col->type_len, col->type,
							 time_formats[n->dt]);
			return true;
		case FAM_JSON:
			if ((n->flags & T_ARRAY) && lv->kind != JSON_ARRAY)
				return cfail(c, FILTER_BAD_VALUE,
							 "column \"%.*s\" (%.*s) needs a JSON array",
							 cl, col->name, (int) col->type_len, col->type);
			out->json = json_doc_copy(&c->doc, lv);
			return out->json != NULL;	/* measure() made room */
	}
	return false;
}

static FNode *
new_node(Compiler *c, NodeKind kind)
{
	FNode	   *n;

	if (c->nnodes >= c->maxnodes)
	{
		cfail(c, FILTER_TOO_LARGE, "more than %d filter nodes",
			  ROW_FILTER_MAX_NODES);
		return NULL;
	}
	n = &c->nodes[c->nnodes++];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	return n;
}

/* Member key of obj not in the NULL-terminated list allowed, or NULL. */
static const JsonValue *
unexpected_key(const JsonValue *obj, const char *const *allowed)
{
	uint32_t	i;

	for (i = 0; i < obj->len; i++)
	{
		const JsonValue *k = json_member_key(obj, i);
		const char *const *a;

		for (a = allowed; *a != NULL; a++)
			if (json_string_is(k, *a))
				break;
		if (*a == NULL)
			return k;
	}
	return NULL;
}

static bool
compile_comparison(Compiler *c, const JsonValue *v)
{
	static const char *const keys[] = {"col", "op", "value", "values", NULL};
	const JsonValue *colname = json_object_get_cstr(v, "col");
	const JsonValue *op = json_object_get_cstr(v, "op");
	const JsonValue *value = json_object_get_cstr(v, "value");
	const JsonValue *values = json_object_get_cstr(v, "values");
	const JsonValue *bad = unexpected_key(v, keys);
	const RowFilterColumn *col = NULL;
	RowFilterColumn any_col = {NULL, 0, "", 0};
	const TypeInfo *ti;
	FNode	   *n;
	FValue	   *vals;
	uint32_t	nlits,
				i;
	int			o;

	if (bad != NULL)
		return cfail(c, FILTER_SYNTAX, "unknown key \"%.*s\" in a comparison",
					 SHOW(bad));
	if (colname->kind != JSON_STRING)
		return cfail(c, FILTER_SYNTAX, "\"col\" must be a string");
	if (op == NULL || op->kind != JSON_STRING)
		return cfail(c, FILTER_SYNTAX, "\"op\" must be a string");
	for (i = 0; (int) i < c->ncols && col == NULL; i++)
		if (c->cols[i].name != NULL && c->cols[i].name_len == colname->len &&
			memcmp(c->cols[i].name, colname->u.str, colname->len) == 0)
			col = &c->cols[i];
	if (c->ncols < 0)
	{
		/* row_filter_check(): any column, of a type that takes anything */
		any_col.name = colname->u.str;
		any_col.name_len = colname->len;
		col = &any_col;
	}
	if (col == NULL)
		return cfail(c, FILTER_UNKNOWN_COLUMN, "no column \"%.*s\" in this table",
					 SHOW(colname));
	for (o = 0; o < N_OPS && !json_string_is(op, op_names[o]); o++)
		;
	if (o == N_OPS)
		return cfail(c, FILTER_BAD_OPERATOR,
					 "unknown operator \"%.*s\" (eq, neq, lt, lte, gt, gte, in, is_null, is_not_null)",
					 SHOW(op));
	ti = classify_type(col->type, col->type_len);
	if (o >= OP_LT && o <= OP_GTE && c->ncols >= 0 &&
		(ti->family == FAM_BOOL || ti->family == FAM_JSON))
		return cfail(c, FILTER_BAD_OPERATOR,
					 "operator \"%s\" does not apply to column \"%.*s\" (%.*s)",
					 op_names[o], (int) col->name_len, col->name,
					 (int) col->type_len, col->type);

	if (o == OP_IS_NULL || o == OP_IS_NOT_NULL)
	{
		if (value != NULL || values != NULL)
			return cfail(c, FILTER_SYNTAX, "\"%s\" takes no value", op_names[o]);
		nlits = 0;
	}
	else if (o == OP_IN)
	{
		if (value != NULL || values == NULL || values->kind != JSON_ARRAY ||
			values->len == 0)
			return cfail(c, FILTER_SYNTAX,
						 "\"in\" takes \"values\", a non-empty array");
		nlits = values->len;
	}
	else
	{
		if (value == NULL || values != NULL)
			return cfail(c, FILTER_SYNTAX, "\"%s\" takes \"value\"", op_names[o]);
		nlits = 1;
	}
	if (c->nvals + nlits > ROW_FILTER_MAX_VALUES || c->nvals + nlits > c->maxvals)
		return cfail(c, FILTER_TOO_LARGE, "more than %d values",
					 ROW_FILTER_MAX_VALUES);

	if ((n = new_node(c, FN_CMP)) == NULL)
		return false;
	n->op = (uint8_t) o;
	n->col = col == &any_col ? 0 : (int32_t) (col - c->cols);
	n->family = ti->family;
	n->flags = ti->flags;
	n->dt = ti->dt;
	n->nvals = nlits;
	n->vals = vals = c->vals + c->nvals;
	c->nvals += nlits;
	n->end = c->nnodes;
	for (i = 0; i < nlits; i++)
	{
		size_t		old = c->pathlen;

		if (o == OP_IN)
		{
			path_push(c, "values", -1);
			path_push(c, NULL, (int) i);
		}
		if (!compile_literal(c, n, col, o == OP_IN ? values->u.items[i] : value,
							 &vals[i]))
			return false;
		path_pop(c, old);
	}
	return true;
}

static bool
compile_node(Compiler *c, const JsonValue *v, int depth)
{
	const JsonValue *arg;
	FNode	   *n;
	uint32_t	i,
				j;
	int			which;

	if (depth > ROW_FILTER_MAX_DEPTH)
		return cfail(c, FILTER_TOO_DEEP, "filters nest deeper than %d levels",
					 ROW_FILTER_MAX_DEPTH);
	if (v->kind != JSON_OBJECT)
		return cfail(c, FILTER_SYNTAX, "a filter must be a JSON object");
	/* no filter object has more than col, op, value, values */
	if (v->len > 4)
		return cfail(c, FILTER_SYNTAX, "a filter object has at most 4 keys");
	for (i = 0; i < v->len; i++)
		for (j = 0; j < i; j++)
			if (json_value_equal(json_member_key(v, i), json_member_key(v, j)))
				return cfail(c, FILTER_SYNTAX, "duplicate key \"%.*s\"",
							 SHOW(json_member_key(v, i)));
	if (json_object_get_cstr(v, "col") != NULL)
		return compile_comparison(c, v);

	for (which = FN_AND; which <= FN_NOT; which++)
	{
		static const char *const names[] = {"and", "or", "not"};
		size_t		old;

		if ((arg = json_object_get_cstr(v, names[which])) == NULL)
			continue;
		if (v->len != 1)
			return cfail(c, FILTER_SYNTAX,
						 "\"%s\" must be the only key of its object", names[which]);
		if ((n = new_node(c, (NodeKind) which)) == NULL)
			return false;
		old = path_push(c, names[which], -1);
		if (which == FN_NOT)
		{
			if (!compile_node(c, arg, depth + 1))
				return false;
		}
		else
		{
			if (arg->kind != JSON_ARRAY || arg->len == 0)
				return cfail(c, FILTER_SYNTAX,
							 "\"%s\" takes a non-empty array of filters", names[which]);
			for (i = 0; i < arg->len; i++)
			{
				size_t		old2 = path_push(c, NULL, (int) i);

				if (!compile_node(c, arg->u.items[i], depth + 1))
					return false;
				path_pop(c, old2);
			}
		}
		path_pop(c, old);
		n->end = c->nnodes;
		return true;
	}
	if (v->len == 0)
		return cfail(c, FILTER_SYNTAX, "empty filter object");
	return cfail(c, FILTER_SYNTAX,
				 "unknown key \"%.*s\": a filter has \"col\", \"and\", \"or\" or \"not\"",
				 SHOW(json_member_key(v, 0)));
}

RowFilter *
row_filter_compile(const JsonValue *filter, const RowFilterColumn *cols,
				   int ncols, RowFilterError *err)
{
	uint32_t	nvalues = 0,
				nobjects = 0;
	size_t		nbytes = 0,
				bytes_cap,
				size,
				off;
	Compiler	c;
	RowFilter  *f;
	char	   *mem;

	if (err != NULL)
	{
		err->code = FILTER_OK;
		err->message[0] = '\0';
	}
	if (filter == NULL)
	{
		early_fail(err, FILTER_SYNTAX, "no filter");
		return NULL;
	}
	measure(filter, &nvalues, &nobjects, &nbytes);
	if (nvalues > ROW_FILTER_MAX_JSON)
	{
		early_fail(err, FILTER_TOO_LARGE, "filter has more than %d JSON values",
				   ROW_FILTER_MAX_JSON);
		return NULL;
	}
	if (nobjects > ROW_FILTER_MAX_NODES)
		nobjects = ROW_FILTER_MAX_NODES + 1;	/* enough to report it */

	/*
	 * header | nodes | values | bytes | JsonDoc memory.  Literal bytes are
	 * copies of literal texts, trimmed, except normalized uuids, which may
	 * gain 4 hyphens.
	 */
	bytes_cap = nbytes + 4 * (size_t) nvalues;
	size = ALIGN8(sizeof(RowFilter)) + ALIGN8(nobjects * sizeof(FNode)) +
		ALIGN8(nvalues * sizeof(FValue)) + ALIGN8(bytes_cap) +
		JSON_DOC_MEM_SIZE(nbytes, nvalues);
	if ((mem = malloc(size)) == NULL)
	{
		early_fail(err, FILTER_NO_MEMORY, "out of memory");
		return NULL;
	}
	memset(&c, 0, sizeof(c));
	c.cols = cols;
	c.ncols = ncols;
	c.err = err;
	f = (RowFilter *) mem;
	off = ALIGN8(sizeof(RowFilter));
	c.nodes = (FNode *) (mem + off);
	c.maxnodes = nobjects < ROW_FILTER_MAX_NODES ? nobjects : ROW_FILTER_MAX_NODES;
	off += ALIGN8(nobjects * sizeof(FNode));
	c.vals = (FValue *) (mem + off);
	c.maxvals = nvalues;
	off += ALIGN8(nvalues * sizeof(FValue));
	c.bytes = mem + off;
	off += ALIGN8(bytes_cap);
	json_doc_init(&c.doc, mem + off, size - off, nbytes, nvalues,
				  JSON_DEPTH_LIMIT);

	if (!compile_node(&c, filter, 1))
	{
		free(mem);
		return NULL;
	}
	f->nnodes = c.nnodes;
	f->nodes = c.nodes;
	return f;
}

bool
row_filter_check(const JsonValue *filter, RowFilterError *err)
{
	RowFilter  *f = row_filter_compile(filter, NULL, -1, err);

	row_filter_free(f);
	return f != NULL;
}

void
row_filter_free(RowFilter *f)
{
	free(f);
}

int
row_filter_relation_columns(const JsonValue *rel, RowFilterColumn *cols,
							int *key_cols, int *nkeys, int max)
{
	if (!json_string_is(json_array_get(rel, 0), "R"))
		return -1;
	return row_filter_column_description(json_array_get(rel, 4),
										 json_array_get(rel, 5),
										 json_array_get(rel, 6),
										 cols, key_cols, nkeys, max);
}

int
row_filter_column_description(const JsonValue *names, const JsonValue *types,
							  const JsonValue *keys, RowFilterColumn *cols,
							  int *key_cols, int *nkeys, int max)
{
	uint32_t	i;

	if (names == NULL || types == NULL || keys == NULL ||
		names->kind != JSON_ARRAY || types->kind != JSON_ARRAY ||
		keys->kind != JSON_ARRAY || names->len != types->len ||
		names->len > (uint32_t) max || keys->len > names->len)
		return -1;
	for (i = 0; i < names->len; i++)
	{
		const JsonValue *n = names->u.items[i];
		const JsonValue *t = types->u.items[i];

		if (n->kind != JSON_STRING || t->kind != JSON_STRING)
			return -1;
		cols[i].name = n->u.str;
		cols[i].name_len = n->len;
		cols[i].type = t->u.str;
		cols[i].type_len = t->len;
	}
	for (i = 0; i < keys->len; i++)
	{
		const JsonValue *k = keys->u.items[i];

		if (k->kind != JSON_NUMBER || !(k->flags & JSON_NUM_INTEGER) ||
			k->num < 0 || k->num >= names->len)
			return -1;
		key_cols[i] = (int) k->num;
	}
	*nkeys = (int) keys->len;
	return (int) names->len;
}
