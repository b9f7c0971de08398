/*-------------------------------------------------------------------------
 *
 * ws_auth.c
 *	  Authentication of WebSocket clients with JSON Web Tokens
 *	  (pgsync.auth = jwt; docs/SECURITY.md, "Authentication").
 *
 * Where a token comes from, in this order:
 *	1. the "Authorization: Bearer" header of the upgrade request;
 *	2. the "access_token" query parameter (RFC 6750 2.3: browsers cannot
 *	   set headers on a WebSocket);
 *	3. the first message: {"type":"auth","token":...}, within
 *	   pgsync.auth_timeout; any other request before it closes the
 *	   connection with auth_required.
 * A token in the request that does not verify refuses the upgrade with
 * 401 and an RFC 6750 WWW-Authenticate header; one in a message closes
 * the connection with an error message and close code 4401.
 *
 * Expiry.  A token's exp is enforced for the life of the connection: once
 * it passes (plus pgsync.jwt_leeway) the client gets token_expired and is
 * closed, unless it sent a fresh token first ({"type":"auth"} again),
 * which may not change the role.
 *
 * The role.  A verified token names a role; whether it exists and may be
 * used is the worker's to check in the catalog (worker_auth.c).  Until it
 * is, the client's principal is WS_PRINCIPAL_UNCHECKED, which reads
 * nothing.
 *
 * Clients per role.  pgsync.max_clients_per_role bounds the connections
 * authenticated as one role (counted here, by name, from the first good
 * token to the end of the session); one more gets server_full.
 *
 * Runs in lws callbacks and a libuv timer: nothing here may ERROR.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "fanout/fanout.h"
#include "net/ws_auth.h"
#include "net/ws_server.h"
#include "net/ws_server_int.h"
#include "protocol/client_protocol.h"
#include "protocol/handshake.h"

#define WS_AUTH_SWEEP_MS	1000

static bool auth_jwt = false;
static JwtKeySet *auth_keys = NULL;
static JwtOptions auth_opt;
static char *auth_audience = NULL;
static char *auth_issuer = NULL;
static char *auth_role_claim = NULL;
static int	auth_timeout_s = 10;

/* sessions with a deadline: awaiting a token, or holding one with exp */
static Session *timed_head = NULL;

/* Clients per role name: a small chained hash. */
#define ROLE_BUCKETS 256
typedef struct RoleCount
{
	struct RoleCount *next;
	int			clients;
	char		role[JWT_ROLE_MAX + 1];
} RoleCount;
static RoleCount *role_counts[ROLE_BUCKETS];
static int	max_per_role = 0;

static uv_timer_t sweep_timer;
static bool sweep_started = false;

/*
 * The result of the verification done at the upgrade, for the same
 * connection's ESTABLISHED callback (lws runs both in one service call;
 * if not, the token is verified again).
 */
static struct lws *stash_wsi = NULL;
static JwtResult stash_result;
static char *stash_claims = NULL;

/*
 * The claims of a verified token, malloc'd to their size: a session keeps
 * them for its life (NULL when out of memory).
 */
static char *
claims_of(const char *token, size_t len)
{
	static char buf[JWT_MAX_CLAIMS];

	if (jwt_claims_json(token, len, buf, sizeof(buf)) == 0)
		return NULL;
	return strdup(buf);
}

static void
stash_clear(void)
{
	stash_wsi = NULL;
	free(stash_claims);
	stash_claims = NULL;
}

static char *
dup_or_null(const char *s)
{
	return (s != NULL && s[0] != '\0') ? strdup(s) : NULL;
}

void
ws_auth_configure(bool jwt, JwtKeySet *keys, const JwtOptions *opt,
				  int timeout_s)
{
	auth_jwt = jwt;
	jwt_keyset_free(auth_keys);
	auth_keys = keys;
	free(auth_audience);
	free(auth_issuer);
	free(auth_role_claim);
	auth_opt = *opt;
	auth_audience = dup_or_null(opt->audience);
	auth_issuer = dup_or_null(opt->issuer);
	auth_role_claim = dup_or_null(opt->role_claim);
	auth_opt.audience = auth_audience;
	auth_opt.issuer = auth_issuer;
	auth_opt.role_claim = auth_role_claim;
	auth_timeout_s = timeout_s;
	stash_clear();
}

