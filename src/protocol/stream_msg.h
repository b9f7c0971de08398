/*-------------------------------------------------------------------------
 *
 * stream_msg.h
 *	  Pure classification of the output plugin's compact messages.
 *
 * The worker does not re-encode anything: it hands the plugin's bytes to
 * clients unchanged.  To route them it only needs the message kind and the
 * relation(s) it is about, read from the fixed leading positions of the
 * compact array (docs/PROTOCOL.md): ["I",relid,...], ["T",lsn,[relids],...],
 * ["R",relid,"schema","table",...], ["B",...], ["C",...], ["M",...].
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_STREAM_MSG_H
#define PGSYNC_STREAM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct StreamMsgInfo
{
	char		op;				/* 'B','C','R','I','U','D','T','M' */
	uint32_t	relid;			/* R, I, U, D */
	/* T: relation oids (malloc'd, caller frees) */
	uint32_t   *relids;
	int			nrelids;
	/* R: unescaped names (malloc'd, caller frees) */
	char	   *schema;
	char	   *table;
} StreamMsgInfo;

/*
 * Classify one compact message.  Returns false if it is not a message this
 * module understands (the caller then treats it as opaque and drops it).
 */
extern bool stream_msg_classify(const char *data, size_t len,
								StreamMsgInfo *info);

extern void stream_msg_info_free(StreamMsgInfo *info);

#endif							/* PGSYNC_STREAM_MSG_H */
