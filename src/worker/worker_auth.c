/*-------------------------------------------------------------------------
 *
 * worker_auth.c
 *	  The catalog side of client authentication and authorization
 *	  (docs/SECURITY.md).
 *
 * Owns:
 *	- the key set and verification settings: read from pgsync.jwt_* at
 *	  start and on SIGHUP, handed to the server (net/ws_auth.c), which
 *	  verifies tokens in its callbacks without the catalog;
 *	- the role rule: a token's role must exist, and have LOGIN or be
 *	  granted to pgsync.authenticator_role (PostgREST's model).  Checked
 *	  when a client authenticates and again whenever roles change;
 *	- the read rule, worker_auth_denies(): a role may read a table if it
 *	  has SELECT on the whole table, or on some of its columns (then it
 *	  reads those only: worker_columns.c), and no row-level security
 *	  policy applies to it.  RLS is not evaluated yet, so a role that RLS
 *	  would filter is refused the table rather than shown rows it may not
 *	  see (fail closed);
 *	- the fan-out's access check, a cache of that rule per (role, table),
 *	  emptied by catalog invalidations of pg_class, pg_attribute (column
 *	  privileges live there), roles and role memberships (GRANT, REVOKE,
 *	  ALTER TABLE ... ROW LEVEL SECURITY, DROP ROLE).  The check is asked
 *	  while decoding (the catalog as of the change: a REVOKE takes effect
 *	  from the transactions that commit after it) and while replaying the
 *	  log (the catalog as of now).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "common/hashfn.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "auth/jwt_verify.h"
#include "guc.h"
#include "net/ws_auth.h"
#include "net/ws_server.h"
#include "worker/worker_auth.h"
#include "worker/worker_columns.h"
#include "worker/worker_decode.h"
#include "worker/worker_resume.h"
#include "worker/worker_rls.h"
#include "worker/worker_serve_snapshot.h"

typedef struct AccessKey
{
	Oid			role;			/* the principal */
	Oid			relid;
	bool		historic;		/* as of a decoded change (decode_in_pass) */
} AccessKey;

typedef struct AccessEntry
{
	AccessKey	key;
	bool		allowed;
	uint32		columns;		/* FoGrant.columns */
	bool		rows;			/* a row policy decides each change */
} AccessEntry;

/*
 * Principals.  A client authenticated by a token reads as a principal: its
 * role and its claims (less the time claims exp, iat, nbf and jti, which
 * change with every token: clients of one user share one principal across
 * refreshes).  Row-level security policies see the claims, so a principal
 * is the unit of sharing: one policy evaluation per change and principal.
 * Principal ids are indexes + 1 into audiences[]; they are never reused
 * while the worker lives.
 */
typedef struct Audience
{
	Oid			role;
	char	   *claims;			/* canonical JSON (jsonb's output) */
} Audience;

typedef struct AudienceKey
{
	Oid			role;
	uint64		hash;
} AudienceKey;

typedef struct AudienceEntry
{
	AudienceKey key;
	uint32		principal;
} AudienceEntry;

static Audience *audiences = NULL;
static uint32 naudiences = 0;
static uint32 audiences_cap = 0;
static HTAB *audience_index = NULL;

static HTAB *access_cache = NULL;
static bool access_stale = false;	/* empty it before the next lookup */
static bool roles_changed = false;
static bool callbacks_registered = false;
static bool keys_loaded_once = false;

/* ----------------------------------------------------------------
 * Keys and settings
 * ----------------------------------------------------------------
 */

/* The content of a file (palloc'd, NUL-terminated), or NULL with *why. */
static char *
read_small_file(const char *path, size_t max, size_t *len, const char **why)
{
	char	   *abs = make_absolute_path(path);
	FILE	   *f = AllocateFile(abs, "rb");
	char	   *buf;

	*why = NULL;
	if (f == NULL)
	{
		*why = strerror(errno);
		return NULL;
	}
	buf = palloc(max + 1);
	*len = fread(buf, 1, max + 1, f);
	if (ferror(f))
		*why = strerror(errno);
	else if (*len > max)
		*why = "file too large";
	FreeFile(f);
	if (*why != NULL)
		return NULL;
	buf[*len] = '\0';
	return buf;
}

