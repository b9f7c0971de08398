/*-------------------------------------------------------------------------
 *
 * row_filter_int.h
 *	  The compiled form of a row filter, shared by row_filter.c (which
 *	  builds it) and row_filter_eval.c (which evaluates it).  Private.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_ROW_FILTER_INT_H
#define PGSYNC_ROW_FILTER_INT_H

#include "filter/row_filter.h"
#include "filter/value_compare.h"

/* A node: and / or / not of its children, or one comparison. */
typedef enum NodeKind
{
	FN_AND,
	FN_OR,
	FN_NOT,
	FN_CMP
} NodeKind;

/* Comparison operators, in the order of op_names[] in row_filter.c. */
typedef enum FilterOp
{
	OP_EQ,
	OP_NEQ,
	OP_LT,
	OP_LTE,
	OP_GT,
	OP_GTE,
	OP_IN,
	OP_IS_NULL,
	OP_IS_NOT_NULL
} FilterOp;

/* How values of a column are compared. */
typedef enum Family
{
	FAM_NUMBER,					/* exact decimal: integers, floats, numeric */
	FAM_TEXT,					/* bytes, C collation */
	FAM_BOOL,
	FAM_TIME,					/* TimeKey of an ISO 8601 text */
	FAM_JSON					/* json_semantic_equal(): eq / neq / in only */
} Family;

/* FNode.flags, from the column's type */
#define T_INTEGER	0x01		/* literals must be finite */
#define T_BPCHAR	0x02		/* trailing spaces do not count */
#define T_UUID		0x04		/* literal must be a uuid; lower-cased */
#define T_ARRAY		0x08		/* literal must be a JSON array */

/* A literal, or a row value prepared for comparison. */
typedef union FValue
{
	Decimal		dec;
	TimeKey		time;
	struct
	{
		const char *s;
		size_t		len;
	}			str;
	bool		b;
	const JsonValue *json;
} FValue;

/* One node; a filter is its nodes in prefix order. */
typedef struct FNode
{
	uint8_t		kind;			/* NodeKind */
	uint8_t		op;				/* FilterOp, FN_CMP */
	uint8_t		family;			/* Family, FN_CMP */
	uint8_t		flags;			/* T_*, FN_CMP */
	uint8_t		dt;				/* DateTimeType, FAM_TIME */
	int32_t		col;			/* column position, FN_CMP */
	uint32_t	end;			/* index of the node after this subtree */
	uint32_t	nvals;			/* literals, FN_CMP */
	const FValue *vals;
} FNode;

struct RowFilter
{
	uint32_t	nnodes;
	const FNode *nodes;
};

#endif							/* PGSYNC_ROW_FILTER_INT_H */
