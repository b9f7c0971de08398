/*-------------------------------------------------------------------------
 *
 * fanout_columns.h
 *	  Pure column privileges of the change stream: column sets, and the
 *	  projection of relation messages, changes, snapshot headers and rows
 *	  onto the columns of a set (docs/SECURITY.md, "Authorization").
 *
 * A column set is the set of columns, by name, that a role may read of a
 * table it has no SELECT on as a whole.  Names, because the relation
 * message carries names and names survive ALTER TABLE, where positions do
 * not.  Sets are interned process-wide and named by a small id (FoGrant.
 * columns; 0 is "every column"), so clients of different roles with the
 * same columns share one set, and the fan-out encodes each projection once.
 *
 * A view is one column set applied to one column description (the
 * relation message, or a snapshot file's header): which positions are
 * kept and where they go.  Projecting through it removes the hidden
 * columns from everything that names or positions them: the column list,
 * types and key indexes of the description; new rows, old keys (or rows),
 * unchanged-TOAST and oversized index lists of changes; snapshot rows.
 * Kept bytes are copied as the plugin wrote them (json_span.h), so a
 * visible value reads exactly as an unrestricted client gets it.  No
 * postgres.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_FANOUT_COLUMNS_H
#define PGSYNC_FANOUT_COLUMNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/row_filter.h"

/*
 * The id of the set of these n column names (UTF-8, as the relation
 * message carries them; duplicates and order do not matter), the same id
 * for the same set for the life of the process.  false when out of memory.
 */
extern bool fanout_column_set_intern(const char *const *names,
									 const size_t *lens, int n, uint32_t *id);

/* Is the column named name[0..len) in set id (false for an unknown id)? */
extern bool fanout_column_set_contains(uint32_t id, const char *name,
									   size_t len);

typedef struct FoColumnView
{
	uint32_t	set;			/* the column set */
	int			ncols;			/* columns of the description */
	int			nvisible;		/* of them, in the set */
	int		   *newpos;			/* [ncols]: position in the projection, or
								 * -1 for a hidden column */
	int			nkeys;
	int		   *keys;			/* [nkeys]: the description's key columns */
	char	   *desc[3];		/* projected names, types, key arrays */
	size_t		desc_len[3];
} FoColumnView;

/*
 * Build v for set over the column description of a compact relation
 * message, or of a snapshot file's header (docs/WEBSOCKET.md).  false
 * (v empty) if the text is not one, or out of memory.
 */
extern bool fanout_column_view_of_relation(FoColumnView *v, uint32_t set,
										   const char *msg, size_t len);
extern bool fanout_column_view_of_header(FoColumnView *v, uint32_t set,
										 const char *hdr, size_t len);
extern void fanout_column_view_free(FoColumnView *v);

/* Does the set leave every column of the description visible? */
static inline bool
fanout_column_view_hides_nothing(const FoColumnView *v)
{
	return v->nvisible == v->ncols;
}

/*
 * The relation message (or header) the view was built from, projected:
 * hidden columns left out of names and types, key indexes renumbered and
 * hidden keys left out.  malloc'd and NUL-terminated, NULL if out of
 * memory or malformed.
 */
extern char *fanout_column_view_relation(const FoColumnView *v,
										 const char *msg, size_t len,
										 size_t *outlen);
extern char *fanout_column_view_header(const FoColumnView *v,
									   const char *hdr, size_t len,
									   size_t *outlen);

/*
 * Project a compact change (I, U, D) or snapshot row (S) of the view's
 * relation into out[0..cap), which FO_PROJECTION_BOUND(len) always
 * suffices for.  The hidden columns' values leave the new row, their
 * elements the old key or row, their indexes the unchanged-TOAST and
 * oversized lists (the rest renumbered); lists left empty are written as
 * the plugin writes empty ones (null, trailing positions dropped), and an
 * update's old key with no visible column is left out like one not
 * logged.  Returns the length, or (size_t) -1 if msg is not such a
 * message of this description (too few values, ...).
 */
#define FO_PROJECTION_BOUND(len) ((len) + 16)
extern size_t fanout_column_view_change(const FoColumnView *v,
										const char *msg, size_t len,
										char *out, size_t cap);

/*
 * Make the hidden columns of cols[0..ncols) (the same description)
 * unnameable by a row filter (RowFilterColumn.name = NULL): a filter
 * naming one does not compile ("no column"), and one that compiles reads
 * visible columns only, so it gives the same answer on the change as on
 * its projection.
 */
extern void fanout_column_view_mask(const FoColumnView *v,
									RowFilterColumn *cols, int ncols);

#endif							/* PGSYNC_FANOUT_COLUMNS_H */
