/*-------------------------------------------------------------------------
 *
 * unit.h
 *	  A tiny single-header harness for the pure C unit tests.
 *
 * Each CHECK* macro counts one check; a failed check prints "file:line:
 * FAIL ..." with the values involved.  A test program ends with
 *
 *		return unit_summary();
 *
 * which prints exactly "N passed, N failed" and returns the exit status
 * (non-zero if any check failed).  Include this header in one translation
 * unit only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_UNIT_H
#define PGSYNC_UNIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static int	unit_passed = 0;
static int	unit_failed = 0;

/* Record one check; on failure print file:line and a printf-style message. */
static inline bool
unit_check(bool ok, const char *file, int line, const char *fmt,...)
__attribute__((format(printf, 4, 5)));

static inline bool
unit_check(bool ok, const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	if (ok)
	{
		unit_passed++;
		return true;
	}
	unit_failed++;
	fprintf(stderr, "%s:%d: FAIL: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

/*
 * Print len bytes as a C string literal (at most limit bytes, then "...")
 * into buf (bufsize bytes); returns buf.  Used in failure messages.
 */
static inline const char *
unit_quote(char *buf, size_t bufsize, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		o = 0;
	size_t		i;

	if (s == NULL)
	{
		snprintf(buf, bufsize, "NULL");
		return buf;
	}
	buf[o++] = '"';
	for (i = 0; i < len && o + 8 < bufsize; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			buf[o++] = '\\';
			buf[o++] = (char) c;
		}
		else if (c >= 0x20 && c < 0x7F)
			buf[o++] = (char) c;
		else
		{
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xF];
		}
	}
	buf[o++] = '"';
	if (i < len)
	{
		buf[o++] = '.';
		buf[o++] = '.';
		buf[o++] = '.';
	}
	buf[o] = '\0';
	return buf;
}

static inline bool
unit_check_mem(const char *a, size_t alen, const char *b, size_t blen,
			   const char *aexpr, const char *bexpr, const char *file, int line)
{
	char		qa[512],
				qb[512];
	bool		ok = alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);

	if (ok)
		return unit_check(true, file, line, "%s", "");
	return unit_check(false, file, line, "%s == %s\n\tgot:      %s (%zu bytes)\n\texpected: %s (%zu bytes)",
					  aexpr, bexpr,
					  unit_quote(qa, sizeof(qa), a, alen), alen,
					  unit_quote(qb, sizeof(qb), b, blen), blen);
}

static inline bool
unit_check_str(const char *a, const char *b,
			   const char *aexpr, const char *bexpr, const char *file, int line)
{
	if (a != NULL && b != NULL)
		return unit_check_mem(a, strlen(a), b, strlen(b), aexpr, bexpr, file, line);
	return unit_check(a == b, file, line, "%s == %s (%s vs %s)", aexpr, bexpr,
					  a ? a : "NULL", b ? b : "NULL");
}

/* Print the summary line; returns the exit status for main(). */
static inline int
unit_summary(void)
{
	fflush(stderr);
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	fflush(stdout);
	return unit_failed == 0 ? 0 : 1;
}

/* A boolean condition. */
#define CHECK(cond) \
	unit_check((cond) ? true : false, __FILE__, __LINE__, "%s", #cond)

/* A boolean condition with a printf-style explanation. */
#define CHECK_MSG(cond, ...) \
	unit_check((cond) ? true : false, __FILE__, __LINE__, __VA_ARGS__)

/* Two integers (compared as long long). */
#define CHECK_EQ_INT(a, b) \
	do { \
		long long	unit_a_ = (long long) (a); \
		long long	unit_b_ = (long long) (b); \
		unit_check(unit_a_ == unit_b_, __FILE__, __LINE__, \
				   "%s == %s (got %lld, expected %lld)", #a, #b, \
				   unit_a_, unit_b_); \
	} while (0)

/* Two NUL-terminated strings (either may be NULL). */
#define CHECK_EQ_STR(a, b) \
	unit_check_str((a), (b), #a, #b, __FILE__, __LINE__)

/* Two byte ranges. */
#define CHECK_EQ_MEM(a, alen, b, blen) \
	unit_check_mem((const char *) (a), (alen), (const char *) (b), (blen), \
				   #a, #b, __FILE__, __LINE__)

#endif							/* PGSYNC_UNIT_H */
