/*-------------------------------------------------------------------------
 *
 * row_filter_eval.c
 *	  Evaluation of compiled row filters on the values of one change.
 *
 * SQL three-valued logic over the nodes built by row_filter.c.  The row
 * value of a comparison is read once (a decimal, a time key, ...) and
 * compared with each literal.  Recursion is at most ROW_FILTER_MAX_DEPTH
 * levels; nothing is allocated.
 *
 * A column whose value is not in the change is UNKNOWN to every test,
 * is_null included: unchanged TOAST, values too large to send (listed as
 * [column, bytes] pairs under "oversized"), columns outside an old key.
 *
 *-------------------------------------------------------------------------
 */
#include "filter/row_filter_int.h"

#include <string.h>

/* Row value v read the way node n compares; false if it cannot be. */
static bool
prepare_value(const FNode *n, const JsonValue *v, FValue *out)
{
	switch ((Family) n->family)
	{
		case FAM_NUMBER:
			return (v->kind == JSON_NUMBER || v->kind == JSON_STRING) &&
				decimal_parse(v->u.str, v->len, &out->dec);
		case FAM_TEXT:
			if (v->kind != JSON_STRING)
				return false;
			out->str.s = v->u.str;
			out->str.len = v->len;
			if (n->flags & T_BPCHAR)
				while (out->str.len > 0 && v->u.str[out->str.len - 1] == ' ')
					out->str.len--;
			return true;
		case FAM_BOOL:
			out->b = v->boolean;
			return v->kind == JSON_BOOL;
		case FAM_TIME:
			return v->kind == JSON_STRING &&
				datetime_parse(v->u.str, v->len, (DateTimeType) n->dt, &out->time);
		case FAM_JSON:
			out->json = v;
			return true;
	}
	return false;
}

/* -1, 0, 1 (for FAM_BOOL and FAM_JSON: 0 or 1, equal or not). */
static int
compare_values(const FNode *n, const FValue *a, const FValue *b)
{
	int			r;

	switch ((Family) n->family)
	{
		case FAM_NUMBER:
			return decimal_cmp(&a->dec, &b->dec);
		case FAM_TEXT:
			r = memcmp(a->str.s, b->str.s,
					   a->str.len < b->str.len ? a->str.len : b->str.len);
			if (r != 0)
				return r < 0 ? -1 : 1;
			return a->str.len == b->str.len ? 0 : a->str.len < b->str.len ? -1 : 1;
		case FAM_BOOL:
			return a->b != b->b;
		case FAM_TIME:
			return timekey_cmp(&a->time, &b->time);
		case FAM_JSON:
			return !json_semantic_equal(a->json, b->json);
	}
	return 1;
}

/* A row and the values left out of it as too large to send. */
typedef struct EvalRow
{
	const RowFilterRow *row;
	const JsonValue *oversized; /* NULL or [[column, bytes], ...] */
} EvalRow;

/* Is col listed in an oversized list? */
static bool
listed_oversized(const JsonValue *list, int col)
{
	uint32_t	i;

	if (list == NULL || list->kind != JSON_ARRAY)
		return false;
	for (i = 0; i < list->len; i++)
	{
		const JsonValue *pair = list->u.items[i];

		if (pair->kind == JSON_ARRAY && pair->len > 0 &&
			pair->u.items[0]->kind == JSON_NUMBER &&
			pair->u.items[0]->num == (double) col)
			return true;
	}
	return false;
}

/* The value of column col in the row, or NULL if the row lacks it. */
static const JsonValue *
column_value(const EvalRow *er, int col)
{
	const RowFilterRow *row = er->row;
	int			idx = col;
	uint32_t	i;

	if (listed_oversized(er->oversized, col))
		return NULL;
	if (row->unknown != NULL && row->unknown->kind == JSON_ARRAY)
		for (i = 0; i < row->unknown->len; i++)
			if (row->unknown->u.items[i]->kind == JSON_NUMBER &&
				row->unknown->u.items[i]->num == (double) col)
				return NULL;
	if (row->positions != NULL)
	{
		for (idx = 0; idx < row->npositions; idx++)
			if (row->positions[idx] == col)
				break;
		if (idx == row->npositions)
			return NULL;
	}
	return json_array_get(row->values, (uint32_t) idx);
}

static RowFilterResult
eval_comparison(const FNode *n, const EvalRow *row)
{
	const JsonValue *v = column_value(row, n->col);
	FValue		val;
	uint32_t	i;
	int			r;

	if (v == NULL)
		return ROW_FILTER_UNKNOWN;
	if (n->op == OP_IS_NULL || n->op == OP_IS_NOT_NULL)
		return (v->kind == JSON_NULL) == (n->op == OP_IS_NULL) ?
			ROW_FILTER_TRUE : ROW_FILTER_FALSE;
	if (v->kind == JSON_NULL || !prepare_value(n, v, &val))
		return ROW_FILTER_UNKNOWN;
	if (n->op == OP_IN)
	{
		for (i = 0; i < n->nvals; i++)
			if (compare_values(n, &val, &n->vals[i]) == 0)
				return ROW_FILTER_TRUE;
		return ROW_FILTER_FALSE;
	}
	r = compare_values(n, &val, &n->vals[0]);
	switch ((FilterOp) n->op)
	{
		case OP_EQ:
			return r == 0 ? ROW_FILTER_TRUE : ROW_FILTER_FALSE;
		case OP_NEQ:
			return r != 0 ? ROW_FILTER_TRUE : ROW_FILTER_FALSE;
		case OP_LT:
			return r < 0 ? ROW_FILTER_TRUE : ROW_FILTER_FALSE;
		case OP_LTE:
			return r <= 0 ? ROW_FILTER_TRUE : ROW_FILTER_FALSE;
		case OP_GT:
			return r > 0 ? ROW_FILTER_TRUE : ROW_FILTER_FALSE;
		case OP_GTE:
			return r >= 0 ? ROW_FILTER_TRUE : ROW_FILTER_FALSE;
		default:
			return ROW_FILTER_UNKNOWN;
	}
}

