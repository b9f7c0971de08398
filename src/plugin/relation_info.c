/*-------------------------------------------------------------------------
 *
 * relation_info.c
 *	  Per-relation cache of everything the encoder needs about a table.
 *
 * Lives for one decoding session (startup to shutdown), like pgoutput's
 * RelationSyncCache.  The relcache callback is registered once per backend
 * and only flips flags, so it is safe whenever invalidations are processed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "access/tupdesc.h"
#include "catalog/pg_class.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/relcache.h"

#include "plugin/relation_info.h"

static HTAB *relation_cache = NULL;
static uint64 relation_builds = 0;	/* RelationInfo.build_number */
static MemoryContext relation_cache_mcxt = NULL;
static const DecoderOptions *cache_opts = NULL;
static MemoryContext cache_owner = NULL;
static bool callback_registered = false;

/*
 * The decoding context is deleted without the shutdown callback when
 * decoding fails with an ERROR: forget the cache then too, so the relcache
 * callback never looks at freed memory.
 */
static void
forget_cache(void *arg)
{
	if (arg != (void *) cache_owner)
		return;
	relation_cache = NULL;
	relation_cache_mcxt = NULL;
	cache_opts = NULL;
	cache_owner = NULL;
}

static void
invalidate_relation_info(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	RelationInfo *ri;

	if (relation_cache == NULL)
		return;
	if (OidIsValid(relid))
	{
		ri = hash_search(relation_cache, &relid, HASH_FIND, NULL);
		if (ri != NULL)
			ri->valid = false;
		return;
	}
	hash_seq_init(&status, relation_cache);
	while ((ri = hash_seq_search(&status)) != NULL)
		ri->valid = false;
}

void
relation_info_cache_init(MemoryContext parent, const DecoderOptions *opts)
{
	HASHCTL		ctl;
	MemoryContextCallback *reset_cb;

	relation_cache_mcxt = AllocSetContextCreate(parent, "pgsync relation cache",
												ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RelationInfo);
	ctl.hcxt = relation_cache_mcxt;
	relation_cache = hash_create("pgsync relations", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	cache_opts = opts;
	cache_owner = parent;
	reset_cb = MemoryContextAlloc(parent, sizeof(MemoryContextCallback));
	reset_cb->func = forget_cache;
	reset_cb->arg = (void *) parent;
	MemoryContextRegisterResetCallback(parent, reset_cb);
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(invalidate_relation_info, (Datum) 0);
		callback_registered = true;
	}
}

void
relation_info_cache_destroy(void)
{
	if (relation_cache_mcxt != NULL)
		MemoryContextDelete(relation_cache_mcxt);
	forget_cache((void *) cache_owner);
}

static char *
escaped_fragment(const char *prefix, const char *s, const char *suffix)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, prefix);
	json_append_escaped(&buf, s, strlen(s));
	appendStringInfoString(&buf, suffix);
	return buf.data;
}

static void
build_fragments(RelationInfo *ri)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "\"schema\":");
	json_append_cstring(&buf, ri->schema);
	appendStringInfoString(&buf, ",\"table\":");
	json_append_cstring(&buf, ri->table);
	ri->name_fragment = buf.data;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "\"types\":{");
	for (i = 0; i < ri->ncols; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, ri->cols[i].json_key);
		json_append_cstring(&buf, ri->cols[i].type_name);
	}
	appendStringInfoChar(&buf, '}');
	ri->types_fragment = buf.data;
}

