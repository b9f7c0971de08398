/*-------------------------------------------------------------------------
 *
 * sanitizer_preload.c
 *	  Preloaded, after libasan and before libubsan, into the test clusters'
 *	  postmaster in sanitizer mode (SANITIZE=1 test/run; sanitizer.sh), so
 *	  that an uninstrumented postgres runs under ASan and UBSan at all.
 *
 * NOTES
 *	Two workarounds, both found on Debian bookworm (gcc 12, glibc 2.36,
 *	PostgreSQL 15), each a definition the runtimes look up by name:
 *
 *	swift_demangle: postgres is not built with ASan, so nothing initializes
 *	the runtime before the shared libraries' constructors run; the first
 *	intercepted call does.  Here that is a malloc() inside bindtextdomain(),
 *	called by libgpg-error's constructor with glibc's _nl_state_lock held.
 *	ASan's initialization looks up swift_demangle with dlsym() and clears
 *	the failure with dlerror(), which translates the message with
 *	dcgettext(): that takes and releases the same lock inside
 *	bindtextdomain(), and postgres's own bindtextdomain() in main() then
 *	waits forever (even "postgres -V" hangs).  With swift_demangle defined
 *	the lookup succeeds and dlerror() has nothing to translate.  ASan only
 *	asks it to demangle Swift names; NULL ("not Swift") makes it fall back
 *	to its usual demangling.
 *
 *	__ubsan_default_options: UBSan initializes at its first report and reads
 *	UBSAN_OPTIONS from /proc/self/environ, which by then holds postgres's
 *	process title (ps_status.c overwrites the original environment area,
 *	after copying the environment elsewhere).  UBSan would then run without
 *	options: no halt_on_error, no stack.  This hook hands it the options
 *	from the copied environment, which getenv() still reads.
 *
 *	Never linked into pgsync.so; built by `make SANITIZE=1`.
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

char	   *swift_demangle(const char *mangled, size_t mangled_len,
						   char *out, size_t *out_len, uint32_t flags);
const char *__ubsan_default_options(void);

char *
swift_demangle(const char *mangled, size_t mangled_len, char *out,
			   size_t *out_len, uint32_t flags)
{
	return NULL;
}

const char *
__ubsan_default_options(void)
{
	const char *options = getenv("UBSAN_OPTIONS");

	return options != NULL ? options : "";
}
