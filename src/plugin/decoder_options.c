/*-------------------------------------------------------------------------
 *
 * decoder_options.c
 *	  Parse and apply the output plugin's options.
 *
 * Every option is named in docs/PROTOCOL.md.  Anything unknown, repeated
 * or malformed is an ERROR that names the option and says what it takes:
 * a typo must never silently change what a consumer receives.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "plugin/decoder_options.h"

typedef enum OptionKind
{
	OPT_BOOL,
	OPT_FORMAT,
	OPT_ACTIONS,
	OPT_TABLES,
	OPT_PREFIXES,
	OPT_BYTES
} OptionKind;

typedef struct OptionDef
{
	const char *name;
	OptionKind	kind;
	size_t		offset;			/* of the field, for OPT_BOOL and OPT_BYTES */
} OptionDef;

#define BOOL_OPTION(name, field) \
	{name, OPT_BOOL, offsetof(DecoderOptions, field)}

static const OptionDef option_defs[] = {
	{"format", OPT_FORMAT, 0},
	{"actions", OPT_ACTIONS, 0},
	{"include-tables", OPT_TABLES, 0},
	{"exclude-tables", OPT_TABLES, 0},
	{"message-prefixes", OPT_PREFIXES, 0},
	{"max-value-bytes", OPT_BYTES, offsetof(DecoderOptions, max_value_bytes)},
	BOOL_OPTION("include-xids", include_xids),
	BOOL_OPTION("include-timestamps", include_timestamps),
	BOOL_OPTION("include-lsn", include_lsn),
	BOOL_OPTION("include-types", include_types),
	BOOL_OPTION("include-transaction", include_transaction),
	BOOL_OPTION("skip-empty-xacts", skip_empty_xacts),
	BOOL_OPTION("numeric-as-number", numeric_as_number),
	BOOL_OPTION("stream-in-progress", stream_in_progress),
};

#define N_OPTIONS lengthof(option_defs)

static void
set_defaults(DecoderOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->format = PGSYNC_FORMAT_FULL;
	opts->actions = PGSYNC_ACTION_ALL;
	opts->include_xids = true;
	opts->include_timestamps = true;
	opts->include_lsn = true;
	opts->include_types = false;
	opts->include_transaction = true;
	opts->skip_empty_xacts = true;
	opts->numeric_as_number = false;
	opts->max_value_bytes = PGSYNC_MAX_VALUE_BYTES_DEFAULT;
}

static char *
option_list_names(void)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < N_OPTIONS; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", option_defs[i].name);
	return buf.data;
}

static const char *
require_value(DefElem *elem)
{
	if (elem->arg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: option \"%s\" requires a value", elem->defname)));
	return strVal(elem->arg);
}

static void
parse_format(DecoderOptions *opts, DefElem *elem)
{
	const char *v = require_value(elem);

	if (strcmp(v, "full") == 0)
		opts->format = PGSYNC_FORMAT_FULL;
	else if (strcmp(v, "compact") == 0)
		opts->format = PGSYNC_FORMAT_COMPACT;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: invalid value \"%s\" for option \"format\"", v),
				 errhint("Valid values are \"full\" and \"compact\".")));
}

static void
parse_actions(DecoderOptions *opts, DefElem *elem)
{
	static const struct
	{
		const char *name;
		uint32		bit;
	}			actions[] = {
		{"insert", PGSYNC_ACTION_INSERT},
		{"update", PGSYNC_ACTION_UPDATE},
		{"delete", PGSYNC_ACTION_DELETE},
		{"truncate", PGSYNC_ACTION_TRUNCATE},
		{"message", PGSYNC_ACTION_MESSAGE},
	};
	const char *v = require_value(elem);
	const char *err;
	int			n = pattern_list_split(v, NULL, 0, &err);
	PatternSlice *items;
	int			i;

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: invalid value \"%s\" for option \"actions\": %s", v, err)));
	items = palloc(sizeof(PatternSlice) * n);
	pattern_list_split(v, items, n, &err);
	opts->actions = 0;
	for (i = 0; i < n; i++)
	{
		int			j;
		bool		found = false;

		for (j = 0; j < lengthof(actions); j++)
		{
			if (strlen(actions[j].name) == items[i].len &&
				strncmp(actions[j].name, items[i].ptr, items[i].len) == 0)
			{
				opts->actions |= actions[j].bit;
				found = true;
			}
		}
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pgsync: unknown action \"%.*s\" in option \"actions\"",
							(int) items[i].len, items[i].ptr),
					 errhint("Valid actions are insert, update, delete, truncate and message.")));
	}
	pfree(items);
}

