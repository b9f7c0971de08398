/*-------------------------------------------------------------------------
 *
 * worker_rls.c
 *	  Row-level security for pushed changes: a table's policies, compiled
 *	  once per (table, principal) and evaluated on decoded rows in the
 *	  worker (docs/SECURITY.md, "Row-level security").
 *
 * A principal is a role and the claims of its token (worker_auth.c).  For
 * a table where RLS applies to the role, the policies PostgreSQL would
 * add to "SELECT * FROM table" run by that role are taken from the
 * rewriter (get_row_security_policies(), the same code a query uses),
 * then folded for the principal: request.jwt.claims set to its claims
 * and the role as current user, stable functions -- current_setting(),
 * SQL functions such as Supabase's auth.uid(), which are inlined -- are
 * evaluated once, so "owner = auth.uid()" becomes "owner = 'a1b2...'".
 * What is left is compiled (ExecInitQual) and run on each decoded row.
 *
 * What is evaluated, and what is refused (the table is then not readable
 * by that principal: fail closed, never sent unfiltered):
 *	- policies with subqueries (a SubLink: they read other tables, which
 *	  the catalog snapshot of decoding cannot) are refused;
 *	- after folding, only functions and operators of the system catalog
 *	  (oid below FirstNormalObjectId) may remain: a user-defined function
 *	  could read tables or have side effects, and is refused;
 *	- an error while folding or evaluating (a claim that does not cast to
 *	  the column's type, an overflow) is caught in a subtransaction: that
 *	  principal does not see that row, everyone else is served.
 *
 * Which row is checked: the new row of an insert or update, the old row of
 * a delete as far as REPLICA IDENTITY logged it; the same rule as row
 * filters (row_filter_change_value()).  A policy that reads a column the
 * change does not carry (a key-only old row, an unchanged TOAST value, a
 * value too large to send) hides the change from that principal.
 *
 * Cost: a row is decoded into Datums once per change (not per principal),
 * and each principal's compiled policy is evaluated once per change
 * whatever the number of its clients (the fan-out's memo per tick).  A
 * folded policy that is, or is ANDed with, "column = constant" (the
 * per-user policy "owner = auth.uid()" becomes "owner = 'u42'") has that
 * test as its key: a row whose column differs is rejected by one call of
 * the equality function, without evaluating the policy or opening a
 * subtransaction.  So the full evaluation runs only for the principals
 * that can see the row; the others cost a hash lookup and a comparison.
 * And principals whose policy folds to the same expression (a tenant
 * policy read by 100 users of one tenant) share one evaluation per change
 * (RlsShape).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/transam.h"
#include "common/hashfn.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "optimizer/optimizer.h"
#include "rewrite/rowsecurity.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "filter/row_filter.h"
#include "json/json_value.h"
#include "worker/worker_decode.h"
#include "worker/worker_rls.h"

typedef struct RlsKey
{
	uint32		principal;
	Oid			relid;
	bool		historic;		/* compiled as of a decoded change */
} RlsKey;

/*
 * Principals whose policy folds to the same expression (same role, same
 * claims where the policy reads them: 100 clients of one tenant with
 * different "sub" claims) share one evaluation per change.
 */
typedef struct RlsShapeKey
{
	Oid			relid;
	Oid			role;
	uint64		hash;			/* of nodeToString(folded) */
} RlsShapeKey;

typedef struct RlsShape
{
	RlsShapeKey key;
	char	   *text;			/* nodeToString(folded), in rls_mcxt */
	uint64		tick;			/* the change last evaluated, */
	bool		visible;		/* and the answer */
} RlsShape;

typedef struct RlsCompiled
{
	RlsKey		key;
	WorkerRlsKind kind;
	const char *why;			/* RLS_UNSUPPORTED: static text */
	Oid			role;
	ExprState  *qual;			/* RLS_POLICY */
	Bitmapset  *attrs;			/* attnums the policy reads */
	TupleDesc	desc;
	TupleTableSlot *slot;
	ExprContext *econtext;
	/* the key: "column key_attno = key_value" is one of the ANDed tests */
	AttrNumber	key_attno;		/* 0: no key */
	FmgrInfo	key_eq;
	Oid			key_collation;
	Datum		key_value;
	RlsShape   *shape;			/* shared evaluation */
	MemoryContext mcxt;			/* everything above */
} RlsCompiled;

static MemoryContext rls_mcxt = NULL;	/* compiled policies; reset when stale */
static HTAB *compiled = NULL;
static HTAB *shapes = NULL;
static bool stale = true;

