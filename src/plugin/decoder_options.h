/*-------------------------------------------------------------------------
 *
 * decoder_options.h
 *	  The output plugin's options: what a consumer asked for.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_DECODER_OPTIONS_H
#define PGSYNC_DECODER_OPTIONS_H

#include "nodes/pg_list.h"
#include "filter/table_pattern.h"

typedef enum PgsyncFormat
{
	PGSYNC_FORMAT_FULL,			/* self-describing: names in every change */
	PGSYNC_FORMAT_COMPACT		/* relation message once, then positional */
} PgsyncFormat;

/* Bits of DecoderOptions.actions */
#define PGSYNC_ACTION_INSERT	0x01
#define PGSYNC_ACTION_UPDATE	0x02
#define PGSYNC_ACTION_DELETE	0x04
#define PGSYNC_ACTION_TRUNCATE	0x08
#define PGSYNC_ACTION_MESSAGE	0x10
#define PGSYNC_ACTION_ALL		0x1F

/*
 * Values too large to send (docs/PROTOCOL.md): a value whose JSON would
 * pass max-value-bytes is left out and marked with its size.  The limit
 * may be set between PGSYNC_MAX_VALUE_BYTES_MIN and _MAX; and whatever it
 * is, a value is also left out when the values of its message would pass
 * PGSYNC_MESSAGE_VALUES_MAX, so that no message, whatever the number of
 * columns, nears PostgreSQL's 1 GB allocation limit.
 */
#define PGSYNC_MAX_VALUE_BYTES_DEFAULT	(64 * 1024 * 1024)
#define PGSYNC_MAX_VALUE_BYTES_MIN		16
#define PGSYNC_MAX_VALUE_BYTES_MAX		(512 * 1024 * 1024)
#define PGSYNC_MESSAGE_VALUES_MAX		(512 * 1024 * 1024)

typedef struct DecoderOptions
{
	PgsyncFormat format;
	uint32		actions;		/* PGSYNC_ACTION_* bits */
	bool		include_xids;
	bool		include_timestamps;
	bool		include_lsn;
	bool		include_types;	/* type names in full-format changes */
	bool		include_transaction;	/* begin/commit messages */
	bool		skip_empty_xacts;
	bool		numeric_as_number;
	bool		stream_in_progress; /* stream large transactions in progress */
	int			max_value_bytes;	/* larger values are marked, not sent */

	TablePattern *include_tables;	/* NULL: every table */
	int			n_include_tables;
	TablePattern *exclude_tables;
	int			n_exclude_tables;
	PatternSlice *message_prefixes; /* NULL: every prefix */
	int			n_message_prefixes;
} DecoderOptions;

/* Fill *opts from the plugin's DefElem list; ERROR on anything unknown. */
extern void decoder_options_parse(DecoderOptions *opts, List *options);

/* Is schema.table wanted by include/exclude-tables? */
extern bool decoder_options_table_wanted(const DecoderOptions *opts,
										 const char *schema, const char *table);

/* Is a logical message with this prefix wanted? */
extern bool decoder_options_prefix_wanted(const DecoderOptions *opts,
										  const char *prefix);

#endif							/* PGSYNC_DECODER_OPTIONS_H */