static void
parse_tables(DecoderOptions *opts, DefElem *elem)
{
	const char *v = pstrdup(require_value(elem));
	const char *err;
	int			n = table_pattern_parse(v, NULL, 0, &err);
	TablePattern *pats;

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: invalid value \"%s\" for option \"%s\": %s",
						v, elem->defname, err)));
	pats = palloc(sizeof(TablePattern) * n);
	table_pattern_parse(v, pats, n, &err);
	if (strcmp(elem->defname, "include-tables") == 0)
	{
		opts->include_tables = pats;
		opts->n_include_tables = n;
	}
	else
	{
		opts->exclude_tables = pats;
		opts->n_exclude_tables = n;
	}
}

static void
parse_prefixes(DecoderOptions *opts, DefElem *elem)
{
	const char *v = pstrdup(require_value(elem));
	const char *err;
	int			n = pattern_list_split(v, NULL, 0, &err);

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: invalid value \"%s\" for option \"message-prefixes\": %s",
						v, err)));
	opts->message_prefixes = palloc(sizeof(PatternSlice) * n);
	opts->n_message_prefixes = n;
	pattern_list_split(v, opts->message_prefixes, n, &err);
}

/* A size: bytes, or a number with a unit as in postgresql.conf ("1MB"). */
static void
parse_bytes_option(DecoderOptions *opts, const OptionDef *def, DefElem *elem)
{
	int		   *field = (int *) ((char *) opts + def->offset);
	const char *v = require_value(elem);
	const char *hint = NULL;
	int			n;

	if (!parse_int(v, &n, GUC_UNIT_BYTE, &hint))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: invalid value \"%s\" for option \"%s\"",
						v, elem->defname),
				 errhint("%s", hint ? hint :
						 "Give a number of bytes, optionally with a unit: \"65536\", \"64kB\", \"16MB\".")));
	if (n < PGSYNC_MAX_VALUE_BYTES_MIN || n > PGSYNC_MAX_VALUE_BYTES_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: value \"%s\" for option \"%s\" is out of range",
						v, elem->defname),
				 errhint("It must be between %d bytes and %d MB.",
						 PGSYNC_MAX_VALUE_BYTES_MIN,
						 PGSYNC_MAX_VALUE_BYTES_MAX / (1024 * 1024))));
	*field = n;
}

static void
parse_bool_option(DecoderOptions *opts, const OptionDef *def, DefElem *elem)
{
	bool	   *field = (bool *) ((char *) opts + def->offset);

	/* "-o include-xids" without a value means true, as in test_decoding */
	if (elem->arg == NULL)
		*field = true;
	else if (!parse_bool(strVal(elem->arg), field))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: option \"%s\" requires a Boolean value, not \"%s\"",
						elem->defname, strVal(elem->arg))));
}

void
decoder_options_parse(DecoderOptions *opts, List *options)
{
	bool		seen[N_OPTIONS] = {0};
	ListCell   *lc;

	set_defaults(opts);
	foreach(lc, options)
	{
		DefElem    *elem = lfirst(lc);
		const OptionDef *def = NULL;
		int			i;

		for (i = 0; i < N_OPTIONS; i++)
		{
			if (strcmp(elem->defname, option_defs[i].name) == 0)
			{
				def = &option_defs[i];
				break;
			}
		}
		if (def == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pgsync: unknown option \"%s\"", elem->defname),
					 errhint("Valid options are: %s.", option_list_names())));
		if (seen[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pgsync: option \"%s\" given more than once", elem->defname)));
		seen[i] = true;

		switch (def->kind)
		{
			case OPT_BOOL:
				parse_bool_option(opts, def, elem);
				break;
			case OPT_FORMAT:
				parse_format(opts, elem);
				break;
			case OPT_ACTIONS:
				parse_actions(opts, elem);
				break;
			case OPT_TABLES:
				parse_tables(opts, elem);
				break;
			case OPT_PREFIXES:
				parse_prefixes(opts, elem);
				break;
			case OPT_BYTES:
				parse_bytes_option(opts, def, elem);
				break;
		}
	}

	/*
	 * PostgreSQL does not say which subtransaction a streamed logical
	 * message belongs to, so one rolled back to a savepoint could not be
	 * taken back (docs/PROTOCOL.md, "Streaming").
	 */
	if (opts->stream_in_progress && (opts->actions & PGSYNC_ACTION_MESSAGE))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: option \"stream-in-progress\" cannot be used with logical messages"),
				 errhint("Leave \"message\" out of option \"actions\".")));
}

bool
decoder_options_table_wanted(const DecoderOptions *opts,
							 const char *schema, const char *table)
{
	if (opts->include_tables != NULL &&
		!table_pattern_match_any(opts->include_tables, opts->n_include_tables,
								 schema, table))
		return false;
	if (opts->exclude_tables != NULL &&
		table_pattern_match_any(opts->exclude_tables, opts->n_exclude_tables,
								schema, table))
		return false;
	return true;
}

bool
decoder_options_prefix_wanted(const DecoderOptions *opts, const char *prefix)
{
	int			i;

	if (opts->message_prefixes == NULL)
		return true;
	for (i = 0; i < opts->n_message_prefixes; i++)
		if (glob_match(opts->message_prefixes[i], prefix))
			return true;
	return false;
}