/* The decoded row of the current tick */
static MemoryContext row_mcxt = NULL;
static uint64 row_tick = 0;
static Oid	row_relid = InvalidOid;
static bool row_ok = false;
static int	row_natts = 0;
static Datum *row_values = NULL;
static bool *row_isnull = NULL;
static bool *row_known = NULL;

void
worker_rls_invalidate(Oid relid)
{
	HASH_SEQ_STATUS seq;
	RlsCompiled *e;

	row_tick = 0;
	if (!OidIsValid(relid) || compiled == NULL)
	{
		stale = true;
		return;
	}
	hash_seq_init(&seq, compiled);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->key.relid == relid)
		{
			if (e->econtext != NULL)
				FreeExprContext(e->econtext, false);
			if (e->mcxt != NULL)
				MemoryContextDelete(e->mcxt);
			hash_search(compiled, &e->key, HASH_REMOVE, NULL);
		}
}

static void
ensure_fresh(void)
{
	HASHCTL		ctl;

	if (!stale && compiled != NULL)
		return;
	if (rls_mcxt == NULL)
		rls_mcxt = AllocSetContextCreate(TopMemoryContext, "pgsync RLS",
										 ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(rls_mcxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(RlsKey);
	ctl.entrysize = sizeof(RlsCompiled);
	ctl.hcxt = rls_mcxt;
	compiled = hash_create("pgsync RLS policies", 64, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(RlsShapeKey);
	ctl.entrysize = sizeof(RlsShape);
	shapes = hash_create("pgsync RLS policy shapes", 64, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	stale = false;
}

/* Only functions of the system catalog, and no subqueries. */
static bool
builtin_function(Oid func_id, void *context)
{
	return func_id >= FirstNormalObjectId;
}

static bool
unsupported_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubLink) || IsA(node, SubPlan) || IsA(node, Param))
		return true;
	if (check_functions_in_node(node, builtin_function, NULL))
		return true;
	return expression_tree_walker(node, unsupported_walker, context);
}

/* The policy quals of SELECT on relid for role (rewriter's rules). */
static List *
policy_quals(Relation rel, Oid role, bool *has_sublinks)
{
	Query	   *q = makeNode(Query);
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	List	   *quals = NIL;
	List	   *wco = NIL;
	bool		has_rls = false;

	q->commandType = CMD_SELECT;
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = AccessShareLock;
#if PG_VERSION_NUM >= 160000
	{
		RTEPermissionInfo *perm = addRTEPermissionInfo(&q->rteperminfos, rte);

		perm->requiredPerms = ACL_SELECT;
		perm->checkAsUser = role;
	}
#else
	rte->requiredPerms = ACL_SELECT;
	rte->checkAsUser = role;
#endif
	q->rtable = list_make1(rte);
	*has_sublinks = false;
	get_row_security_policies(q, rte, 1, &quals, &wco, &has_rls, has_sublinks);
	return quals;
}

/*
 * Fold the quals for a principal: its claims in request.jwt.claims, its
 * role as current user, stable functions evaluated.
 */
static Node *
fold_for(List *quals, Oid role, const char *claims)
{
	PlannerInfo root;
	PlannerGlobal glob;
	Oid			save_user;
	int			save_sec;
	Node	   *volatile folded = NULL;

	memset(&root, 0, sizeof(root));
	memset(&glob, 0, sizeof(glob));
	root.type = T_PlannerInfo;
	glob.type = T_PlannerGlobal;
	root.glob = &glob;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetConfigOption("request.jwt.claims", claims, PGC_USERSET, PGC_S_SESSION);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		folded = estimate_expression_value(&root,
										   (Node *) make_ands_explicit(quals));
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
		SetConfigOption("request.jwt.claims", "", PGC_USERSET, PGC_S_SESSION);
	}
	PG_END_TRY();
	return folded;
}

/*
 * Run fn(arg) in a subtransaction; false (the error logged once at DEBUG1)
 * if it raised an error.  Works inside the reorder buffer's transaction
 * and in a transaction of our own.
 */
static bool
in_subxact(void (*fn) (void *), void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		ereport(DEBUG1,
				(errmsg_internal("pgsync: row-level security policy failed: %s",
								 edata->message)));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	return ok;
}

/*
 * Find a test "Var = Const" (either order) among the ANDed quals, with a
 * strict equality operator (a btree or hash equality, so "=" means equal
 * values), and make it e's key.
 */