/*
 * A key set from the settings, or NULL (WARNING said why).  Every
 * configured source must load: a key file that does not is an error, not
 * a silently smaller set.
 */
static JwtKeySet *
load_keys(void)
{
	JwtKeySet  *ks = jwt_keyset_create();
	const char *msg = NULL;
	const char *why = NULL;
	size_t		len;
	char	   *text;

	if (ks == NULL)
	{
		ereport(WARNING, (errmsg("pgsync: out of memory loading JWT keys")));
		return NULL;
	}
	if (pgsync_jwt_secret[0] != '\0' &&
		jwt_keyset_add_secret(ks, NULL, pgsync_jwt_secret,
							  strlen(pgsync_jwt_secret), &msg) != JWT_OK)
	{
		ereport(WARNING,
				(errmsg("pgsync: pgsync.jwt_secret cannot be used: %s", msg)));
		goto fail;
	}
	if (pgsync_jwt_secret_file[0] != '\0')
	{
		text = read_small_file(pgsync_jwt_secret_file, 64 * 1024, &len, &why);
		if (text != NULL && len > 0 && text[len - 1] == '\n')
			text[--len] = '\0';
		if (text == NULL ||
			jwt_keyset_add_secret(ks, NULL, text, len, &msg) != JWT_OK)
		{
			ereport(WARNING,
					(errmsg("pgsync: cannot use pgsync.jwt_secret_file \"%s\": %s",
							pgsync_jwt_secret_file, why ? why : msg)));
			goto fail;
		}
	}
	if (pgsync_jwt_key_file[0] != '\0')
	{
		const char *p;
		JwtStatus	st;

		text = read_small_file(pgsync_jwt_key_file, JWT_MAX_JWKS, &len, &why);
		if (text == NULL)
		{
			ereport(WARNING,
					(errmsg("pgsync: cannot read pgsync.jwt_key_file \"%s\": %s",
							pgsync_jwt_key_file, why)));
			goto fail;
		}
		for (p = text; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
			;
		if (*p == '{')
			st = jwt_keyset_add_jwks(ks, text, len, NULL, &msg);
		else
			st = jwt_keyset_add_pem(ks, NULL, text, len, &msg);
		if (st != JWT_OK)
		{
			ereport(WARNING,
					(errmsg("pgsync: cannot use pgsync.jwt_key_file \"%s\": %s",
							pgsync_jwt_key_file, msg ? msg : "unusable key")));
			goto fail;
		}
	}
	if (jwt_keyset_count(ks) == 0)
	{
		ereport(WARNING,
				(errmsg("pgsync: pgsync.auth = jwt but no key is configured: every connection is refused"),
				 errhint("Set pgsync.jwt_secret_file, pgsync.jwt_secret or pgsync.jwt_key_file.")));
		goto fail;
	}
	return ks;
fail:
	jwt_keyset_free(ks);
	return NULL;
}

static void
auth_inval_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	/* each side keeps its own entries: not a change of the catalog */
	if (decode_flushing_caches())
		return;
	/* flags only: this may run inside decoding */
	access_stale = true;
	if (cacheid == AUTHOID || cacheid == AUTHMEMROLEMEM)
		roles_changed = true;
	fanout_access_changed();
}

static void access_check_cb(uint32_t principal, uint32_t relid,
							FoGrant *grant, void *arg);
static bool row_check_cb(uint32_t principal, uint32_t relid,
						 const FoMsg *rel_msg, const FoMsg *change,
						 uint64_t tick, void *arg);

