/*-------------------------------------------------------------------------
 *
 * worker_columns.h
 *	  Column privileges from the catalog: which columns of a table a role
 *	  may read, as a column set of the fan-out (fanout_columns.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_COLUMNS_H
#define PGSYNC_WORKER_COLUMNS_H

#include "catalog/pg_attribute.h"

/*
 * The set of the columns of table relid that role may SELECT through
 * column privileges (for a role without SELECT on the whole table, which
 * worker_auth_denies() checks first), in *columns; false if there is no
 * such column.  Needs a transaction; reads the catalog as it stands for
 * the caller (as of the change while decoding).
 */
extern bool worker_columns_readable(Oid role, Oid relid, uint32 *columns);

/*
 * Is column att in column set columns (0: every column)?  How the
 * subscribe-time checks see a table's columns as the fan-out does: by the
 * name the relation message gives it.
 */
extern bool worker_column_in_set(uint32 columns, Form_pg_attribute att);

#endif							/* PGSYNC_WORKER_COLUMNS_H */
