/*
 * selftest.c: checks of pgsync-load's pure modules (`make check`).
 *
 * wsproto: the RFC 6455 example key, a frame round trip, header checks;
 * rowtime: the timestamp forms the benchmarks meet; hist: quantiles
 * within the histogram's 1% precision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "rowtime.h"
#include "wsproto.h"

static int	failures = 0;

#define CHECK(cond) do { if (!(cond)) { failures++; \
	fprintf(stderr, "selftest: %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

static int64_t
ts_of(const char *s)
{
	int64_t		us = -1;

	if (!rowtime_find(s, strlen(s), &us, NULL))
		return -1;
	return us;
}

static void
test_rowtime(void)
{
	/* 2026-11-29 10:19:35.771191 UTC = 1795947575.771191 */
	const int64_t want = 1795947575771191LL;

	CHECK(ts_of("[\"I\",16384,\"0/15379D8\",[1,\"2026-11-29 10:19:35.771191+00\",\"x\"]]") == want);
	CHECK(ts_of("{\"t\":\"2026-11-29T10:19:35.771191Z\"}") == want);
	CHECK(ts_of("2026-11-29 10:19:35.771191+00:00") == want);
	CHECK(ts_of("2026-11-29 12:19:35.771191+02") == want);
	CHECK(ts_of("2026-11-29 10:19:35.771191") == want);
	CHECK(ts_of("x 2026-11-29 10:19:35.7711919 y") == want);
	CHECK(ts_of("2026-11-29 10:19:35") == want - 771191);
	CHECK(ts_of("2026-11-29 10:19:35.5") == want - 271191);
	CHECK(ts_of("1970-01-01 00:00:00+00") == 0);
	CHECK(ts_of("2000-02-29 00:00:00") == 951782400000000LL);
	CHECK(ts_of("[\"I\",1,\"0/1-2\",[-5,\"2026-11-29 10:19:3\"]]") == -1);
	CHECK(ts_of("no timestamp - here - at all") == -1);
	CHECK(ts_of("") == -1);
	CHECK(rowtime_is_boundary("[\"B\",725,\"0/1\",\"2026-11-29T10:05:24Z\"]", 10));
	CHECK(rowtime_is_boundary("[\"C\",725", 8));
	CHECK(!rowtime_is_boundary("[\"I\",1", 6));
}

static void
test_wsproto(void)
{
	char		accept[WS_ACCEPT_LEN + 1];
	char		key[WS_KEY_LEN + 1];
	uint8_t		frame[WS_MAX_CLIENT_HEADER + 70000];
	static char payload[70000];
	WsFrame		f;
	const char *why = NULL;
	size_t		n,
				hlen = 0;
	char		resp[512];

	wsproto_accept("dGhlIHNhbXBsZSBub25jZQ==", accept);
	CHECK(strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
	wsproto_key(42, key);
	CHECK(strlen(key) == WS_KEY_LEN);

	for (size_t len = 0; len < sizeof(payload); len = len * 3 + 7)
	{
		memset(payload, 'a', len);
		n = wsproto_client_frame(frame, WS_OP_TEXT, payload, len, 0x12345678);
		CHECK(wsproto_frame(frame, n, &f, &why) == 1);
		CHECK(f.fin && f.opcode == WS_OP_TEXT && f.masked && f.payload_len == len);
		CHECK(f.header_len + len == n);
		CHECK(wsproto_frame(frame, f.header_len - 1, &f, &why) == 0);
		wsproto_unmask(frame + f.header_len, len, f.mask, 0);
		CHECK(len == 0 || memcmp(frame + f.header_len, payload, len) == 0);
	}
	CHECK(wsproto_frame((const uint8_t *) "\xC1\x00", 2, &f, &why) == -1);	/* RSV1 */
	CHECK(wsproto_frame((const uint8_t *) "\x09\x00", 2, &f, &why) == -1);	/* fragmented ping */

	snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
			 "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\nXY", accept);
	CHECK(wsproto_response(resp, strlen(resp), "dGhlIHNhbXBsZSBub25jZQ==", &hlen, &why) == 1);
	CHECK(hlen == strlen(resp) - 2);
	CHECK(wsproto_response(resp, 40, "dGhlIHNhbXBsZSBub25jZQ==", &hlen, &why) == 0);
	CHECK(wsproto_response(resp, strlen(resp), "AAAAAAAAAAAAAAAAAAAAAA==", &hlen, &why) == -1);
	CHECK(wsproto_response("HTTP/1.0 503 x\r\n\r\n", 18, "k", &hlen, &why) == -1);
	n = wsproto_request(resp, sizeof(resp), "h:1", "/p?q", key, NULL, NULL, 0);
	CHECK(n > 0 && strstr(resp, "GET /p?q HTTP/1.1\r\nHost: h:1\r\n") == resp);
	CHECK(n > 4 && memcmp(resp + n - 4, "\r\n\r\n", 4) == 0);
}

static void
test_hist(void)
{
	static Hist h,
				g;

	for (uint64_t v = 1; v <= 100000; v++)
		hist_add(&h, v);
	CHECK(h.count == 100000 && h.max == 100000);
	CHECK(llabs((long long) hist_quantile(&h, 0.5) - 50000) <= 50000 / 100);
	CHECK(llabs((long long) hist_quantile(&h, 0.99) - 99000) <= 99000 / 100);
	CHECK(hist_quantile(&h, 1.0) == 100000);
	hist_add(&g, 7);
	CHECK(hist_quantile(&g, 0.5) == 7);
	hist_merge(&g, &h);
	CHECK(g.count == 100001);
	for (int i = 1; i < HIST_BUCKETS; i++)
	{
		uint64_t	lo,
					hi,
					plo,
					phi;

		hist_bucket_range(i, &lo, &hi);
		hist_bucket_range(i - 1, &plo, &phi);
		CHECK(lo == phi && hi > lo);
		if (lo != phi)
			break;
	}
}

int
main(void)
{
	test_rowtime();
	test_wsproto();
	test_hist();
	if (failures)
		return 1;
	printf("selftest: ok\n");
	return 0;
}
