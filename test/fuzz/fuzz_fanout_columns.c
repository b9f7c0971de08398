/*-------------------------------------------------------------------------
 *
 * fuzz_fanout_columns.c
 *	  libFuzzer target for the projections of src/fanout/fanout_columns.c.
 *
 * The first byte picks a relation (key visible, REPLICA IDENTITY FULL, key
 * hidden), the rest is a change or snapshot row projected through a view
 * that hides one of its columns.  Whatever the input, the projection must
 * stay within its buffer and FO_PROJECTION_BOUND, and when the input is
 * JSON and the projection succeeds, the output is JSON too and never
 * longer than the input plus the bound's slack.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout_columns.h"
#include "json/json_value.h"

#define MAX_INPUT	(1 << 16)

static const char *const relations[3] = {
	"[\"R\",1,\"s\",\"t\",[\"id\",\"secret\",\"owner\",\"doc\"],[\"int\",\"text\",\"text\",\"jsonb\"],[0],\"default\"]",
	"[\"R\",1,\"s\",\"t\",[\"id\",\"secret\",\"owner\",\"doc\"],[\"int\",\"text\",\"text\",\"jsonb\"],[0,1,2,3],\"full\"]",
	"[\"R\",1,\"s\",\"t\",[\"id\",\"secret\",\"owner\",\"doc\"],[\"int\",\"text\",\"text\",\"jsonb\"],[1],\"default\"]",
};

static FoColumnView views[3];
static JsonDoc *doc;
static char *out;

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *) data + 1;
	size_t		len = size - 1;
	size_t		n;
	bool		is_json;

	if (doc == NULL)
	{
		const char *names[3] = {"id", "owner", "doc"};
		size_t		lens[3] = {2, 5, 3};
		uint32_t	set;

		if (!fanout_column_set_intern(names, lens, 3, &set))
			abort();
		for (int i = 0; i < 3; i++)
			if (!fanout_column_view_of_relation(&views[i], set, relations[i],
												strlen(relations[i])))
				abort();
		doc = json_doc_create(6 * MAX_INPUT + 16, MAX_INPUT, JSON_DEFAULT_MAX_DEPTH);
		out = malloc(FO_PROJECTION_BOUND(MAX_INPUT));
	}
	if (size < 1 || size > MAX_INPUT)
		return 0;
	is_json = json_parse(doc, msg, len, NULL) != NULL;
	n = fanout_column_view_change(&views[data[0] % 3], msg, len, out,
								  FO_PROJECTION_BOUND(len));
	if (n == (size_t) -1)
		return 0;
	if (n > FO_PROJECTION_BOUND(len))
		abort();
	if (is_json && json_parse(doc, out, n, NULL) == NULL)
		abort();
	return 0;
}
