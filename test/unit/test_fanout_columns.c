/*
 * test_fanout_columns.c: unit tests of column privileges in the fan-out:
 * column sets and projections (fanout/fanout_columns.c), and routing
 * through them (fanout_project.c): each distinct projection built once per
 * routed message, shared by the clients of one column set; row filters on
 * hidden columns refused.  White-box: reads fan-out counters through
 * fanout_int.h.  Built with ASan/UBSan by `make unit`; prints "N passed,
 * N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_columns.h"
#include "fanout/fanout_int.h"
#include "protocol/client_protocol.h"
#include "unit.h"

/* public.t (id, secret, owner, doc), key id; and the same under FULL */
#define REL_T "[\"R\",1,\"public\",\"t\",[\"id\",\"secret\",\"owner\",\"doc\"]," \
	"[\"integer\",\"text\",\"text\",\"jsonb\"],[0],\"default\"]"
#define REL_FULL "[\"R\",3,\"public\",\"f\",[\"id\",\"secret\",\"owner\",\"doc\"]," \
	"[\"integer\",\"text\",\"text\",\"jsonb\"],[0,1,2,3],\"full\"]"
/* public.k: the key is the hidden column */
#define REL_K "[\"R\",2,\"public\",\"k\",[\"id\",\"secret\",\"owner\",\"doc\"]," \
	"[\"integer\",\"text\",\"text\",\"jsonb\"],[1],\"default\"]"

static uint32_t
set_of(const char *a, const char *b, const char *c)
{
	const char *names[3] = {a, b, c};
	size_t		lens[3];
	int			n = 0;
	uint32_t	id;

	for (; n < 3 && names[n] != NULL; n++)
		lens[n] = strlen(names[n]);
	CHECK(fanout_column_set_intern(names, lens, n, &id) && id != 0);
	return id;
}

static void
test_sets(void)
{
	const char *dup[4] = {"owner", "id", "owner", "doc"};
	size_t		lens[4] = {5, 2, 5, 3};
	uint32_t	a = set_of("id", "owner", "doc");
	uint32_t	b = set_of("id", "secret", NULL);
	uint32_t	again;

	/* the same set whatever the order and duplicates: the same id */
	CHECK(fanout_column_set_intern(dup, lens, 4, &again) && again == a);
	CHECK(a != b && set_of("doc", "id", "owner") == a);
	CHECK(fanout_column_set_contains(a, "owner", 5));
	CHECK(!fanout_column_set_contains(a, "owne", 4));
	CHECK(!fanout_column_set_contains(a, "secret", 6));
	CHECK(fanout_column_set_contains(b, "secret", 6));
	CHECK(!fanout_column_set_contains(0, "id", 2));
	CHECK(!fanout_column_set_contains(9999, "id", 2));
}

/* msg projected through a view of rel for set; "" if it cannot be */
static void
projected(const char *rel, uint32_t set, const char *msg, char *out)
{
	FoColumnView v;
	size_t		len = strlen(msg);
	size_t		n;

	out[0] = '\0';
	if (!CHECK(fanout_column_view_of_relation(&v, set, rel, strlen(rel))))
		return;
	n = fanout_column_view_change(&v, msg, len, out, FO_PROJECTION_BOUND(len));
	out[n == (size_t) -1 ? 0 : n] = '\0';
	fanout_column_view_free(&v);
}

#define CHECK_PROJ(rel, set, msg, want) \
	do { projected(rel, set, msg, out); CHECK_EQ_STR(out, want); } while (0)