/* A table's definition or policies changed (CREATE/ALTER POLICY ...). */
static void
auth_relcache_cb(Datum arg, Oid relid)
{
	if (decode_flushing_caches())
		return;
	worker_rls_invalidate(relid);
	access_stale = true;
	fanout_access_changed();
}

void
worker_auth_configure(void)
{
	JwtOptions	opt;
	JwtKeySet  *ks = NULL;

	memset(&opt, 0, sizeof(opt));
	if (pgsync_auth == PGSYNC_AUTH_JWT)
	{
		ks = load_keys();
		if (ks == NULL && keys_loaded_once)
		{
			ereport(WARNING,
					(errmsg("pgsync: keeping the JWT keys loaded before")));
			return;
		}
		keys_loaded_once |= ks != NULL;
		opt.algs = (unsigned) pgsync_parse_jwt_algorithms(pgsync_jwt_algorithms);
		opt.leeway = pgsync_jwt_leeway_s;
		opt.audience = pgsync_jwt_audience;
		opt.issuer = pgsync_jwt_issuer;
		opt.role_claim = pgsync_jwt_role_claim;
		if (!callbacks_registered)
		{
			CacheRegisterSyscacheCallback(RELOID, auth_inval_cb, (Datum) 0);
			/* GRANT and REVOKE on columns update pg_attribute only */
			CacheRegisterSyscacheCallback(ATTNUM, auth_inval_cb, (Datum) 0);
			CacheRegisterSyscacheCallback(AUTHOID, auth_inval_cb, (Datum) 0);
			CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, auth_inval_cb, (Datum) 0);
			CacheRegisterRelcacheCallback(auth_relcache_cb, (Datum) 0);
			fanout_set_access_check(access_check_cb, NULL);
			fanout_set_row_check(row_check_cb, NULL);
			callbacks_registered = true;
		}
		/* authenticator_role may have changed */
		roles_changed = true;
	}
	ws_auth_configure(pgsync_auth == PGSYNC_AUTH_JWT, ks, &opt,
					  pgsync_auth_timeout_s);
}

bool
worker_auth_listen_allowed(const char *address, const char **errmsg)
{
	if (pgsync_auth != PGSYNC_AUTH_TRUST)
		return true;
	if (strcmp(address, "localhost") == 0 || strncmp(address, "127.", 4) == 0 ||
		strcmp(address, "::1") == 0)
		return true;
	*errmsg = "pgsync.auth = trust accepts only a loopback pgsync.listen_address (127.0.0.1, localhost): set pgsync.auth = jwt to listen on other addresses";
	return false;
}

/* ----------------------------------------------------------------
 * Roles
 * ----------------------------------------------------------------
 */

/*
 * The oid of role name if it may be used by a client, else InvalidOid
 * with *why.  Needs a transaction.
 */
static Oid
usable_role(const char *name, const char **why)
{
	HeapTuple	tup = SearchSysCache1(AUTHNAME, CStringGetDatum(name));
	Form_pg_authid form;
	Oid			roleid;
	bool		can_login;

	if (!HeapTupleIsValid(tup))
	{
		*why = "the token's role does not exist";
		return InvalidOid;
	}
	form = (Form_pg_authid) GETSTRUCT(tup);
	roleid = form->oid;
	can_login = form->rolcanlogin;
	ReleaseSysCache(tup);
	if (can_login)
		return roleid;
	if (pgsync_authenticator_role[0] != '\0')
	{
		Oid			auth = get_role_oid(pgsync_authenticator_role, true);

		if (OidIsValid(auth) && is_member_of_role(auth, roleid))
			return roleid;
	}
	*why = "the token's role may not log in and is not granted to pgsync.authenticator_role";
	return InvalidOid;
}

/*
 * The claims as principals compare them: jsonb's canonical text, without
 * the time claims.  Needs a transaction; palloc'd.
 */