static void
find_key(RlsCompiled *e, Node *folded)
{
	List	   *conj = make_ands_implicit((Expr *) folded);
	ListCell   *lc;

	foreach(lc, conj)
	{
		OpExpr	   *op = (OpExpr *) lfirst(lc);
		Node	   *l,
				   *r;
		Var		   *var;
		Const	   *cst;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		l = linitial(op->args);
		r = lsecond(op->args);
		if (IsA(l, Var) && IsA(r, Const))
			var = (Var *) l, cst = (Const *) r;
		else if (IsA(r, Var) && IsA(l, Const))
			var = (Var *) r, cst = (Const *) l;
		else
			continue;
		if (var->varno != 1 || var->varattno <= 0 || cst->constisnull ||
			!(op_mergejoinable(op->opno, exprType((Node *) var)) ||
			  op_hashjoinable(op->opno, exprType((Node *) var))) ||
			!func_strict(op->opfuncid) || exprType((Node *) cst) != exprType((Node *) var))
			continue;
		e->key_attno = var->varattno;
		fmgr_info_cxt(op->opfuncid, &e->key_eq, e->mcxt);
		e->key_collation = op->inputcollid;
		e->key_value = datumCopy(cst->constvalue, cst->constbyval, cst->constlen);
		return;
	}
}

/* The shape of a folded policy, shared by principals folding alike. */
static RlsShape *
shape_for(Oid relid, Oid role, Node *folded)
{
	char	   *text = nodeToString(folded);
	RlsShapeKey key;
	RlsShape   *sh;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	key.role = role;
	key.hash = hash_bytes_extended((const unsigned char *) text,
								   (int) strlen(text), 0);
	for (;;)
	{
		sh = hash_search(shapes, &key, HASH_ENTER, &found);
		if (!found)
		{
			sh->text = MemoryContextStrdup(rls_mcxt, text);
			sh->tick = 0;
			return sh;
		}
		if (strcmp(sh->text, text) == 0)
			return sh;
		key.hash++;				/* a 64-bit collision */
	}
}

typedef struct CompileArgs
{
	RlsCompiled *e;
	const char *claims;
} CompileArgs;

static void
compile_cb(void *arg)
{
	CompileArgs *a = (CompileArgs *) arg;
	RlsCompiled *e = a->e;
	Relation	rel = relation_open(e->key.relid, NoLock);
	MemoryContext old;
	bool		has_sublinks;
	List	   *quals;
	Node	   *volatile folded = NULL;

	bool		snapshot = !ActiveSnapshotSet();

	e->mcxt = AllocSetContextCreate(rls_mcxt, "pgsync RLS policy",
									ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(e->mcxt);
	/* folding may run SQL functions, which want an active snapshot */
	if (snapshot)
		PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		quals = policy_quals(rel, e->role, &has_sublinks);
		if (has_sublinks)
		{
			e->kind = RLS_UNSUPPORTED;
			e->why = "a row-level security policy of this table has a subquery, which pgsync cannot evaluate on pushed changes: the table is refused";
		}
		else
		{
			/*
			 * First inline SQL functions (auth.uid() and the like: only a
			 * single SELECT without FROM can be inlined, so they read no
			 * table), then check that only the catalog's own non-volatile
			 * functions remain, and only then evaluate them for the
			 * principal: nothing of the user's runs while folding.
			 */
			Node	   *inlined = eval_const_expressions(NULL,
														 (Node *) make_ands_explicit(quals));

			if (unsupported_walker(inlined, NULL) || contain_volatile_functions(inlined))
			{
				e->kind = RLS_UNSUPPORTED;
				e->why = "a row-level security policy of this table calls a user-defined or volatile function, which pgsync does not evaluate on pushed changes: the table is refused";
			}
			else
				folded = fold_for(list_make1(inlined), e->role, a->claims);
			if (folded != NULL && unsupported_walker(folded, NULL))
			{
				e->kind = RLS_UNSUPPORTED;
				e->why = "a row-level security policy of this table cannot be evaluated on pushed changes: the table is refused";
			}
			else if (folded != NULL)
			{
				e->qual = ExecInitQual(make_ands_implicit((Expr *) folded), NULL);
				pull_varattnos(folded, 1, &e->attrs);
				find_key(e, folded);
				e->shape = shape_for(e->key.relid, e->role, folded);
				e->desc = CreateTupleDescCopy(RelationGetDescr(rel));
				e->slot = MakeSingleTupleTableSlot(e->desc, &TTSOpsVirtual);
				e->econtext = CreateStandaloneExprContext();
				e->kind = RLS_POLICY;
			}
		}
	}
	PG_FINALLY();
	{
		if (snapshot)
			PopActiveSnapshot();
		MemoryContextSwitchTo(old);
		relation_close(rel, NoLock);
	}
	PG_END_TRY();
}