static void
test_relation_views(void)
{
	uint32_t	a = set_of("id", "owner", "doc");
	uint32_t	b = set_of("id", "secret", NULL);
	FoColumnView v;
	char	   *r;
	size_t		len;
	const char *hdr = "{\"relid\":1,\"schema\":\"public\",\"table\":\"t\","
		"\"columns\":[\"id\",\"secret\",\"owner\",\"doc\"],"
		"\"types\":[\"integer\",\"text\",\"text\",\"jsonb\"],\"key\":[0,1,2,3],"
		"\"snapshot\":{\"xmin\":5,\"xip\":[6,7]},\"rows\":null}";

	CHECK(fanout_column_view_of_relation(&v, a, REL_T, strlen(REL_T)));
	CHECK(v.ncols == 4 && v.nvisible == 3 && !fanout_column_view_hides_nothing(&v));
	r = fanout_column_view_relation(&v, REL_T, strlen(REL_T), &len);
	CHECK_EQ_MEM(r, len, "[\"R\",1,\"public\",\"t\",[\"id\",\"owner\",\"doc\"],"
				 "[\"integer\",\"text\",\"jsonb\"],[0],\"default\"]", len);
	free(r);
	fanout_column_view_free(&v);

	/* FULL: every column a key, renumbered; a hidden key is left out */
	CHECK(fanout_column_view_of_relation(&v, a, REL_FULL, strlen(REL_FULL)));
	r = fanout_column_view_relation(&v, REL_FULL, strlen(REL_FULL), &len);
	CHECK(r && strstr(r, ",[0,1,2],\"full\"]") != NULL);
	free(r);
	fanout_column_view_free(&v);
	CHECK(fanout_column_view_of_relation(&v, a, REL_K, strlen(REL_K)));
	r = fanout_column_view_relation(&v, REL_K, strlen(REL_K), &len);
	CHECK(r && strstr(r, ",[],\"default\"]") != NULL && strstr(r, "secret") == NULL);
	free(r);
	fanout_column_view_free(&v);

	/* names are matched decoded: an escaped name in the message */
	{
		const char *rel = "[\"R\",4,\"s\",\"u\",[\"caf\\u00e9\",\"x\\\"y\"],[\"text\",\"text\"],[],\"nothing\"]";
		uint32_t	s = set_of("caf\xc3\xa9", NULL, NULL);

		CHECK(fanout_column_view_of_relation(&v, s, rel, strlen(rel)));
		r = fanout_column_view_relation(&v, rel, strlen(rel), &len);
		CHECK_EQ_MEM(r, len, "[\"R\",4,\"s\",\"u\",[\"caf\\u00e9\"],[\"text\"],[],\"nothing\"]", len);
		free(r);
		fanout_column_view_free(&v);
	}

	/* a set that hides nothing, and one that leaves no column */
#define VIEW_OF(set, text) fanout_column_view_of_relation(&v, set, text, strlen(text))
	CHECK(VIEW_OF(set_of("id", NULL, NULL),
				  "[\"R\",5,\"s\",\"v\",[\"id\"],[\"int\"],[0],\"default\"]"));
	CHECK(fanout_column_view_hides_nothing(&v));
	fanout_column_view_free(&v);
	CHECK(VIEW_OF(b, "[\"R\",5,\"s\",\"v\",[\"a\"],[\"int\"],[0],\"default\"]"));
	CHECK(v.nvisible == 0 && v.desc_len[2] == 2 && memcmp(v.desc[2], "[]", 2) == 0);
	fanout_column_view_free(&v);
	/* not a relation message, or not a column description */
	CHECK(!VIEW_OF(b, "[\"I\",1,\"0/1\",[1]]"));
	CHECK(!VIEW_OF(b, "[\"R\",1,\"s\",\"t\",[\"a\"],[],[],\"x\"]"));
	CHECK(!VIEW_OF(b, "[\"R\",1,\"s\",\"t\",[\"a\"],[\"int\"],[1],\"x\"]"));
#undef VIEW_OF

	/* a snapshot header: its columns, types and key, the rest as it was */
	CHECK(fanout_column_view_of_header(&v, b, hdr, strlen(hdr)));
	r = fanout_column_view_header(&v, hdr, strlen(hdr), &len);
	CHECK_EQ_MEM(r, len, "{\"relid\":1,\"schema\":\"public\",\"table\":\"t\","
				 "\"columns\":[\"id\",\"secret\"],\"types\":[\"integer\",\"text\"],"
				 "\"key\":[0,1],\"snapshot\":{\"xmin\":5,\"xip\":[6,7]},\"rows\":null}", len);
	free(r);
	fanout_column_view_free(&v);
	CHECK(!fanout_column_view_of_header(&v, b, "{\"relid\":1}", 11));
}