static char *
canonical_claims(const char *claims)
{
	static const char *const time_claims[] = {"exp", "iat", "nbf", "jti"};
	Datum		j = DirectFunctionCall1(jsonb_in, CStringGetDatum(claims));

	for (int i = 0; i < lengthof(time_claims); i++)
		j = DirectFunctionCall2(jsonb_delete, j,
								CStringGetTextDatum(time_claims[i]));
	return DatumGetCString(DirectFunctionCall1(jsonb_out, j));
}

/* The principal of (role, canonical claims), registered if new. */
static uint32
principal_for(Oid role, const char *claims)
{
	AudienceKey key;
	AudienceEntry *e;
	bool		found;

	if (audience_index == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(AudienceKey);
		ctl.entrysize = sizeof(AudienceEntry);
		audience_index = hash_create("pgsync principals", 256, &ctl,
									 HASH_ELEM | HASH_BLOBS);
	}
	memset(&key, 0, sizeof(key));
	key.role = role;
	key.hash = hash_bytes_extended((const unsigned char *) claims,
								   (int) strlen(claims), 0);
	/* a 64-bit collision of two claims: probe the next value */
	for (;;)
	{
		e = hash_search(audience_index, &key, HASH_ENTER, &found);
		if (!found)
			break;
		if (strcmp(audiences[e->principal - 1].claims, claims) == 0)
			return e->principal;
		key.hash++;
	}
	if (naudiences == audiences_cap)
	{
		uint32		cap = audiences_cap ? audiences_cap * 2 : 64;

		audiences = audiences ?
			repalloc(audiences, sizeof(Audience) * cap) :
			MemoryContextAlloc(TopMemoryContext, sizeof(Audience) * cap);
		audiences_cap = cap;
	}
	audiences[naudiences].role = role;
	audiences[naudiences].claims = MemoryContextStrdup(TopMemoryContext, claims);
	e->principal = ++naudiences;
	return e->principal;
}

static const Audience *
audience_of(uint32 principal)
{
	if (principal == 0 || principal > naudiences)
		return NULL;
	return &audiences[principal - 1];
}

bool
worker_auth_principal(uint32 principal, Oid *role, const char **claims)
{
	const Audience *a = audience_of(principal);

	if (a == NULL)
		return false;
	*role = a->role;
	*claims = a->claims;
	return true;
}

/*
 * Run the role rule for c in a transaction of its own and give it the
 * principal of its role and claims; refuse c if the role may not be used.
 */