/* SQL three-valued and / or / not over the subtree at node i. */
static RowFilterResult
eval_node(const RowFilter *f, uint32_t i, const EvalRow *row)
{
	const FNode *n = &f->nodes[i];
	RowFilterResult r,
				acc;
	uint32_t	k;

	switch ((NodeKind) n->kind)
	{
		case FN_AND:
		case FN_OR:
			{
				/* FALSE decides an and, TRUE an or */
				RowFilterResult decisive = n->kind == FN_AND ?
					ROW_FILTER_FALSE : ROW_FILTER_TRUE;

				acc = n->kind == FN_AND ? ROW_FILTER_TRUE : ROW_FILTER_FALSE;
				for (k = i + 1; k < n->end; k = f->nodes[k].end)
				{
					r = eval_node(f, k, row);
					if (r == decisive)
						return r;
					if (r == ROW_FILTER_UNKNOWN)
						acc = ROW_FILTER_UNKNOWN;
				}
				return acc;
			}
		case FN_NOT:
			r = eval_node(f, i + 1, row);
			return r == ROW_FILTER_UNKNOWN ? r :
				r == ROW_FILTER_TRUE ? ROW_FILTER_FALSE : ROW_FILTER_TRUE;
		case FN_CMP:
			return eval_comparison(n, row);
	}
	return ROW_FILTER_UNKNOWN;
}

static RowFilterResult
eval_with(const RowFilter *f, const RowFilterRow *row,
		  const JsonValue *oversized)
{
	EvalRow		er = {row, oversized};

	if (f == NULL || f->nnodes == 0 || row->values == NULL ||
		row->values->kind != JSON_ARRAY)
		return ROW_FILTER_UNKNOWN;
	return eval_node(f, 0, &er);
}

RowFilterResult
row_filter_eval_row(const RowFilter *f, const RowFilterRow *row)
{
	return eval_with(f, row, NULL);
}

/* Element i of a message if it is an array, else NULL (absent, null). */
static const JsonValue *
array_element(const JsonValue *m, uint32_t i)
{
	const JsonValue *v = json_array_get(m, i);

	return v != NULL && v->kind == JSON_ARRAY ? v : NULL;
}

/*
 * The row of a change that decides, per docs/FILTERS.md ("Which values a
 * change is filtered on"): false if the message has none (then UNKNOWN).
 */
static bool
change_row(const JsonValue *change, const int *key_cols, int nkeys,
		   RowFilterRow *row, const JsonValue **oversized)
{
	const JsonValue *kind = json_array_get(change, 0);

	memset(row, 0, sizeof(*row));
	*oversized = NULL;
	if (kind == NULL || kind->kind != JSON_STRING || kind->len != 1)
		return false;
	switch (kind->u.str[0])
	{
		case 'I':
		case 'U':
			/* the new row; unchanged TOAST and oversized columns UNKNOWN */
			row->values = array_element(change, 3);
			row->unknown = array_element(change, 5);
			*oversized = array_element(change, 6);
			return true;
		case 'D':
			/* the old key, positioned by the relation's key columns */
			row->values = array_element(change, 3);
			row->positions = key_cols;
			row->npositions = nkeys;
			*oversized = array_element(change, 7);
			return true;
		case 'S':
			row->values = array_element(change, 2);
			*oversized = array_element(change, 3);
			return true;
		default:
			return false;
	}
}

RowFilterResult
row_filter_eval_change(const RowFilter *f, const JsonValue *change,
					   const int *key_cols, int nkeys)
{
	RowFilterRow row;
	const JsonValue *oversized;

	if (!change_row(change, key_cols, nkeys, &row, &oversized))
		return ROW_FILTER_UNKNOWN;
	return eval_with(f, &row, oversized);
}

const JsonValue *
row_filter_change_value(const JsonValue *change, const int *key_cols,
						int nkeys, int col)
{
	RowFilterRow row;
	EvalRow		er;

	if (!change_row(change, key_cols, nkeys, &row, &er.oversized))
		return NULL;
	er.row = &row;
	return column_value(&er, col);
}

RowFilterResult
row_filter_eval(const RowFilter *f, const JsonValue *row_values_array)
{
	RowFilterRow row = {row_values_array, NULL, 0, NULL};

	return row_filter_eval_row(f, &row);
}

RowFilterResult
row_filter_eval_keys(const RowFilter *f, const JsonValue *key_values,
					 const int *key_cols, int nkeys)
{
	RowFilterRow row = {key_values, key_cols, nkeys, NULL};

	return row_filter_eval_row(f, &row);
}