static void
test_change_projection(void)
{
	uint32_t	a = set_of("id", "owner", "doc");
	char		out[512];

	/* insert; values are copied byte for byte, tricky ones included */
	CHECK_PROJ(REL_T, a, "[\"I\",1,\"0/10\",[1,\"S,]\\\"[\",\"o\",{\"k\": [1, \"]\"]}]]",
			   "[\"I\",1,\"0/10\",[1,\"o\",{\"k\": [1, \"]\"]}]]");
	/* oversized: a hidden one disappears with its list, a visible one moves */
	CHECK_PROJ(REL_T, a, "[\"I\",1,\"0/10\",[1,null,\"o\",{}],null,null,[[1,2002]]]",
			   "[\"I\",1,\"0/10\",[1,\"o\",{}]]");
	CHECK_PROJ(REL_T, a, "[\"I\",1,\"0/10\",[1,null,\"o\",null],null,null,[[1,2002],[3,99]]]",
			   "[\"I\",1,\"0/10\",[1,\"o\",null],null,null,[[2,99]]]");
	/* update; unchanged TOAST lists renumbered, emptied lists dropped */
	CHECK_PROJ(REL_T, a, "[\"U\",1,\"0/10\",[1,\"S\",\"o\",{}]]",
			   "[\"U\",1,\"0/10\",[1,\"o\",{}]]");
	CHECK_PROJ(REL_T, a, "[\"U\",1,\"0/10\",[1,null,\"o\",{}],null,[1]]",
			   "[\"U\",1,\"0/10\",[1,\"o\",{}]]");
	CHECK_PROJ(REL_T, a, "[\"U\",1,\"0/10\",[1,null,\"o\",null],null,[1,3]]",
			   "[\"U\",1,\"0/10\",[1,\"o\",null],null,[2]]");
	CHECK_PROJ(REL_T, a, "[\"U\",1,\"0/10\",[1,null,null,{}],null,[1],[[2,70]]]",
			   "[\"U\",1,\"0/10\",[1,null,{}],null,null,[[1,70]]]");
	/* an old key (the key changed) */
	CHECK_PROJ(REL_T, a, "[\"U\",1,\"0/10\",[2,\"S\",\"o\",{}],[1]]",
			   "[\"U\",1,\"0/10\",[2,\"o\",{}],[1]]");
	/* REPLICA IDENTITY FULL: the old row too, and its oversized list */
	CHECK_PROJ(REL_FULL, a, "[\"U\",3,\"0/10\",[1,\"S2\",\"o\",{}],[1,\"S1\",\"p\",{}]]",
			   "[\"U\",3,\"0/10\",[1,\"o\",{}],[1,\"p\",{}]]");
	CHECK_PROJ(REL_FULL, a, "[\"U\",3,\"0/10\",[1,\"S2\",\"o\",{}],[1,null,null,{}],null,null,[[1,9],[2,8]]]",
			   "[\"U\",3,\"0/10\",[1,\"o\",{}],[1,null,{}],null,null,[[1,8]]]");
	CHECK_PROJ(REL_FULL, a, "[\"U\",3,\"0/10\",[1,\"S2\",\"o\",{}],[1,null,\"p\",{}],null,null,[[1,9]]]",
			   "[\"U\",3,\"0/10\",[1,\"o\",{}],[1,\"p\",{}]]");
	/* delete */
	CHECK_PROJ(REL_T, a, "[\"D\",1,\"0/10\",[1]]", "[\"D\",1,\"0/10\",[1]]");
	CHECK_PROJ(REL_T, a, "[\"D\",1,\"0/10\",null]", "[\"D\",1,\"0/10\",null]");
	CHECK_PROJ(REL_FULL, a, "[\"D\",3,\"0/10\",[1,\"S\",\"o\",{}]]",
			   "[\"D\",3,\"0/10\",[1,\"o\",{}]]");
	CHECK_PROJ(REL_FULL, a, "[\"D\",3,\"0/10\",[1,null,\"o\",null],null,null,null,[[1,5],[3,7]]]",
			   "[\"D\",3,\"0/10\",[1,\"o\",null],null,null,null,[[2,7]]]");
	CHECK_PROJ(REL_FULL, a, "[\"D\",3,\"0/10\",[1,null,\"o\",{}],null,null,null,[[1,5]]]",
			   "[\"D\",3,\"0/10\",[1,\"o\",{}]]");
	/* a hidden key: left out of a delete's old key, and of an update's */
	CHECK_PROJ(REL_K, a, "[\"D\",2,\"0/10\",[\"S\"]]", "[\"D\",2,\"0/10\",[]]");
	CHECK_PROJ(REL_K, a, "[\"U\",2,\"0/10\",[1,\"S2\",\"o\",{}],[\"S1\"]]",
			   "[\"U\",2,\"0/10\",[1,\"o\",{}]]");
	/* snapshot rows */
	CHECK_PROJ(REL_T, a, "[\"S\",1,[1,\"S\",\"o\",{}]]", "[\"S\",1,[1,\"o\",{}]]");
	CHECK_PROJ(REL_T, a, "[\"S\",1,[1,null,\"o\",{}],[[1,9]]]", "[\"S\",1,[1,\"o\",{}]]");
	CHECK_PROJ(REL_T, a, "[\"S\",1,[1,null,null,{}],[[1,9],[2,3]]]",
			   "[\"S\",1,[1,null,{}],[[1,3]]]");
	/* what does not fit the description is refused, never passed on */
	CHECK_PROJ(REL_T, a, "[\"I\",1,\"0/10\",[1,\"S\",\"o\"]]", "");
	CHECK_PROJ(REL_T, a, "[\"U\",1,\"0/10\",[1,null,\"o\",{}],null,[4]]", "");
	CHECK_PROJ(REL_T, a, "[\"D\",1,\"0/10\",[1,2]]", "");
	CHECK_PROJ(REL_T, a, "[\"T\",\"0/10\",[1],false,false]", "");
	CHECK_PROJ(REL_T, a, "[\"I\",1,\"0/10\",[1,\"S\",\"o\",{}],null,null,[[1]]]", "");
	/* unknown trailing elements are not passed on */
	CHECK_PROJ(REL_T, a, "[\"I\",1,\"0/10\",[1,\"S\",\"o\",{}],null,null,null,null,\"S\"]",
			   "[\"I\",1,\"0/10\",[1,\"o\",{}]]");
}

