/*
 * wsproto.h: the client side of RFC 6455, as bytes (no sockets).
 *
 * The opening handshake (request, Sec-WebSocket-Key, the Accept check)
 * and frame headers: masked client frames out, server frames in.  No
 * extensions are offered, so RSV bits set by the server are an error.
 * Pure: no I/O, no globals (SHA-1 and base64 from libcrypto).
 */
#ifndef LOADCLIENT_WSPROTO_H
#define LOADCLIENT_WSPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xA

#define WS_KEY_LEN	24			/* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28		/* base64 of a SHA-1 */
#define WS_MAX_CLIENT_HEADER 14 /* 2 + 8 (length) + 4 (mask) */

/* A client connection's Sec-WebSocket-Key, derived from seed (no state). */
extern void wsproto_key(uint64_t seed, char out[WS_KEY_LEN + 1]);

/* The Sec-WebSocket-Accept the server must answer to key. */
extern void wsproto_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);

/*
 * The upgrade request into buf: "GET target HTTP/1.1" with Host, the
 * Upgrade headers, key, the subprotocol if not NULL and extra header
 * lines ("Name: value").  Its length, or 0 if it does not fit in cap.
 */
extern size_t wsproto_request(char *buf, size_t cap, const char *host_port,
							  const char *target, const char *key,
							  const char *protocol, char *const *headers,
							  int nheaders);

/*
 * The server's answer in p[0..n): 0 while its header is incomplete; 1
 * when it is a valid 101 for this key (*header_len = bytes it took: what
 * follows are frames); -1 otherwise, with *why set.
 */
extern int	wsproto_response(const char *p, size_t n, const char *key,
							 size_t *header_len, const char **why);

typedef struct WsFrame
{
	bool		fin;
	uint8_t		opcode;
	bool		masked;
	uint8_t		mask[4];
	uint64_t	payload_len;
	size_t		header_len;
} WsFrame;

/*
 * A server frame's header at p[0..n): 1 and *f filled; 0 if more bytes
 * are needed; -1 on a protocol error (*why set).
 */
extern int	wsproto_frame(const uint8_t *p, size_t n, WsFrame *f, const char **why);

/*
 * A masked client frame (FIN set) of opcode and payload into out, which
 * holds WS_MAX_CLIENT_HEADER + len bytes; its length.
 */
extern size_t wsproto_client_frame(uint8_t *out, uint8_t opcode, const void *payload,
								   size_t len, uint32_t mask);

/* XOR p[0..n) with mask, starting at mask byte `offset % 4` */
extern void wsproto_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset);

#endif
