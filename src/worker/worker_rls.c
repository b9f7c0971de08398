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
#include "worker/worker_rls_int.h"

/*
 * Three levels, each compiled once:
 *	- RlsBase, per (table, role, side): the policies PostgreSQL applies to
 *	  SELECT by that role, SQL functions inlined, checked (or why not);
 *	- RlsShape, per (table, role, side, folded expression): the policy
 *	  folded for some claims, compiled, with its key test; principals
 *	  whose claims fold it alike (the users of one tenant under a tenant
 *	  policy) share it, and one evaluation per change;
 *	- RlsPrincipal, per (principal, table, side): which shape, or none.
 * "Side": built as of a decoded change or as of now (worker_decode.h).
 */
typedef struct RlsBaseKey
{
	Oid			relid;
	Oid			role;
	bool		historic;
} RlsBaseKey;

typedef struct RlsBase
{
	RlsBaseKey	key;
	WorkerRlsKind kind;
	const char *why;			/* RLS_UNSUPPORTED: static text */
	Node	   *inlined;		/* RLS_POLICY: the ANDed policy, inlined */
	char	   *text;			/* nodeToString(inlined) */
	TupleDesc	desc;
	bool		recheck;		/* its table was invalidated: compare */
	MemoryContext mcxt;
} RlsBase;

typedef struct RlsShapeKey
{
	Oid			relid;
	Oid			role;
	bool		historic;
	uint64		hash;			/* of nodeToString(folded) */
} RlsShapeKey;

typedef struct RlsShape
{
	RlsShapeKey key;
	char	   *text;			/* nodeToString(folded) */
	ExprState  *qual;
	Bitmapset  *attrs;			/* attnums the policy reads */
	TupleDesc	desc;
	TupleTableSlot *slot;
	ExprContext *econtext;
	/* the key: "column key_attno = key_value" is one of the ANDed tests */
	AttrNumber	key_attno;		/* 0: no key */
	FmgrInfo	key_eq;
	Oid			key_collation;
	Datum		key_value;
	uint64		tick;			/* the change last evaluated, */
	bool		visible;		/* and the answer */
	MemoryContext mcxt;
} RlsShape;

typedef struct RlsPrincipalKey
{
	uint32		principal;
	Oid			relid;
	bool		historic;
} RlsPrincipalKey;

typedef struct RlsPrincipal
{
	RlsPrincipalKey key;
	WorkerRlsKind kind;
	const char *why;
	Oid			role;
	RlsShape   *shape;			/* RLS_POLICY */
} RlsPrincipal;

static MemoryContext rls_mcxt = NULL;	/* all of it; reset when stale */
static HTAB *bases = NULL;
static HTAB *shapes = NULL;
static HTAB *principals = NULL;
static bool stale = true;
static bool recheck_pending = false;


/* Forget the shapes and principals of relid (its policies changed). */
static void
drop_folds_of(Oid relid)
{
	HASH_SEQ_STATUS seq;
	RlsShape   *sh;
	RlsPrincipal *p;

	hash_seq_init(&seq, principals);
	while ((p = hash_seq_search(&seq)) != NULL)
		if (p->key.relid == relid)
			hash_search(principals, &p->key, HASH_REMOVE, NULL);
	hash_seq_init(&seq, shapes);
	while ((sh = hash_seq_search(&seq)) != NULL)
		if (sh->key.relid == relid)
		{
			if (sh->econtext != NULL)
				FreeExprContext(sh->econtext, false);
			if (sh->mcxt != NULL)
				MemoryContextDelete(sh->mcxt);
			hash_search(shapes, &sh->key, HASH_REMOVE, NULL);
		}
}

/*
 * A relcache invalidation of relid comes for a policy change, but also for
 * every ANALYZE, autovacuum and index build: the table's bases are only
 * marked, and compared with a fresh build when next used (on their side);
 * the folds of a thousand principals are dropped only if the policies or
 * the table's columns really changed.
 */
void
worker_rls_invalidate(Oid relid)
{
	HASH_SEQ_STATUS seq;
	RlsBase    *b;

	rls_row_forget();
	if (!OidIsValid(relid) || bases == NULL)
	{
		stale = true;
		return;
	}
	hash_seq_init(&seq, bases);
	while ((b = hash_seq_search(&seq)) != NULL)
		if (b->key.relid == relid)
		{
			b->recheck = true;
			recheck_pending = true;
		}
}