/*
 * The compiled policy of (principal, relid), compiled if needed.  NULL
 * when the table has no policy for the role.  Needs a transaction.
 */
static RlsCompiled *
compiled_for(uint32 principal, Oid role, const char *claims, Oid relid)
{
	RlsKey		key;
	RlsCompiled *e;
	bool		found;
	CompileArgs a;

	ensure_fresh();
	memset(&key, 0, sizeof(key));
	key.principal = principal;
	key.relid = relid;
	key.historic = decode_in_pass();
	e = hash_search(compiled, &key, HASH_ENTER, &found);
	if (found)
		return e;
	memset(((char *) e) + sizeof(RlsKey), 0, sizeof(RlsCompiled) - sizeof(RlsKey));
	e->role = role;
	if (check_enable_rls(relid, role, true) != RLS_ENABLED)
	{
		e->kind = RLS_NO_POLICY;
		return e;
	}
	e->kind = RLS_UNSUPPORTED;
	e->why = "the table's row-level security policies could not be prepared for this token (see the server log)";
	a.e = e;
	a.claims = claims;
	if (!in_subxact(compile_cb, &a))
		e->kind = RLS_UNSUPPORTED;
	return e;
}

WorkerRlsKind
worker_rls_prepare(uint32 principal, Oid role, const char *claims, Oid relid,
				   const char **why)
{
	RlsCompiled *e = compiled_for(principal, role, claims, relid);

	*why = e->why;
	return e->kind;
}

/* ----------------------------------------------------------------
 * Rows
 * ----------------------------------------------------------------
 */

/* The text a type's input function reads for a JSON value; NULL: none. */
static char *
value_text(const JsonValue *v)
{
	switch (v->kind)
	{
		case JSON_STRING:
			return pnstrdup(v->u.str, v->len);
		case JSON_NUMBER:
			return pnstrdup(v->u.str, v->len);
		case JSON_BOOL:
			return pstrdup(v->boolean ? "true" : "false");
		default:
			{
				/* json/jsonb values are sent as JSON: give their text */
				size_t		cap = 64 * 1024;
				char	   *buf = palloc(cap);
				size_t		n = json_value_write(v, buf, cap);

				if (n == (size_t) -1)
					return NULL;
				buf[n] = '\0';
				return buf;
			}
	}
}

typedef struct DecodeArgs
{
	Relation	rel;
	const FoMsg *rel_msg;
	const FoMsg *change;
} DecodeArgs;

/* Decode the change's row into row_values by attnum of the current desc. */
static void
decode_cb(void *arg)
{
	DecodeArgs *a = (DecodeArgs *) arg;
	TupleDesc	desc = RelationGetDescr(a->rel);
	JsonDoc    *rdoc = json_doc_create(a->rel_msg->len, a->rel_msg->len / 2 + 2, 64);
	JsonDoc    *cdoc = json_doc_create(a->change->len, a->change->len / 2 + 2, 64);
	RowFilterColumn *cols = palloc(sizeof(RowFilterColumn) * ROW_FILTER_MAX_COLUMNS);
	int		   *keys = palloc(sizeof(int) * ROW_FILTER_MAX_COLUMNS);
	int			nkeys = 0;
	int			ncols = -1;
	const JsonValue *rel = NULL,
			   *change = NULL;

	row_natts = desc->natts;
	row_values = palloc0(sizeof(Datum) * Max(row_natts, 1));
	row_isnull = palloc0(sizeof(bool) * Max(row_natts, 1));
	row_known = palloc0(sizeof(bool) * Max(row_natts, 1));
	if (rdoc != NULL)
		rel = json_parse(rdoc, (const char *) a->rel_msg->payload, a->rel_msg->len, NULL);
	if (cdoc != NULL)
		change = json_parse(cdoc, (const char *) a->change->payload, a->change->len, NULL);
	if (rel != NULL)
		ncols = row_filter_relation_columns(rel, cols, keys, &nkeys,
											ROW_FILTER_MAX_COLUMNS);
	for (int col = 0; change != NULL && col < ncols; col++)
	{
		const JsonValue *v = row_filter_change_value(change, keys, nkeys, col);
		char	   *name = pnstrdup(cols[col].name, cols[col].name_len);
		int			att;

		if (v == NULL)
			continue;			/* not carried: stays unknown */
		for (att = 0; att < desc->natts; att++)
			if (!TupleDescAttr(desc, att)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(desc, att)->attname), name) == 0)
				break;
		if (att == desc->natts)
			continue;
		if (v->kind == JSON_NULL)
			row_isnull[att] = true;
		else
		{
			Form_pg_attribute at = TupleDescAttr(desc, att);
			Oid			infunc,
						ioparam;
			char	   *text = value_text(v);

			if (text == NULL)
				continue;
			getTypeInputInfo(at->atttypid, &infunc, &ioparam);
			row_values[att] = OidInputFunctionCall(infunc, text, ioparam,
												   at->atttypmod);
		}
		row_known[att] = true;
	}
	json_doc_free(rdoc);
	json_doc_free(cdoc);
	row_ok = change != NULL && ncols >= 0;
}

