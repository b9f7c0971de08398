/*-------------------------------------------------------------------------
 *
 * row_filter.h
 *	  Pure row filters: client JSON compiled against a relation's columns,
 *	  evaluated on the positional values of compact change messages.
 *
 * The grammar, the type families and the NULL semantics are specified in
 * docs/FILTERS.md.  A filter is compiled once per subscription and
 * relation message (column names resolved to positions, literals checked
 * and converted for the column's type) and then evaluated on each change,
 * with SQL three-valued logic.  A compiled filter is one malloc()'d block
 * of bounded size, independent of the JSON it came from.  No postgres.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_ROW_FILTER_H
#define PGSYNC_ROW_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json/json_value.h"

/* Limits; beyond them compilation fails with FILTER_TOO_DEEP/LARGE. */
#define ROW_FILTER_MAX_DEPTH	16	/* nesting of and / or / not */
#define ROW_FILTER_MAX_NODES	256 /* and / or / not / comparisons */
#define ROW_FILTER_MAX_VALUES	1024	/* literal values, "in" lists included */
#define ROW_FILTER_MAX_JSON		4096	/* JSON values in the filter text */

/* Stable error codes, sent to clients (row_filter_error_name()). */
typedef enum RowFilterErrorCode
{
	FILTER_OK = 0,
	FILTER_SYNTAX,				/* not a filter: shape, keys, JSON types */
	FILTER_UNKNOWN_COLUMN,		/* no such column in the relation */
	FILTER_BAD_OPERATOR,		/* unknown op, or not for this column type */
	FILTER_BAD_VALUE,			/* literal does not fit the column type */
	FILTER_TOO_DEEP,			/* nesting beyond ROW_FILTER_MAX_DEPTH */
	FILTER_TOO_LARGE,			/* beyond another ROW_FILTER_MAX_* */
	FILTER_NO_MEMORY
} RowFilterErrorCode;

typedef struct RowFilterError
{
	RowFilterErrorCode code;
	char		message[256];	/* "at and[1].not: column \"x\" ..." */
} RowFilterError;

/* "syntax", "unknown_column", ...: the code's stable name. */
extern const char *row_filter_error_name(RowFilterErrorCode code);

/*
 * One column of the relation message: name and type name (not NUL-ended).
 * A column whose name is NULL keeps its position but no filter can name
 * it: a column the client may not read (fanout_columns.h).
 */
typedef struct RowFilterColumn
{
	const char *name;
	size_t		name_len;
	const char *type;			/* "integer", "numeric(12,2)", "text[]"... */
	size_t		type_len;
} RowFilterColumn;

/*
 * A relation's column description, as the change stream carries it: three
 * JSON arrays, [names], [types] (format_type with typmod) and [key
 * positions] (indexes of the replica identity key columns).  The plugin
 * writes it in one place (relation_info_append_columns()): inside the
 * relation message ["R",oid,schema,table,[names],[types],[keys],identity]
 * and, as "columns", "types" and "key", in a snapshot file's header.
 * This is its one parser.
 *
 * ROW_FILTER_MAX_COLUMNS: more columns than any relation can have
 * (MaxTupleAttributeNumber; MaxHeapAttributeNumber is 1600): the one
 * limit for every caller.
 */
#define ROW_FILTER_MAX_COLUMNS 1664

/*
 * Fill cols[0..max) and key_cols[0..max) from a column description; the
 * slices point into the arrays.  Returns the column count and sets
 * *nkeys, or -1 if it is not one or has more than max columns.
 */
extern int	row_filter_column_description(const JsonValue *names,
										  const JsonValue *types,
										  const JsonValue *keys,
										  RowFilterColumn *cols,
										  int *key_cols, int *nkeys, int max);

/* The same from a parsed compact relation message (-1: not one). */
extern int	row_filter_relation_columns(const JsonValue *rel,
										RowFilterColumn *cols, int *key_cols,
										int *nkeys, int max);

