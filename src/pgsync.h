/*-------------------------------------------------------------------------
 *
 * pgsync.h
 *	  Version and names shared by every module.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_H
#define PGSYNC_H

#define PGSYNC_VERSION "0.1.0"

#endif							/* PGSYNC_H */
