/*
 * rowtime.h: finding a row's timestamp in a message, cheaply.
 *
 * The load client's latency is "arrival minus the timestamp the row
 * carries".  The benchmark tables have one timestamptz column, and the
 * clusters run with timezone = 'UTC', so a row's text holds one
 * "YYYY-MM-DD HH:MM:SS[.ffffff][zone]" (space or T between date and
 * time; zone Z, +HH, +HH:MM, +HHMM or none, read as UTC).  No JSON
 * parsing: a scan for '-' and a check of the characters around it.
 * Pure: no I/O, no globals.
 */
#ifndef LOADCLIENT_ROWTIME_H
#define LOADCLIENT_ROWTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* longest text rowtime_find() reads past a timestamp's first character */
#define ROWTIME_MAX_LEN 40

/*
 * The first timestamp in p[0..n): true and *us = microseconds since the
 * Unix epoch (UTC), or false when there is none.  *start (if not NULL)
 * gets its offset.  A timestamp cut by the end of the buffer is not found.
 */
extern bool rowtime_find(const char *p, size_t n, int64_t *us, size_t *start);

/*
 * Is this message a pgsync transaction boundary (compact format "B" or
 * "C", which carry the commit time, not a row's)?  Only its first bytes
 * are looked at.
 */
extern bool rowtime_is_boundary(const char *p, size_t n);

#endif