/* Filters see hidden columns as absent; visible ones as usual. */
static void
test_filter_mask(void)
{
	uint32_t	a = set_of("id", "owner", "doc");
	JsonDoc    *doc = json_doc_create(4096, 1024, 64);
	JsonDoc    *fdoc = json_doc_create(4096, 1024, 64);
	RowFilterColumn cols[8];
	int			keys[8],
				nkeys;
	FoColumnView v;
	RowFilterError err;
	RowFilter  *f;
	const char *hidden = "{\"col\":\"secret\",\"op\":\"eq\",\"value\":\"S\"}";
	const char *visible = "{\"col\":\"owner\",\"op\":\"eq\",\"value\":\"o\"}";
	const char *ins = "[\"I\",1,\"0/10\",[1,\"S\",\"o\",{}]]";
	const JsonValue *rel = json_parse(doc, REL_T, strlen(REL_T), NULL);
	int			ncols = row_filter_relation_columns(rel, cols, keys, &nkeys, 8);

	CHECK(ncols == 4 && fanout_column_view_of_relation(&v, a, REL_T, strlen(REL_T)));
	fanout_column_view_mask(&v, cols, ncols);
	CHECK(cols[1].name == NULL && cols[2].name != NULL);
	f = row_filter_compile(json_parse(fdoc, hidden, strlen(hidden), NULL), cols, ncols, &err);
	CHECK(f == NULL && err.code == FILTER_UNKNOWN_COLUMN &&
		  strstr(err.message, "no column \"secret\"") != NULL);
	f = row_filter_compile(json_parse(fdoc, visible, strlen(visible), NULL), cols, ncols, &err);
	CHECK(f != NULL);
	CHECK(row_filter_eval_change(f, json_parse(doc, ins, strlen(ins), NULL), keys, nkeys) == ROW_FILTER_TRUE);
	row_filter_free(f);
	fanout_column_view_free(&v);
	json_doc_free(doc);
	json_doc_free(fdoc);
}

/* ---- routing ---- */

/* principals: 1 and 3 read set A, 2 set B, 4 everything column by column */
static uint32_t set_a,
			set_b,
			set_all;
static int	access_asks = 0;

static void
columns_check(uint32_t principal, uint32_t relid, FoGrant *grant, void *arg)
{
	access_asks++;
	grant->readable = true;
	grant->columns = principal == 2 ? set_b : principal == 4 ? set_all : set_a;
}

static void
want_write(FoClient *c, void *arg)
{
}

static void
pub(Fanout *fo, const char *s, uint64_t lsn)
{
	CHECK(fanout_publish(fo, s, strlen(s), lsn));
}

