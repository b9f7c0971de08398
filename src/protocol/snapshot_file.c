/*-------------------------------------------------------------------------
 *
 * snapshot_file.c
 *	  Pure helpers for initial snapshots: the join rule, xid widening, the
 *	  snapshot's JSON description and file-name checks (no postgres.h).
 *
 *-------------------------------------------------------------------------
 */
#include "protocol/snapshot_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_NORMAL_XID 3
#define EPOCH_SPAN ((uint64_t) 1 << 32)

static bool
xip_contains(const SnapshotInfo *s, uint64_t xid)
{
	uint32_t	lo = 0;
	uint32_t	hi = s->nxip;

	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo) / 2;

		if (s->xip[mid] == xid)
			return true;
		if (s->xip[mid] < xid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool
snapshot_xid_visible(const SnapshotInfo *s, uint64_t xid)
{
	if (xid < s->xmin)
		return true;
	if (xid >= s->xmax)
		return false;
	return !xip_contains(s, xid);
}

uint64_t
snapshot_widen_xid(uint64_t reference, uint32_t xid)
{
	uint32_t	ref32 = (uint32_t) reference;
	int32_t		diff;

	if (xid < FIRST_NORMAL_XID)
		return xid;

	/* signed distance from the reference, modulo 2^32 */
	diff = (int32_t) (xid - ref32);
	if (diff < 0 && (uint64_t) (-(int64_t) diff) + FIRST_NORMAL_XID > reference)
	{
		/* would land before the first normal xid of epoch 0: the future */
		return reference + (uint64_t) ((int64_t) diff + (int64_t) EPOCH_SPAN);
	}
	return (uint64_t) ((int64_t) reference + diff);
}

bool
snapshot_xid32_visible(const SnapshotInfo *s, uint32_t xid)
{
	return snapshot_xid_visible(s, snapshot_widen_xid(s->xmin, xid));
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

uint32_t
snapshot_sort_xip(uint64_t *xip, uint32_t n)
{
	uint32_t	i,
				out = 0;

	if (n == 0)
		return 0;
	qsort(xip, n, sizeof(uint64_t), cmp_u64);
	for (i = 0; i < n; i++)
		if (out == 0 || xip[out - 1] != xip[i])
			xip[out++] = xip[i];
	return out;
}

/* Append like snprintf at *pos, keeping the count going past bufsize. */
static void
emit(char *buf, size_t bufsize, size_t *pos, const char *fmt, uint64_t v,
	 bool with_value)
{
	char		tmp[32];
	int			n;
	size_t		i;

	n = with_value ? snprintf(tmp, sizeof(tmp), fmt, v)
		: snprintf(tmp, sizeof(tmp), "%s", fmt);
	for (i = 0; i < (size_t) n; i++)
	{
		if (*pos + 1 < bufsize)
			buf[*pos] = tmp[i];
		(*pos)++;
	}
}

size_t
snapshot_info_json(char *buf, size_t bufsize, const SnapshotInfo *s)
{
	size_t		pos = 0;
	uint32_t	i;

	emit(buf, bufsize, &pos, "{\"xmin\":%" PRIu64, s->xmin, true);
	emit(buf, bufsize, &pos, ",\"xmax\":%" PRIu64, s->xmax, true);
	emit(buf, bufsize, &pos, ",\"xip\":[", 0, false);
	for (i = 0; i < s->nxip; i++)
		emit(buf, bufsize, &pos, i > 0 ? ",%" PRIu64 : "%" PRIu64,
			 s->xip[i], true);
	emit(buf, bufsize, &pos, "]}", 0, false);
	if (bufsize > 0)
		buf[pos < bufsize ? pos : bufsize - 1] = '\0';
	return pos;
}

bool
snapshot_file_name_ok(const char *name)
{
	size_t		len = strlen(name);
	size_t		i;

	if (len == 0 || len > 64 || name[0] == '.')
		return false;
	if (len >= 4 && strcmp(name + len - 4, ".tmp") == 0)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}
