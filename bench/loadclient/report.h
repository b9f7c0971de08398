/*
 * report.h: the results pgsync-load prints when it stops.
 *
 * One JSON line on stdout (the contract in bench/README.md,
 * "bench/loadclient") and, with --hist-out, the latency histogram as
 * CSV.  Takes the loops' merged counters; reads the process's own CPU
 * time and resident memory.
 */
#ifndef LOADCLIENT_REPORT_H
#define LOADCLIENT_REPORT_H

#include "hist.h"
#include "loop.h"

extern void report_json(FILE *out, int clients, const Counters *c, const Hist *h);
/* false (and a message on stderr) if the file cannot be written */
extern bool report_hist_csv(const char *path, const Hist *h);

#endif
