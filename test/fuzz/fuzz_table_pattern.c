/*-------------------------------------------------------------------------
 *
 * fuzz_table_pattern.c
 *	  libFuzzer target for src/filter/table_pattern.c.
 *
 * Input: everything before the first newline is a pattern list, the rest
 * a "schema.table" name (split at its first dot; no dot: schema "public").
 * A NUL ends either string.  Must never crash or hang, and aborts unless:
 * - pattern_list_split agrees with the reference splitter of
 *	 test/fuzz/pattern_check.h (count, error, every slice), in counting
 *	 mode too, and rejects a max one below the count;
 * - table_pattern_parse succeeds exactly when every split element is a
 *	 valid pattern, with schema/table slices cut at the unescaped dot;
 * - table_pattern_match, table_pattern_match_any and glob_match (with the
 *	 whole list used as one pattern against the name, and against the
 *	 table) agree with the dynamic-programming reference matcher.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/table_pattern.h"
#include "pattern_check.h"

#define FUZZ_ASSERT(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz_table_pattern: %s: ", #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/* The reference matcher is O(n*m) in memory traffic; skip huge pairs. */
#define REF_LIMIT	(1 << 22)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
copy_str(const uint8_t *p, size_t n)
{
	char	   *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static bool
ref_glob_slice(PatternSlice pat, const char *s, bool *known)
{
	if (pat.len * (strlen(s) + 1) > REF_LIMIT)
	{
		*known = false;
		return false;
	}
	return jp_ref_glob(pat.ptr, pat.len, s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t		listlen = nl ? (size_t) (nl - data) : size;
	char	   *list = copy_str(data, listlen);
	char	   *name = nl ? copy_str(nl + 1, size - listlen - 1) : copy_str(data, 0);
	char	   *dot = strchr(name, '.');
	const char *schema = dot ? name : "public";
	const char *table = dot ? dot + 1 : name;
	size_t		len = strlen(list);
	size_t	   *starts = malloc((len + 2) * sizeof(size_t));
	size_t	   *ends = malloc((len + 2) * sizeof(size_t));
	const char *err = NULL;
	int			nref;
	int			n;
	int			m;
	int			expect_m;
	int			i;
	PatternSlice *slices = NULL;
	TablePattern *pats = NULL;
	PatternSlice whole = {list, len};
	bool		known = true;
	bool		want;

	if (dot)
		*dot = '\0';
	if (starts == NULL || ends == NULL)
		abort();

	/* splitting */
	nref = jp_ref_split(list, starts, ends, (int) len + 2);
	n = pattern_list_split(list, NULL, 0, &err);
	FUZZ_ASSERT(n == nref, "pattern_list_split counted %d, reference %d", n, nref);
	FUZZ_ASSERT((n < 0) == (err != NULL), "error \"%s\" with result %d",
				err ? err : "NULL", n);
	if (n > 0)
	{
		slices = malloc((size_t) n * sizeof(PatternSlice));
		if (slices == NULL)
			abort();
		FUZZ_ASSERT(pattern_list_split(list, slices, n, &err) == n,
					"pattern_list_split with max = count failed: %s", err);
		for (i = 0; i < n; i++)
		{
			size_t		s = (size_t) (slices[i].ptr - list);
			size_t		e = s + slices[i].len;

			FUZZ_ASSERT(slices[i].ptr >= list && e <= len,
						"slice %d outside the list", i);
			FUZZ_ASSERT(s == starts[i] &&
						e == ends[i],
						"slice %d is [%zu, %zu), reference [%zu, %zu)",
						i, s, e, starts[i], ends[i]);
		}
		if (n > 1)
			FUZZ_ASSERT(pattern_list_split(list, slices, n - 1, &err) == -1,
						"max = %d with %d elements not rejected", n - 1, n);
	}

	/* parsing: valid exactly when every element is */
	expect_m = n;
	for (i = 0; i < n; i++)
	{
		size_t		d;

		if (!jp_ref_parse_elem(slices[i].ptr, slices[i].len, &d))
			expect_m = -1;
	}
	err = NULL;
	m = table_pattern_parse(list, NULL, 0, &err);
	FUZZ_ASSERT(m == expect_m, "table_pattern_parse counted %d, expected %d (%s)",
				m, expect_m, err ? err : "no error");
	FUZZ_ASSERT((m < 0) == (err != NULL), "error \"%s\" with result %d",
				err ? err : "NULL", m);
	if (m > 0)
	{
		bool		any = false;

		pats = malloc((size_t) m * sizeof(TablePattern));
		if (pats == NULL)
			abort();
		FUZZ_ASSERT(table_pattern_parse(list, pats, m, &err) == m,
					"table_pattern_parse with max = count failed: %s", err);
		if (m > 1)
			FUZZ_ASSERT(table_pattern_parse(list, pats, m - 1, &err) == -1,
						"max = %d with %d patterns not rejected", m - 1, m);
		for (i = 0; i < m; i++)
		{
			size_t		d;
			bool		sch,
						tab;

			(void) jp_ref_parse_elem(slices[i].ptr, slices[i].len, &d);
			if (d == slices[i].len)
				FUZZ_ASSERT(pats[i].schema.len == 1 && pats[i].schema.ptr[0] == '*' &&
							pats[i].table.ptr == slices[i].ptr &&
							pats[i].table.len == slices[i].len,
							"pattern %d without a dot is not *.element", i);
			else
				FUZZ_ASSERT(pats[i].schema.ptr == slices[i].ptr &&
							pats[i].schema.len == d &&
							pats[i].table.ptr == slices[i].ptr + d + 1 &&
							pats[i].table.len == slices[i].len - d - 1,
							"pattern %d not cut at its dot (offset %zu)", i, d);

			/* matching */
			known = true;
			sch = ref_glob_slice(pats[i].schema, schema, &known);
			tab = ref_glob_slice(pats[i].table, table, &known);
			want = sch && tab;
			if (known)
				FUZZ_ASSERT(table_pattern_match(&pats[i], schema, table) == want,
							"pattern %d: match %d, reference %d", i, !want, want);
			else
				want = table_pattern_match(&pats[i], schema, table);
			any = any || want;
		}
		FUZZ_ASSERT(table_pattern_match_any(pats, m, schema, table) == any,
					"table_pattern_match_any differs from the patterns one by one");
	}

	/* raw glob: the whole list as one pattern */
	known = true;
	want = ref_glob_slice(whole, table, &known);
	if (known)
		FUZZ_ASSERT(glob_match(whole, table) == want,
					"glob_match(list, table) = %d, reference %d", !want, want);
	else
		(void) glob_match(whole, table);

	free(pats);
	free(slices);
	free(starts);
	free(ends);
	free(list);
	free(name);
	return 0;
}