typedef enum RowFilterResult
{
	ROW_FILTER_FALSE = 0,
	ROW_FILTER_TRUE = 1,
	ROW_FILTER_UNKNOWN = 2		/* SQL NULL: the row does not match */
} RowFilterResult;

typedef struct RowFilter RowFilter;

/*
 * Compile filter (a parsed JSON object) for a relation with these ncols
 * columns.  Returns NULL with *err filled on error.  The result does not
 * point into filter or cols.
 */
extern RowFilter *row_filter_compile(const JsonValue *filter,
									 const RowFilterColumn *cols, int ncols,
									 RowFilterError *err);

/*
 * Check what can be checked without the columns: the grammar, the limits,
 * null literals.  Column names, operators for the column's type and
 * literals for its type are checked by row_filter_compile() only.  (This
 * is a compilation with ncols = -1, "any column, any type"; compile
 * itself never accepts a negative ncols from other callers.)
 */
extern bool row_filter_check(const JsonValue *filter, RowFilterError *err);

extern void row_filter_free(RowFilter *f);

/*
 * The values of one change, as a compact message gives them:
 *   values     the positional array ("new", or "old" for a delete);
 *   positions  column index of each element of values, or NULL when
 *              element i is column i (the old key array of a delete
 *              holds only the key columns: pass the relation message's
 *              key column list);
 *   unknown    NULL, or the message's "unchanged_toast" array: columns
 *              whose value was not sent (null placeholders).
 * A column with no value (not in positions, beyond the array, listed in
 * unknown) makes every test on it UNKNOWN, is_null included.
 */
typedef struct RowFilterRow
{
	const JsonValue *values;
	const int  *positions;
	int			npositions;
	const JsonValue *unknown;
} RowFilterRow;

extern RowFilterResult row_filter_eval_row(const RowFilter *f,
										   const RowFilterRow *row);

/*
 * Evaluate on one parsed compact message, taking the values the way
 * docs/FILTERS.md says ("Which values a change is filtered on"):
 *   ["I"|"U",rel,lsn,new,old,toast,oversized,old_oversized]: the new row,
 *      columns in toast and in oversized UNKNOWN;
 *   ["D",rel,lsn,old,null,null,null,old_oversized]: the old key, element
 *      i being column key_cols[i] (the relation message's key list), the
 *      columns in old_oversized UNKNOWN;
 *   ["S",rel,row,oversized]: a snapshot row, oversized columns UNKNOWN.
 * Anything else is UNKNOWN.  (Truncates are not filtered: the caller
 * delivers them.)
 */
extern RowFilterResult row_filter_eval_change(const RowFilter *f,
											  const JsonValue *change,
											  const int *key_cols, int nkeys);

/*
 * The value of column col (a relation message position) in a parsed
 * compact change, by the same rule: which row decides, which values are
 * UNKNOWN.  NULL when the change does not carry it.  For consumers that
 * evaluate something else than a row filter on a change (row-level
 * security policies, worker_rls.c).
 */
extern const JsonValue *row_filter_change_value(const JsonValue *change,
												const int *key_cols,
												int nkeys, int col);

/* Evaluate on a full positional row (insert, update "new"). */
extern RowFilterResult row_filter_eval(const RowFilter *f,
									   const JsonValue *row_values_array);

/* Evaluate on an old key array whose element i is column key_cols[i]. */
extern RowFilterResult row_filter_eval_keys(const RowFilter *f,
											const JsonValue *key_values,
											const int *key_cols, int nkeys);

/* Does the row pass (TRUE, not FALSE or UNKNOWN)? */
static inline bool
row_filter_matches(const RowFilter *f, const JsonValue *row_values_array)
{
	return row_filter_eval(f, row_values_array) == ROW_FILTER_TRUE;
}

#endif							/* PGSYNC_ROW_FILTER_H */
