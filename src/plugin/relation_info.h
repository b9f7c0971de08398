/*-------------------------------------------------------------------------
 *
 * relation_info.h
 *	  Per-relation cache of everything the encoder needs about a table.
 *
 * One entry per relation seen in a decoding session: names, live columns
 * with their value encoders, identity key, and precomputed JSON fragments.
 * A relcache invalidation (ALTER TABLE, ...) marks entries stale; they are
 * rebuilt on next use from the relation as of the change being decoded.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_RELATION_INFO_H
#define PGSYNC_RELATION_INFO_H

#include "lib/stringinfo.h"
#include "utils/rel.h"

#include "plugin/decoder_options.h"
#include "plugin/value_encode.h"

/*
 * Which columns the change stream describes, and how: the live ones (not
 * dropped, not system columns), in attnum order, with the type as
 * format_type_with_typemod() writes it.  Used by the cache below and by
 * the subscribe-time checks that read the catalog (worker_subscribe.c),
 * so a row filter compiles against the same columns in both places.
 */
static inline bool
relation_column_is_live(Form_pg_attribute att)
{
	return !att->attisdropped && att->attnum > 0;
}

extern char *relation_column_type_name(Form_pg_attribute att);

typedef struct ColumnInfo
{
	int			attidx;			/* index into the tuple descriptor */
	char	   *name;
	char	   *type_name;		/* format_type_with_typemod() */
	char	   *json_key;		/* "\"name\":" escaped, for the full format */
	int			json_key_len;
	bool		is_key;			/* part of the replica identity key */
	ValueEncoder enc;
} ColumnInfo;

typedef struct RelationInfo
{
	Oid			relid;			/* hash key: keep first */
	bool		valid;			/* false after an invalidation */
	bool		wanted;			/* passes include/exclude-tables */
	char		replident;		/* REPLICA_IDENTITY_* */
	char	   *schema;
	char	   *table;
	int			ncols;
	ColumnInfo *cols;			/* live (non-dropped) columns, in order */
	int			nkeys;
	int		   *key_cols;		/* indexes into cols */
	char	   *name_fragment;	/* "\"schema\":\"s\",\"table\":\"t\"" */
	char	   *types_fragment; /* "\"types\":{...}" */
	char	   *relid_fragment; /* ",16384" for compact changes */
	int			relid_fragment_len;
	/* scratch space of the encoder, so a change allocates nothing */
	int			natts;			/* of the tuple descriptor it was built from */
	Datum	   *values;			/* [natts] */
	bool	   *nulls;			/* [natts] */
	bool	   *toast;			/* [ncols]: unchanged TOAST in the new row */
	bool	   *old_toast;		/* [ncols]: the same for the old row */
	int64	   *oversized;		/* [ncols]: JSON size of a new value left
								 * out as too large, 0 if sent */
	int64	   *old_oversized;	/* [ncols]: the same for the old row */
	MemoryContext mcxt;			/* owns everything above; reset on rebuild */

	uint64		build_number;	/* changes with every (re)build */

	/*
	 * Compact format: the relation message last sent in this session,
	 * outside streamed transactions (output_plugin.c keeps those apart).
	 */
	bool		message_checked;	/* compared with sent_message since build */
	char	   *sent_message;
	int			sent_message_len;
} RelationInfo;

/* Create the cache for one decoding session, under parent. */
extern void relation_info_cache_init(MemoryContext parent,
									 const DecoderOptions *opts);

/* Forget the cache at the end of the session. */
extern void relation_info_cache_destroy(void);

/* Entry for relation, built or rebuilt as needed. */
extern RelationInfo *relation_info_get(Relation relation);

/* Record that msg is the relation message now known to the consumer. */
extern void relation_info_mark_sent(RelationInfo *ri, const char *msg, int len);

/*
 * Forget what was sent for relid: its next change sends its relation
 * message again (after a streamed transaction that described it).
 */
extern void relation_info_forget_sent(Oid relid);

/* Has the consumer got exactly this relation message already? */
extern bool relation_info_already_sent(const RelationInfo *ri,
									   const char *msg, int len);

#endif							/* PGSYNC_RELATION_INFO_H */