static void
check_client_role(FoClient *c, const char *role, const char *claims)
{
	const char *volatile why = NULL;
	volatile Oid roleid = InvalidOid;
	volatile uint32 principal = WS_PRINCIPAL_UNCHECKED;

	MemoryContext cxt = CurrentMemoryContext;

	StartTransactionCommand();
	PG_TRY();
	{
		const char *reason = NULL;

		decode_use_current_catalog();
		roleid = usable_role(role, &reason);
		why = reason;
		if (OidIsValid(roleid))
			principal = principal_for(roleid,
									  canonical_claims(claims ? claims : "{}"));
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		/* claims jsonb cannot take (a \u0000 escape): refuse this client */
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		AbortCurrentTransaction();
		roleid = InvalidOid;
		why = "the token's claims cannot be read as jsonb";
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	if (!OidIsValid(roleid))
	{
		ereport(LOG,
				(errmsg("pgsync: client %s refused: role \"%s\": %s",
						fanout_client_peer(c), role, why)));
		fanout_client_set_principal(c, WS_PRINCIPAL_UNCHECKED);
		ws_server_refuse_role(c, why);
	}
	else
		fanout_client_set_principal(c, principal);
}

void
worker_auth_check_role(FoClient *c, const char *role, const char *claims)
{
	check_client_role(c, role, claims);
}

static void
recheck_one(FoClient *c, const char *phase)
{
	uint32_t	p = fanout_client_principal(c);

	if (p == 0 || p == WS_PRINCIPAL_UNCHECKED || fanout_client_closing(c))
		return;
	check_client_role(c, ws_server_client_role(c), ws_server_client_claims(c));
}

void
worker_auth_recheck_roles(Fanout *live)
{
	FoClient   *c;

	if (!roles_changed)
		return;
	roles_changed = false;
	for (c = fanout_first_client(live); c != NULL;
		 c = fanout_next_client(c))
		recheck_one(c, NULL);
	resume_foreach_client(recheck_one, NULL);
	snapshot_foreach_client(recheck_one, NULL);
}

/* ----------------------------------------------------------------
 * What a principal may read
 * ----------------------------------------------------------------
 */

const char *
worker_auth_denies(uint32 principal, Oid relid, uint32 *columns, bool *rows)
{
	const Audience *a;
	bool		missing = false;
	const char *why = NULL;

	*columns = 0;
	*rows = false;
	if (principal == 0)
		return NULL;
	a = audience_of(principal);
	if (a == NULL || !SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(a->role)))
		return "the role does not exist";
	if (pg_class_aclcheck_ext(relid, a->role, ACL_SELECT, &missing) != ACLCHECK_OK)
	{
		if (missing)
			return "the table does not exist";
		if (!worker_columns_readable(a->role, relid, columns))
			return "permission denied: the role has SELECT on no column of this table";
	}
	switch (worker_rls_prepare(principal, a->role, a->claims, relid, &why))
	{
		case RLS_NO_POLICY:
			return NULL;
		case RLS_POLICY:
			*rows = true;
			return NULL;
		case RLS_UNSUPPORTED:
			break;
	}
	return why;
}

/*
 * The fan-out asks while decoding, inside the reorder buffer's transaction
 * (the catalog as of the change), and while replaying the log, outside any
 * (then as of now, in a transaction of our own).  catalog_begin() returns
 * whether it opened one for catalog_end() to close.
 */
static bool
catalog_begin(void)
{
	if (IsTransactionState())
		return false;
	StartTransactionCommand();
	decode_use_current_catalog();
	return true;
}

static void
catalog_end(bool own_xact)
{
	if (own_xact)
		CommitTransactionCommand();
}

static void
access_check_cb(uint32_t principal, uint32_t relid, FoGrant *grant, void *arg)
{
	AccessKey	key;
	AccessEntry *e;
	bool		found;
	bool		own_xact;

	if (access_cache == NULL || access_stale)
	{
		HASHCTL		ctl;

		if (access_cache != NULL)
			hash_destroy(access_cache);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(AccessKey);
		ctl.entrysize = sizeof(AccessEntry);
		ctl.hcxt = TopMemoryContext;
		access_cache = hash_create("pgsync access", 256, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		access_stale = false;
	}
	memset(&key, 0, sizeof(key));
	key.role = (Oid) principal;
	key.relid = (Oid) relid;
	key.historic = decode_in_pass();
	e = hash_search(access_cache, &key, HASH_ENTER, &found);
	if (!found)
	{
		e->allowed = false;		/* if the check ERRORs */
		e->columns = 0;
		e->rows = false;
		own_xact = catalog_begin();
		e->allowed = worker_auth_denies(principal, key.relid, &e->columns,
										&e->rows) == NULL;
		catalog_end(own_xact);
	}
	grant->readable = e->allowed;
	grant->columns = e->columns;
	grant->rows = e->rows;
}

static bool
row_check_cb(uint32_t principal, uint32_t relid, const FoMsg *rel_msg,
			 const FoMsg *change, uint64_t tick, void *arg)
{
	const Audience *a = audience_of(principal);
	bool		own_xact;
	bool		visible;

	if (a == NULL)
		return false;
	own_xact = catalog_begin();
	visible = worker_rls_row_visible(principal, a->role, a->claims,
									 (Oid) relid, rel_msg, change, tick);
	catalog_end(own_xact);
	return visible;
}