bool
ws_auth_required(void)
{
	return auth_jwt;
}

void
ws_auth_set_max_per_role(int max_clients)
{
	max_per_role = max_clients;
}

static RoleCount **
role_slot(const char *role)
{
	uint32_t	h = 2166136261u;
	RoleCount **pp;

	for (const char *p = role; *p; p++)
		h = (h ^ (unsigned char) *p) * 16777619u;
	for (pp = &role_counts[h % ROLE_BUCKETS]; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->role, role) == 0)
			break;
	return pp;
}

/* Count s in its role's clients; false if that is one too many. */
static bool
role_count_add(Session *s)
{
	RoleCount **pp = role_slot(s->role);

	if (*pp == NULL)
	{
		if ((*pp = calloc(1, sizeof(RoleCount))) == NULL)
			return false;
		strlcpy((*pp)->role, s->role, sizeof((*pp)->role));
	}
	if (max_per_role > 0 && (*pp)->clients >= max_per_role)
		return false;
	(*pp)->clients++;
	s->role_counted = true;
	return true;
}

static void
role_count_remove(Session *s)
{
	RoleCount **pp;

	if (!s->role_counted)
		return;
	s->role_counted = false;
	pp = role_slot(s->role);
	if (*pp != NULL && --(*pp)->clients == 0)
	{
		RoleCount  *gone = *pp;

		*pp = gone->next;
		free(gone);
	}
}

static JwtStatus
verify(const char *token, size_t len, JwtResult *res)
{
	JwtOptions	opt = auth_opt;

	opt.now = (int64_t) time(NULL);
	if (auth_keys == NULL)
	{
		memset(res, 0, sizeof(*res));
		res->status = JWT_BAD_KEY;
		res->message = "no usable key is configured";
		return JWT_BAD_KEY;
	}
	return jwt_verify(auth_keys, &opt, token, len, res);
}

/*
 * The token of the upgrade request into buf, or NULL: none given.
 * *malformed: an Authorization header that is not "Bearer <token>".
 */
static const char *
request_token(struct lws *wsi, char *buf, int bufsize, size_t *len,
			  bool *malformed)
{
	const char *arg;
	int			n;

	*malformed = false;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
	{
		const char *tok;

		n = lws_hdr_copy(wsi, buf, bufsize, WSI_TOKEN_HTTP_AUTHORIZATION);
		if (n <= 0 || !handshake_bearer_token(buf, (size_t) n, &tok, len))
		{
			*malformed = true;
			return NULL;
		}
		return tok;
	}
	arg = lws_get_urlarg_by_name(wsi, "access_token=", buf, bufsize);
	if (arg == NULL)
		return NULL;
	*len = strlen(arg);
	if (*len == 0)
	{
		*malformed = true;
		return NULL;
	}
	return arg;
}

/* Answer the upgrade with 401 and an RFC 6750 challenge; -1 closes. */
static int
refuse_401(struct lws *wsi, const char *error, const char *description)
{
	static unsigned char buf[LWS_PRE + 768];
	int			n;

	n = snprintf((char *) buf + LWS_PRE, sizeof(buf) - LWS_PRE,
				 "HTTP/1.1 401 Unauthorized\r\n"
				 "WWW-Authenticate: Bearer realm=\"pgsync\", error=\"%s\", error_description=\"%s\"\r\n"
				 "Content-Type: text/plain\r\nContent-Length: %d\r\n"
				 "Connection: close\r\n\r\n%s\n",
				 error, description, (int) strlen(description) + 1, description);
	if (n > 0 && n < (int) (sizeof(buf) - LWS_PRE))
		(void) lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP);
	return -1;
}