static void
sub(FoClient *c, const char *json)
{
	ClientRequest req;
	const char *code;
	char		msg[256];

	CHECK(client_request_parse(json, strlen(json), &req, &code, msg, sizeof(msg)));
	CHECK(fanout_subscribe(c, &req, &code) != NULL);
	client_request_free(&req);
}

/* Pop c's queue: texts joined by '\n' into out; the FoMsg of the k-th. */
static FoMsg *
drain(Fanout *fo, FoClient *c, char *out, size_t outsize, int k)
{
	FoMsg	   *m,
			   *kth = NULL;
	size_t		off,
				n = 0;

	out[0] = '\0';
	for (int i = 0; fanout_peek(c, &m, &off); i++)
	{
		if (i == k)
			kth = m;
		n += snprintf(out + n, outsize - n, "%s%s", n ? "\n" : "", (char *) m->payload);
		fanout_advance(fo, c, m->len - off);
	}
	return kth;
}

static void
test_routing(void)
{
	Fanout	   *fo = fanout_create(1 << 20, want_write, NULL);
	FoClient   *a1 = fanout_client_add(fo, NULL);
	FoClient   *a2 = fanout_client_add(fo, NULL);
	FoClient   *b = fanout_client_add(fo, NULL);
	FoClient   *all = fanout_client_add(fo, NULL);
	FoClient   *free_ = fanout_client_add(fo, NULL);
	FoClient   *filt = fanout_client_add(fo, NULL);
	FoClient   *clients[6] = {a1, a2, b, all, free_, filt};
	char		got[6][1024];
	FoMsg	   *ins[6];

	set_a = set_of("id", "owner", "doc");
	set_b = set_of("id", "secret", NULL);
	set_all = set_of("id", "secret", "owner");
	fanout_set_access_check(columns_check, NULL);
	fanout_client_set_principal(a1, 1);
	fanout_client_set_principal(a2, 3);
	fanout_client_set_principal(b, 2);
	fanout_client_set_principal(all, 4);
	fanout_client_set_principal(filt, 1);
	for (int i = 0; i < 5; i++)
		sub(clients[i], "{\"type\":\"subscribe\",\"tables\":[\"public.*\"]}");
	sub(filt, "{\"type\":\"subscribe\",\"tables\":[\"public.*\"],"
		"\"filter\":{\"col\":\"owner\",\"op\":\"eq\",\"value\":\"o\"}}");

	pub(fo, "[\"R\",1,\"public\",\"t\",[\"id\",\"secret\",\"owner\"],[\"int\",\"text\",\"text\"],[0],\"default\"]", 0);
	pub(fo, "[\"B\",1,\"0/10\"]", 0x10);
	pub(fo, "[\"I\",1,\"0/10\",[1,\"S1\",\"o\"]]", 0x10);
	pub(fo, "[\"U\",1,\"0/10\",[1,null,\"p\"],null,[1]]", 0x10);
	pub(fo, "[\"D\",1,\"0/10\",[1]]", 0x10);
	pub(fo, "[\"C\",1,\"0/10\",\"0/20\"]", 0x20);

	/* each distinct projection built once per message, whatever the clients */
	CHECK_EQ_INT((int) fo->change_projections, 6);	/* 3 changes x sets A, B */
	CHECK_EQ_INT((int) fo->relation_projections, 2);
	for (int i = 0; i < 6; i++)
		ins[i] = drain(fo, clients[i], got[i], sizeof(got[i]), 2);
	CHECK_EQ_STR(got[0], "[\"B\",1,\"0/10\"]\n"
				 "[\"R\",1,\"public\",\"t\",[\"id\",\"owner\"],[\"int\",\"text\"],[0],\"default\"]\n"
				 "[\"I\",1,\"0/10\",[1,\"o\"]]\n[\"U\",1,\"0/10\",[1,\"p\"]]\n"
				 "[\"D\",1,\"0/10\",[1]]\n[\"C\",1,\"0/10\",\"0/20\"]");
	CHECK_EQ_STR(got[1], got[0]);
	CHECK(ins[0] == ins[1]);	/* one message, shared by the set's clients */
	CHECK_EQ_STR(got[2], "[\"B\",1,\"0/10\"]\n"
				 "[\"R\",1,\"public\",\"t\",[\"id\",\"secret\"],[\"int\",\"text\"],[0],\"default\"]\n"
				 "[\"I\",1,\"0/10\",[1,\"S1\"]]\n[\"U\",1,\"0/10\",[1,null],null,[1]]\n"
				 "[\"D\",1,\"0/10\",[1]]\n[\"C\",1,\"0/10\",\"0/20\"]");
	/* a set hiding nothing, and no restriction: the plugin's message */
	CHECK(ins[3] == ins[4] && strcmp(got[3], got[4]) == 0);
	CHECK(strstr(got[4], "[\"I\",1,\"0/10\",[1,\"S1\",\"o\"]]") != NULL);
	/* the filter on a visible column, evaluated once for all */
	CHECK_EQ_STR(got[5], "[\"B\",1,\"0/10\"]\n"
				 "[\"R\",1,\"public\",\"t\",[\"id\",\"owner\"],[\"int\",\"text\"],[0],\"default\"]\n"
				 "[\"I\",1,\"0/10\",[1,\"o\"]]\n[\"C\",1,\"0/10\",\"0/20\"]");

	/* the projected R is kept per relation version and column set */
	pub(fo, "[\"B\",2,\"0/30\"]", 0x30);
	pub(fo, "[\"I\",1,\"0/30\",[2,\"S2\",\"q\"]]", 0x30);
	pub(fo, "[\"C\",2,\"0/30\",\"0/40\"]", 0x40);
	CHECK_EQ_INT((int) fo->relation_projections, 2);
	CHECK_EQ_INT((int) fo->change_projections, 8);
	drain(fo, a1, got[0], sizeof(got[0]), 0);
	CHECK_EQ_STR(got[0], "[\"B\",2,\"0/30\"]\n[\"I\",1,\"0/30\",[2,\"q\"]]\n[\"C\",2,\"0/30\",\"0/40\"]");

	/* column privileges change: the R comes again, then the wider rows */
	set_a = set_b;
	fanout_access_changed();
	pub(fo, "[\"B\",3,\"0/50\"]", 0x50);
	pub(fo, "[\"I\",1,\"0/50\",[3,\"S3\",\"o\"]]", 0x50);
	pub(fo, "[\"T\",\"0/50\",[1],false,false]", 0x50);
	pub(fo, "[\"C\",3,\"0/50\",\"0/60\"]", 0x60);
	drain(fo, a1, got[0], sizeof(got[0]), 0);
	CHECK_EQ_STR(got[0], "[\"B\",3,\"0/50\"]\n"
				 "[\"R\",1,\"public\",\"t\",[\"id\",\"secret\"],[\"int\",\"text\"],[0],\"default\"]\n"
				 "[\"I\",1,\"0/50\",[3,\"S3\"]]\n[\"T\",\"0/50\",[1],false,false]\n"
				 "[\"C\",3,\"0/50\",\"0/60\"]");
	/* ... and a filter on a column no longer readable: one event, skipped */
	drain(fo, filt, got[5], sizeof(got[5]), 0);
	CHECK(strstr(got[5], "\"code\":\"bad_filter\"") != NULL &&
		  strstr(got[5], "no column \\\"owner\\\"") != NULL &&
		  strstr(got[5], "[\"I\"") == NULL && strstr(got[5], "S3") == NULL);
	CHECK(strstr(got[5], "[\"T\"") != NULL);	/* truncates are not filtered */
	for (int i = 1; i < 5; i++)
		drain(fo, clients[i], got[i], sizeof(got[i]), 0);

	/* truncate: the relation messages of each table as its set sees it */
	set_a = set_of("id", "owner", "doc");
	fanout_access_changed();
	pub(fo, REL_K, 0);
	pub(fo, "[\"B\",4,\"0/70\"]", 0x70);
	pub(fo, "[\"T\",\"0/70\",[1,2],false,false]", 0x70);
	pub(fo, "[\"C\",4,\"0/70\",\"0/80\"]", 0x80);
	drain(fo, a2, got[1], sizeof(got[1]), 0);
	CHECK(strstr(got[1], "[\"R\",2,\"public\",\"k\",[\"id\",\"owner\",\"doc\"],") != NULL &&
		  strstr(got[1], "[\"T\",\"0/70\",[1,2],false,false]") != NULL);
	fanout_set_access_check(NULL, NULL);
	fanout_destroy(fo);
}

int
main(void)
{
	test_sets();
	test_relation_views();
	test_change_projection();
	test_filter_mask();
	test_routing();
	return unit_summary();
}