static HTAB *
table_in(const char *name, Size keysize, Size entrysize)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = rls_mcxt;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static void
ensure_fresh(void)
{
	if (!stale && bases != NULL)
		return;
	if (rls_mcxt == NULL)
		rls_mcxt = AllocSetContextCreate(TopMemoryContext, "pgsync RLS",
										 ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(rls_mcxt);
	bases = table_in("pgsync RLS policies", sizeof(RlsBaseKey), sizeof(RlsBase));
	shapes = table_in("pgsync RLS shapes", sizeof(RlsShapeKey), sizeof(RlsShape));
	principals = table_in("pgsync RLS principals", sizeof(RlsPrincipalKey),
						  sizeof(RlsPrincipal));
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
bool
rls_in_subxact(void (*fn) (void *), void *arg)
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
 * values), and make it the shape's key.
 */
static void
find_key(RlsShape *sh, Node *folded)
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
		sh->key_attno = var->varattno;
		fmgr_info_cxt(op->opfuncid, &sh->key_eq, sh->mcxt);
		sh->key_collation = op->inputcollid;
		sh->key_value = datumCopy(cst->constvalue, cst->constbyval, cst->constlen);
		return;
	}
}

/* Build base (kind, inlined policy) for its table and role. */
static void
base_cb(void *arg)
{
	RlsBase    *b = (RlsBase *) arg;
	Relation	rel = relation_open(b->key.relid, NoLock);
	MemoryContext old = MemoryContextSwitchTo(b->mcxt);
	bool		snapshot = !ActiveSnapshotSet();
	bool		has_sublinks;
	List	   *quals;

	/* inlining may look at SQL functions, folding run them: a snapshot */
	if (snapshot)
		PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		quals = policy_quals(rel, b->key.role, &has_sublinks);
		if (has_sublinks)
			b->why = "a row-level security policy of this table has a subquery, which pgsync cannot evaluate on pushed changes: the table is refused";
		else
		{
			/*
			 * Inline SQL functions (auth.uid() and the like: only a single
			 * SELECT without FROM can be inlined, so they read no table),
			 * then check that only the catalog's own non-volatile functions
			 * remain: nothing of the user's runs when folding for a
			 * principal.
			 */
			Node	   *inlined = eval_const_expressions(NULL,
														 (Node *) make_ands_explicit(quals));

			if (unsupported_walker(inlined, NULL) || contain_volatile_functions(inlined))
				b->why = "a row-level security policy of this table calls a user-defined or volatile function, which pgsync does not evaluate on pushed changes: the table is refused";
			else
			{
				b->inlined = inlined;
				b->text = nodeToString(inlined);
				b->desc = CreateTupleDescCopy(RelationGetDescr(rel));
				b->kind = RLS_POLICY;
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

/* (Re)build b's contents for its key: kind, why, the inlined policy. */
static void
base_build(RlsBase *b)
{
	b->inlined = NULL;
	b->text = NULL;
	b->desc = NULL;
	b->mcxt = NULL;
	b->recheck = false;
	if (check_enable_rls(b->key.relid, b->key.role, true) != RLS_ENABLED)
	{
		b->kind = RLS_NO_POLICY;
		b->why = NULL;
		return;
	}
	b->kind = RLS_UNSUPPORTED;
	b->why = "the table's row-level security policies could not be prepared (see the server log)";
	b->mcxt = AllocSetContextCreate(rls_mcxt, "pgsync RLS policy",
									ALLOCSET_SMALL_SIZES);
	if (!rls_in_subxact(base_cb, b))
		b->kind = RLS_UNSUPPORTED;
}

static bool
same_base(const RlsBase *a, const RlsBase *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind != RLS_POLICY)
		return true;
	return strcmp(a->text, b->text) == 0 && equalTupleDescs(a->desc, b->desc);
}

/* Compare the marked bases of this side with a fresh build. */
static void
process_rechecks(bool historic)
{
	HASH_SEQ_STATUS seq;
	RlsBase    *b;
	bool		left = false;

	hash_seq_init(&seq, bases);
	while ((b = hash_seq_search(&seq)) != NULL)
	{
		RlsBase		fresh;

		if (!b->recheck)
			continue;
		if (b->key.historic != historic)
		{
			left = true;		/* the other side's catalog decides it */
			continue;
		}
		fresh.key = b->key;
		base_build(&fresh);
		if (same_base(b, &fresh))
		{
			if (fresh.mcxt != NULL)
				MemoryContextDelete(fresh.mcxt);
			b->recheck = false;
			continue;
		}
		drop_folds_of(b->key.relid);
		if (b->mcxt != NULL)
			MemoryContextDelete(b->mcxt);
		*b = fresh;
	}
	recheck_pending = left;
}

static RlsBase *
base_for(Oid relid, Oid role, bool historic)
{
	RlsBaseKey	key;
	RlsBase    *b;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	key.role = role;
	key.historic = historic;
	b = hash_search(bases, &key, HASH_ENTER, &found);
	if (!found)
		base_build(b);
	return b;
}

typedef struct FoldArgs
{
	RlsBase    *base;
	const char *claims;
	RlsShape   *shape;			/* out */
} FoldArgs;

/* Fold base's policy for some claims; find or make its shape. */
static void
shape_cb(void *arg)
{
	FoldArgs   *a = (FoldArgs *) arg;
	RlsBase    *b = a->base;
	bool		snapshot = !ActiveSnapshotSet();
	Node	   *volatile folded = NULL;
	char	   *text;
	RlsShapeKey key;
	RlsShape   *sh;
	bool		found;

	if (snapshot)
		PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		folded = fold_for(list_make1(b->inlined), b->key.role, a->claims);
	}
	PG_FINALLY();
	{
		if (snapshot)
			PopActiveSnapshot();
	}
	PG_END_TRY();
	if (unsupported_walker(folded, NULL))
		return;					/* a->shape stays NULL: refused */
	text = nodeToString(folded);
	memset(&key, 0, sizeof(key));
	key.relid = b->key.relid;
	key.role = b->key.role;
	key.historic = b->key.historic;
	key.hash = hash_bytes_extended((const unsigned char *) text,
								   (int) strlen(text), 0);
	for (;;)
	{
		sh = hash_search(shapes, &key, HASH_ENTER, &found);
		if (!found || strcmp(sh->text, text) == 0)
			break;
		key.hash++;				/* a 64-bit collision */
	}
	if (!found)
	{
		MemoryContext old;

		memset(((char *) sh) + sizeof(RlsShapeKey), 0,
			   sizeof(RlsShape) - sizeof(RlsShapeKey));
		sh->mcxt = AllocSetContextCreate(rls_mcxt, "pgsync RLS shape",
										 ALLOCSET_SMALL_SIZES);
		old = MemoryContextSwitchTo(sh->mcxt);
		sh->text = pstrdup(text);
		folded = copyObject(folded);
		sh->qual = ExecInitQual(make_ands_implicit((Expr *) folded), NULL);
		pull_varattnos(folded, 1, &sh->attrs);
		sh->desc = CreateTupleDescCopy(b->desc);
		sh->slot = MakeSingleTupleTableSlot(sh->desc, &TTSOpsVirtual);
		sh->econtext = CreateStandaloneExprContext();
		find_key(sh, folded);
		MemoryContextSwitchTo(old);
	}
	a->shape = sh;
}

/*
 * What applies to (principal, relid) on this side, prepared if needed.
 * Needs a transaction.
 */
static RlsPrincipal *
principal_for(uint32 principal, Oid role, const char *claims, Oid relid)
{
	RlsPrincipalKey key;
	RlsPrincipal *p;
	RlsBase    *b;
	bool		found;
	FoldArgs	a;

	ensure_fresh();
	if (recheck_pending)
		process_rechecks(decode_in_pass());
	memset(&key, 0, sizeof(key));
	key.principal = principal;
	key.relid = relid;
	key.historic = decode_in_pass();
	p = hash_search(principals, &key, HASH_ENTER, &found);
	if (found)
		return p;
	p->role = role;
	p->shape = NULL;
	b = base_for(relid, role, key.historic);
	p->kind = b->kind;
	p->why = b->why;
	if (b->kind != RLS_POLICY)
		return p;

	/*
	 * Decoding meets a principal the present has folded for already (at
	 * its subscribe check): if the policy and the table are the same on
	 * both sides, so is the fold.  This halves the compiling a thousand
	 * new clients cost, and keeps it off the decoding path.
	 */
	if (key.historic)
	{
		RlsPrincipalKey nowkey = key;
		RlsPrincipal *q;
		RlsBaseKey bkey;
		RlsBase    *nb;

		nowkey.historic = false;
		q = hash_search(principals, &nowkey, HASH_FIND, NULL);
		memset(&bkey, 0, sizeof(bkey));
		bkey.relid = relid;
		bkey.role = role;
		nb = q != NULL ? hash_search(bases, &bkey, HASH_FIND, NULL) : NULL;
		if (q != NULL && q->kind == RLS_POLICY && q->shape != NULL &&
			nb != NULL && nb->kind == RLS_POLICY &&
			strcmp(nb->text, b->text) == 0 && equalTupleDescs(nb->desc, b->desc))
		{
			p->shape = q->shape;
			return p;
		}
	}
	a.base = b;
	a.claims = claims;
	a.shape = NULL;
	if (!rls_in_subxact(shape_cb, &a) || a.shape == NULL)
	{
		p->kind = RLS_UNSUPPORTED;
		p->why = "the table's row-level security policies could not be evaluated for this token's claims";
	}
	p->shape = a.shape;
	return p;
}

WorkerRlsKind
worker_rls_prepare(uint32 principal, Oid role, const char *claims, Oid relid,
				   const char **why)
{
	RlsPrincipal *p = principal_for(principal, role, claims, relid);

	*why = p->why;
	return p->kind;
}

typedef struct EvalArgs
{
	RlsShape   *sh;
	const RlsRow *row;
	Oid			role;
	bool		visible;
} EvalArgs;

static void
eval_cb(void *arg)
{
	EvalArgs   *a = (EvalArgs *) arg;
	RlsShape   *e = a->sh;
	Oid			save_user;
	int			save_sec;

	ExecClearTuple(e->slot);
	for (int i = 0; i < e->desc->natts && i < a->row->natts; i++)
	{
		e->slot->tts_values[i] = a->row->values[i];
		e->slot->tts_isnull[i] = a->row->known[i] ? a->row->isnull[i] : true;
	}
	for (int i = a->row->natts; i < e->desc->natts; i++)
		e->slot->tts_isnull[i] = true;
	ExecStoreVirtualTuple(e->slot);
	e->econtext->ecxt_scantuple = e->slot;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(a->role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
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
	RlsPrincipal *p = principal_for(principal, role, claims, relid);
	RlsShape   *sh = p->shape;
	const RlsRow *row;
	EvalArgs	a;
	int			att = -1;

	if (p->kind == RLS_NO_POLICY)
		return true;
	if (p->kind != RLS_POLICY || sh == NULL)
		return false;
	if (sh->tick == tick)
		return sh->visible;		/* shared with principals folding alike */
	row = rls_row_decode(relid, rel_msg, change, tick);
	if (row == NULL || row->natts != sh->desc->natts)
		return false;
	/* a column the policy reads and the change does not carry: hidden */
	while ((att = bms_next_member(sh->attrs, att)) >= 0)
	{
		int			attno = att + FirstLowInvalidHeapAttributeNumber;

		if (attno <= 0 || attno > row->natts || !row->known[attno - 1])
			return false;		/* and system columns, whole-row refs */
	}
	/* the key first: most principals of a per-user policy stop here */
	if (sh->key_attno > 0 &&
		(row->isnull[sh->key_attno - 1] ||
		 !DatumGetBool(FunctionCall2Coll(&sh->key_eq, sh->key_collation,
										 row->values[sh->key_attno - 1],
										 sh->key_value))))
		return false;
	a.sh = sh;
	a.row = row;
	a.role = role;
	a.visible = false;
	if (!rls_in_subxact(eval_cb, &a))
		a.visible = false;
	sh->tick = tick;
	sh->visible = a.visible;
	return a.visible;
}