static int
refuse_503(struct lws *wsi)
{
	static const char resp[] =
		"HTTP/1.1 503 Service Unavailable\r\n"
		"Content-Type: text/plain\r\nContent-Length: 45\r\n"
		"Connection: close\r\n\r\n"
		"authentication is not configured (see log)\n\n\n";
	static unsigned char buf[LWS_PRE + sizeof(resp)];

	memcpy(buf + LWS_PRE, resp, sizeof(resp) - 1);
	(void) lws_write(wsi, buf + LWS_PRE, sizeof(resp) - 1, LWS_WRITE_HTTP);
	return -1;
}

int
ws_auth_confirm_upgrade(struct lws *wsi)
{
	char	   *buf;
	const char *token;
	size_t		len = 0;
	bool		malformed;
	JwtResult	res;
	int			rc = 0;

	if (!auth_jwt)
		return 0;
	if (auth_keys == NULL)
		return refuse_503(wsi);
	if ((buf = malloc(JWT_MAX_TOKEN + 64)) == NULL)
		return -1;
	token = request_token(wsi, buf, JWT_MAX_TOKEN + 64, &len, &malformed);
	stash_clear();
	if (malformed)
		rc = refuse_401(wsi, "invalid_request",
						"the Authorization header must be \\\"Bearer <token>\\\"");
	else if (token != NULL && verify(token, len, &res) != JWT_OK)
		rc = refuse_401(wsi, "invalid_token", res.message);
	else if (token != NULL)
	{
		stash_wsi = wsi;
		stash_result = res;
		stash_claims = claims_of(token, len);
	}
	free(buf);
	return rc;
}

/* ----------------------------------------------------------------
 * Sessions with a deadline
 * ----------------------------------------------------------------
 */

static void
timed_link(Session *s)
{
	if (s->auth_prev != NULL || timed_head == s)
		return;
	s->auth_next = timed_head;
	if (timed_head != NULL)
		timed_head->auth_prev = s;
	timed_head = s;
}

static void
timed_unlink(Session *s)
{
	if (s->auth_prev != NULL)
		s->auth_prev->auth_next = s->auth_next;
	else if (timed_head == s)
		timed_head = s->auth_next;
	if (s->auth_next != NULL)
		s->auth_next->auth_prev = s->auth_prev;
	s->auth_prev = s->auth_next = NULL;
}

/* The end of a session. */
void
ws_auth_forget(Session *s)
{
	timed_unlink(s);
	role_count_remove(s);
	if (stash_wsi != NULL && s->wsi == stash_wsi)
		stash_clear();
}

/*
 * A verified token's role, claims and exp become the session's (claims:
 * malloc'd, taken over).  The worker checks the role, and gives the client
 * the principal of its role and claims, each time: a refreshed token may
 * carry other claims, which row-level security policies may read.
 */