static void
build_relation_info(RelationInfo *ri, Relation relation)
{
	TupleDesc	desc = RelationGetDescr(relation);
	Bitmapset  *idattrs = NULL;
	MemoryContext old;
	int			i;

	MemoryContextReset(ri->mcxt);
	old = MemoryContextSwitchTo(ri->mcxt);

	ri->schema = get_namespace_name(RelationGetNamespace(relation));
	ri->table = pstrdup(RelationGetRelationName(relation));
	ri->replident = relation->rd_rel->relreplident;
	ri->wanted = decoder_options_table_wanted(cache_opts, ri->schema, ri->table);

	if (ri->replident != REPLICA_IDENTITY_NOTHING &&
		ri->replident != REPLICA_IDENTITY_FULL)
		idattrs = RelationGetIdentityKeyBitmap(relation);

	ri->cols = palloc0(sizeof(ColumnInfo) * Max(desc->natts, 1));
	ri->key_cols = palloc0(sizeof(int) * Max(desc->natts, 1));
	ri->ncols = 0;
	ri->nkeys = 0;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		ColumnInfo *col;

		if (!relation_column_is_live(att))
			continue;
		col = &ri->cols[ri->ncols];
		col->attidx = i;
		col->name = pstrdup(NameStr(att->attname));
		col->type_name = relation_column_type_name(att);
		col->json_key = escaped_fragment("\"", col->name, "\":");
		col->json_key_len = strlen(col->json_key);
		col->is_key = ri->replident == REPLICA_IDENTITY_FULL ||
			bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber,
						  idattrs);
		value_encoder_init(&col->enc, att->atttypid, ri->mcxt);
		if (col->is_key)
			ri->key_cols[ri->nkeys++] = ri->ncols;
		ri->ncols++;
	}
	ri->natts = desc->natts;
	ri->values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	ri->nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	ri->toast = palloc(sizeof(bool) * Max(ri->ncols, 1));
	ri->old_toast = palloc(sizeof(bool) * Max(ri->ncols, 1));
	ri->oversized = palloc(sizeof(int64) * Max(ri->ncols, 1));
	ri->old_oversized = palloc(sizeof(int64) * Max(ri->ncols, 1));
	build_fragments(ri);
	ri->relid_fragment = psprintf(",%u", ri->relid);
	ri->relid_fragment_len = strlen(ri->relid_fragment);
	MemoryContextSwitchTo(old);
	ri->build_number = ++relation_builds;
	ri->message_checked = false;
	ri->valid = true;
}

RelationInfo *
relation_info_get(Relation relation)
{
	Oid			relid = RelationGetRelid(relation);
	RelationInfo *ri;
	bool		found;

	Assert(relation_cache != NULL);
	ri = hash_search(relation_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		ri->mcxt = AllocSetContextCreate(relation_cache_mcxt,
										 "pgsync relation",
										 ALLOCSET_SMALL_SIZES);
		ri->sent_message = NULL;
		ri->sent_message_len = 0;
		ri->valid = false;
	}
	if (!ri->valid)
		build_relation_info(ri, relation);
	return ri;
}

bool
relation_info_already_sent(const RelationInfo *ri, const char *msg, int len)
{
	return ri->sent_message != NULL && ri->sent_message_len == len &&
		memcmp(ri->sent_message, msg, len) == 0;
}

void
relation_info_forget_sent(Oid relid)
{
	RelationInfo *ri;

	if (relation_cache == NULL ||
		(ri = hash_search(relation_cache, &relid, HASH_FIND, NULL)) == NULL)
		return;
	if (ri->sent_message != NULL)
		pfree(ri->sent_message);
	ri->sent_message = NULL;
	ri->sent_message_len = 0;
	ri->message_checked = false;
}

void
relation_info_mark_sent(RelationInfo *ri, const char *msg, int len)
{
	ri->message_checked = true;
	if (relation_info_already_sent(ri, msg, len))
		return;
	if (ri->sent_message != NULL)
		pfree(ri->sent_message);
	ri->sent_message = MemoryContextAlloc(relation_cache_mcxt, len);
	memcpy(ri->sent_message, msg, len);
	ri->sent_message_len = len;
}

char *
relation_column_type_name(Form_pg_attribute att)
{
	return format_type_with_typemod(att->atttypid, att->atttypmod);
}
