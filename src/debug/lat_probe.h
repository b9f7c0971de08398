/*-------------------------------------------------------------------------
 *
 * lat_probe.h
 *	  Latency probes of the push path, for measurement only.
 *
 * Built only with `make PROBE=1` (-DPGSYNC_LAT_PROBE, which also compiles
 * lat_probe.c); otherwise every probe below is an empty inline function and
 * the production files carry no probe state.  Samples are aggregated and
 * logged every 5 s ("lat_probe <stage> n=... p50=..."), stages:
 * commit record -> worker woken -> decode pass -> end of the pass's uv_run
 * -> first and last socket write.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_LAT_PROBE_H
#define PGSYNC_LAT_PROBE_H

#include "datatype/timestamp.h"

#ifdef PGSYNC_LAT_PROBE

/* output plugin: a transaction's begin was decoded */
extern void lat_probe_commit_decoded(TimestampTz commit_time);

/* send path: a write went to a client's socket */
extern void lat_probe_socket_write(void);

/* worker loop, in this order each iteration */
extern void lat_probe_woken(void);	/* after WaitEventSetWait */
extern void lat_probe_decode_start(void);
extern void lat_probe_decode_end(void);
extern void lat_probe_sent(void);	/* after the uv_run that follows decoding */
extern void lat_probe_iteration_end(void);	/* sample, maybe report, reset */

#else

static inline void lat_probe_commit_decoded(TimestampTz commit_time) {}
static inline void lat_probe_socket_write(void) {}
static inline void lat_probe_woken(void) {}
static inline void lat_probe_decode_start(void) {}
static inline void lat_probe_decode_end(void) {}
static inline void lat_probe_sent(void) {}
static inline void lat_probe_iteration_end(void) {}

#endif							/* PGSYNC_LAT_PROBE */

#endif							/* PGSYNC_LAT_PROBE_H */