static void
accept_token(Session *s, const JwtResult *res, char *claims)
{
	if (claims == NULL)
	{
		ws_session_close_with(s, CP_ERR_INTERNAL, "out of memory",
							  LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
		return;
	}
	s->auth = WS_AUTH_OK;
	s->token_exp = res->exp;
	strlcpy(s->role, res->role, sizeof(s->role));
	free(s->claims);
	s->claims = claims;
	if (!s->role_counted && !role_count_add(s))
	{
		ws_session_close_with(s, CP_ERR_SERVER_FULL,
							  "too many clients of this role (pgsync.max_clients_per_role)",
							  WS_CLOSE_TRY_AGAIN_LATER);
		return;
	}
	ws_session_queue_role_check(s);
	if (s->token_exp > 0)
		timed_link(s);
	else
		timed_unlink(s);
}

static int
close_code_for(JwtStatus st)
{
	return st == JWT_INTERNAL ? LWS_CLOSE_STATUS_UNEXPECTED_CONDITION :
		WS_CLOSE_UNAUTHORIZED;
}

bool
ws_auth_established(struct lws *wsi, Session *s)
{
	JwtResult	res = {.status = JWT_MALFORMED, .message = "bad Authorization header"};

	s->wsi = wsi;
	if (!auth_jwt)
	{
		s->auth = WS_AUTH_NONE;
		return true;
	}
	fanout_client_set_principal(s->client, WS_PRINCIPAL_UNCHECKED);
	if (stash_wsi == wsi)
	{
		char	   *claims = stash_claims;

		stash_claims = NULL;
		stash_wsi = NULL;
		accept_token(s, &stash_result, claims);
		return true;
	}
	else
	{
		char	   *buf = malloc(JWT_MAX_TOKEN + 64);
		const char *token;
		size_t		len = 0;
		bool		malformed;

		if (buf == NULL)
			return false;
		token = request_token(wsi, buf, JWT_MAX_TOKEN + 64, &len, &malformed);
		if (token != NULL && verify(token, len, &res) == JWT_OK)
			accept_token(s, &res, claims_of(token, len));
		else if (token != NULL || malformed)
			ws_session_close_with(s, res.status == JWT_EXPIRED ?
								  CP_ERR_TOKEN_EXPIRED : CP_ERR_INVALID_TOKEN,
								  malformed ? "bad Authorization header" : res.message,
								  close_code_for(res.status));
		free(buf);
		if (token != NULL || malformed)
			return true;
	}
	s->auth = WS_AUTH_AWAITING;
	s->auth_deadline = (int64_t) time(NULL) + auth_timeout_s;
	timed_link(s);
	return true;
}

void
ws_auth_message(Session *s, const char *id_json, const char *token)
{
	JwtResult	res;

	if (!auth_jwt)
	{
		fanout_reply(s->client, id_json, NULL, NULL, NULL);
		return;
	}
	if (verify(token, strlen(token), &res) != JWT_OK)
	{
		ws_session_close_with(s, res.status == JWT_EXPIRED ?
							  CP_ERR_TOKEN_EXPIRED : CP_ERR_INVALID_TOKEN,
							  res.message, close_code_for(res.status));
		return;
	}
	if (s->auth == WS_AUTH_OK && strcmp(res.role, s->role) != 0)
	{
		ws_session_close_with(s, CP_ERR_ROLE_MISMATCH,
							  "a refreshed token must name the same role",
							  WS_CLOSE_UNAUTHORIZED);
		return;
	}
	accept_token(s, &res, claims_of(token, strlen(token)));
	fanout_reply(s->client, id_json, NULL, NULL, NULL);
}

/* Close sessions whose token expired or which sent none in time. */
static void
sweep_cb(uv_timer_t *t)
{
	int64_t		now = (int64_t) time(NULL);
	Session    *s = timed_head;

	while (s != NULL)
	{
		Session    *next = s->auth_next;

		if (s->client == NULL || fanout_client_closing(s->client))
			timed_unlink(s);
		else if (s->auth == WS_AUTH_AWAITING && now > s->auth_deadline)
		{
			timed_unlink(s);
			ws_session_close_with(s, CP_ERR_AUTH_REQUIRED,
								  "no token within pgsync.auth_timeout",
								  WS_CLOSE_UNAUTHORIZED);
		}
		else if (s->auth == WS_AUTH_OK && s->token_exp > 0 &&
				 now >= s->token_exp + auth_opt.leeway)
		{
			timed_unlink(s);
			ws_session_close_with(s, CP_ERR_TOKEN_EXPIRED,
								  "the token expired; send {\"type\":\"auth\",\"token\":...} with a fresh one before it does",
								  WS_CLOSE_UNAUTHORIZED);
		}
		s = next;
	}
}

void
ws_auth_start(uv_loop_t *loop)
{
	if (sweep_started)
		return;
	uv_timer_init(loop, &sweep_timer);
	uv_timer_start(&sweep_timer, sweep_cb, WS_AUTH_SWEEP_MS, WS_AUTH_SWEEP_MS);
	uv_unref((uv_handle_t *) &sweep_timer);
	sweep_started = true;
}

void
ws_auth_stop(void)
{
	if (!sweep_started)
		return;
	uv_timer_stop(&sweep_timer);
	uv_close((uv_handle_t *) &sweep_timer, NULL);
	sweep_started = false;
	timed_head = NULL;
	stash_clear();
}
