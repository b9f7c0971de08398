/*-------------------------------------------------------------------------
 *
 * client_protocol.h
 *	  Pure parser of client -> server WebSocket requests, and builders of
 *	  the server's control replies (docs/WEBSOCKET.md).  No postgres.h.
 *
 * Requests are JSON text frames:
 *	{"type":"subscribe","id":"r1","tables":["public.orders","app.*"],
 *	 "ops":["insert","update"],"filter":{...}}
 *	{"type":"unsubscribe","id":"r2","subscription":"s1"}
 *	{"type":"ping","id":"r3"}
 * Every request gets a reply echoing its id: {"type":"ok",...} or
 * {"type":"error","code":...}.  Error codes are stable (CP_ERR_*).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_CLIENT_PROTOCOL_H
#define PGSYNC_CLIENT_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/table_pattern.h"

/* Stable error codes sent to clients. */
#define CP_ERR_BAD_JSON				"bad_json"
#define CP_ERR_BAD_REQUEST			"bad_request"
#define CP_ERR_UNKNOWN_TYPE			"unknown_type"
#define CP_ERR_UNKNOWN_TABLE		"unknown_table"
#define CP_ERR_BAD_FILTER			"bad_filter"
#define CP_ERR_UNKNOWN_SUBSCRIPTION "unknown_subscription"
#define CP_ERR_TOO_MANY_SUBS		"too_many_subscriptions"
#define CP_ERR_TOO_LARGE			"too_large"
#define CP_ERR_BINARY				"binary_not_supported"
#define CP_ERR_SLOW_CONSUMER		"slow_consumer"
#define CP_ERR_SERVER_FULL			"server_full"
#define CP_ERR_SHUTDOWN				"shutting_down"
#define CP_ERR_INTERNAL				"internal_error"
#define CP_ERR_RESUME_TOO_OLD		"resume_too_old"
#define CP_ERR_RESUME_CONFLICT		"resume_conflict"
#define CP_ERR_SNAPSHOT_FAILED		"snapshot_failed"
#define CP_ERR_BAD_UTF8				"bad_utf8"
#define CP_ERR_AUTH_REQUIRED		"auth_required"
#define CP_ERR_INVALID_TOKEN		"invalid_token"
#define CP_ERR_TOKEN_EXPIRED		"token_expired"
#define CP_ERR_ROLE_MISMATCH		"role_mismatch"
#define CP_ERR_INVALID_ROLE			"invalid_role"
#define CP_ERR_PERMISSION_DENIED	"permission_denied"
#define CP_ERR_RATE_LIMITED			"rate_limited"
#define CP_ERR_IDLE_TIMEOUT			"idle_timeout"

/* Operation bits of a subscription. */
#define CP_OP_INSERT	0x01
#define CP_OP_UPDATE	0x02
#define CP_OP_DELETE	0x04
#define CP_OP_TRUNCATE	0x08
#define CP_OP_ALL		0x0F

#define CP_MAX_ID_LEN		128 /* JSON text of "id" */
#define CP_MAX_TABLES		64	/* patterns per subscription */
#define CP_MAX_PATTERN_LEN	256
#define CP_MAX_TOKEN_LEN	8192	/* = JWT_MAX_TOKEN */

typedef enum ClientRequestType
{
	CREQ_SUBSCRIBE,
	CREQ_UNSUBSCRIBE,
	CREQ_PING,
	CREQ_AUTH
} ClientRequestType;

typedef struct ClientRequest
{
	ClientRequestType type;
	char	   *id_json;		/* "id" (string/number) as JSON, or NULL */

	/* subscribe */
	int			ntables;
	char	  **tables;			/* the pattern texts */
	TablePattern *patterns;		/* slices point into tables[i] */
	uint32_t	ops;			/* CP_OP_* */
	char	   *filter_json;	/* "filter" as compact JSON, or NULL */
	bool		want_snapshot;	/* "snapshot": true */
	bool		has_resume;		/* "resume_lsn" given */
	uint64_t	resume_lsn;		/* commit LSN of the last transaction the
								 * client processed */

	/* unsubscribe */
	char	   *subscription;

	/* auth: the token, NUL-terminated (at most CP_MAX_TOKEN_LEN bytes) */
	char	   *token;
} ClientRequest;

/*
 * Parse one request.  On failure returns false with *code set to a CP_ERR_*
 * constant and msg filled; req->id_json is still set when the id could be
 * read, so the error reply can echo it.  Always call client_request_free().
 */
extern bool client_request_parse(const char *text, size_t len,
								 ClientRequest *req, const char **code,
								 char *msg, size_t msgsize);

extern void client_request_free(ClientRequest *req);

/*
 * Unescape a pattern slice into out (size outsize) if it is a literal name
 * (no unescaped '*' or '?'); false if it is a glob or too long.
 */
extern bool pattern_slice_literal(PatternSlice s, char *out, size_t outsize);

/*
 * Builders: return a malloc'd NUL-terminated JSON text (NULL on OOM) and
 * its length in *len.  id_json may be NULL (no "id" member).
 */
/* resume_lsn_json: the "resume_lsn" member's JSON text ("\"0/16B3748\""
 * or null), NULL to leave it out */
extern char *cp_reply_ok(const char *id_json, const char *subscription,
						 const char *resume_lsn_json, size_t *len);
extern char *cp_reply_pong(const char *id_json, size_t *len);
extern char *cp_reply_error(const char *id_json, const char *code,
							const char *message, const char *resume_lsn,
							size_t *len);
/* The same with another LSN member name (e.g. "oldest_lsn"). */
extern char *cp_reply_error_lsn(const char *id_json, const char *code,
								const char *message, const char *lsn_field,
								const char *lsn, size_t *len);
/* snapshot_joined: the subscription an initial snapshot joins to the
 * stream with this heartbeat, or NULL */
extern char *cp_heartbeat(uint64_t lsn, const char *snapshot_joined,
						  size_t *len);

/*
 * An event, not a reply: subscription skips table schema.table from now
 * on, for the reason code says (bad_filter: its filter does not compile
 * against the table; permission_denied: the client's role may no longer
 * read it).
 * {"type":"error","code":"bad_filter","subscription":"s1",
 *  "table":"public.t","message":...}
 */
extern char *cp_table_error(const char *code, const char *subscription,
							const char *schema, const char *table,
							const char *message, size_t *len);

#endif							/* PGSYNC_CLIENT_PROTOCOL_H */