/* Make row_* the row of change (once per tick). */
static bool
decode_row(Oid relid, const FoMsg *rel_msg, const FoMsg *change, uint64 tick)
{
	DecodeArgs	a;
	MemoryContext old;

	if (row_tick == tick && row_relid == relid)
		return row_ok;
	if (row_mcxt == NULL)
		row_mcxt = AllocSetContextCreate(TopMemoryContext, "pgsync RLS row",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(row_mcxt);
	row_tick = tick;
	row_relid = relid;
	row_ok = false;
	old = MemoryContextSwitchTo(row_mcxt);
	a.rel = RelationIdGetRelation(relid);
	if (RelationIsValid(a.rel))
	{
		a.rel_msg = rel_msg;
		a.change = change;
		if (!in_subxact(decode_cb, &a))
			row_ok = false;
		RelationClose(a.rel);
	}
	MemoryContextSwitchTo(old);
	return row_ok;
}

typedef struct EvalArgs
{
	RlsCompiled *e;
	bool		visible;
} EvalArgs;

static void
eval_cb(void *arg)
{
	EvalArgs   *a = (EvalArgs *) arg;
	RlsCompiled *e = a->e;
	Oid			save_user;
	int			save_sec;

	ExecClearTuple(e->slot);
	for (int i = 0; i < e->desc->natts && i < row_natts; i++)
	{
		e->slot->tts_values[i] = row_values[i];
		e->slot->tts_isnull[i] = row_known[i] ? row_isnull[i] : true;
	}
	for (int i = row_natts; i < e->desc->natts; i++)
		e->slot->tts_isnull[i] = true;
	ExecStoreVirtualTuple(e->slot);
	e->econtext->ecxt_scantuple = e->slot;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(e->role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		a->visible = ExecQual(e->qual, e->econtext);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
		ResetExprContext(e->econtext);
	}
	PG_END_TRY();
}

bool
worker_rls_row_visible(uint32 principal, Oid role, const char *claims,
					   Oid relid, const FoMsg *rel_msg, const FoMsg *change,
					   uint64 tick)
{
	RlsCompiled *e = compiled_for(principal, role, claims, relid);
	EvalArgs	a;
	int			att = -1;

	if (e->kind == RLS_NO_POLICY)
		return true;
	if (e->kind != RLS_POLICY || !decode_row(relid, rel_msg, change, tick) ||
		row_natts != e->desc->natts)
		return false;
	/* a column the policy reads and the change does not carry: hidden */
	while ((att = bms_next_member(e->attrs, att)) >= 0)
	{
		int			attno = att + FirstLowInvalidHeapAttributeNumber;

		if (attno <= 0 || attno > row_natts || !row_known[attno - 1])
			return false;		/* and system columns, whole-row refs */
	}
	/* the key first: most principals of a per-user policy stop here */
	if (e->key_attno > 0 &&
		(row_isnull[e->key_attno - 1] ||
		 !DatumGetBool(FunctionCall2Coll(&e->key_eq, e->key_collation,
										 row_values[e->key_attno - 1],
										 e->key_value))))
		return false;
	if (e->shape->tick == tick)
		return e->shape->visible;
	a.e = e;
	a.visible = false;
	if (!in_subxact(eval_cb, &a))
		a.visible = false;
	e->shape->tick = tick;
	e->shape->visible = a.visible;
	return a.visible;
}
