/*-------------------------------------------------------------------------
 *
 * ws_tls.c
 *	  TLS for the WebSocket server: the credential (certificate, chain,
 *	  private key) read from files, given to each TLS handshake, swapped
 *	  on reload; and the plain ws:// policy (pgsync.ssl_plain_from).
 *
 * TLS is libwebsockets' own, on OpenSSL 3 (docs/SECURITY.md says why).
 *
 * Files.  lws can read the files itself (ssl_cert_filepath and
 * ssl_private_key_filepath of the vhost), but then a missing or bad file
 * only shows as a failed lws_create_vhost() beside an lws log line, a key
 * with a passphrase makes OpenSSL prompt on a terminal the worker does not
 * have, and a renewed certificate needs a restart.  So we read them here,
 * in the worker's main loop, with PostgreSQL's rules and wording
 * (be-secure-openssl.c, be-secure-common.c: the key's permissions, no
 * passphrase prompt), and create the vhost with
 * LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX and no file: lws then hands us its
 * SSL_CTX (LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS), where
 * ws_tls_install() sets TLS 1.2 as the minimum, refuses renegotiation and
 * installs a certificate callback.
 *
 * Reload.  Every handshake takes the current credential in that callback
 * (SSL_CTX_set_cert_cb): SSL_certs_clear(), then SSL_use_cert_and_key().
 * A reload only swaps `current`: an SSL holds references to what it took.
 * (Installing on the SSL_CTX instead would leave a certificate of another
 * key type beside the new one after an RSA -> EC change.)
 *
 * Plain connections.  The vhost lets plain HTTP in on the TLS port
 * (LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT with ..._ALLOW_HTTP_ON_
 * HTTPS_LISTENER: lws peeks at the first byte, a TLS record starts with
 * 0x16, a request line with a printable character) and lws_is_ssl() tells
 * them apart at the upgrade, where ws_tls_plain_refused() applies the
 * policy.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "utils/guc.h"

#include "net/ws_server_int.h"
#include "net/ws_tls.h"

typedef struct TlsCred
{
	X509	   *cert;
	STACK_OF(X509) *chain;		/* intermediates, in file order */
	EVP_PKEY   *key;
} TlsCred;

static TlsCred current;			/* what handshakes get; empty: no TLS */
static bool installed = false;	/* the listening vhost's SSL_CTX has our callback */
static WsPlainFrom plain_from = WS_PLAIN_FROM_LOOPBACK;
static bool passphrase_asked;
static char errbuf[1024];		/* the last failure's message */

/* ----------------------------------------------------------------
 * Reading the files (worker's main loop; messages in errbuf, no ERROR)
 * ----------------------------------------------------------------
 */

/* Set *errmsg (%m works: PostgreSQL's vsnprintf); returns false. */
static bool fail(const char **errmsg, const char *fmt,...) pg_attribute_printf(2, 3);

static bool
fail(const char **errmsg, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	*errmsg = errbuf;
	return false;
}

static void
cred_free(TlsCred *c)
{
	X509_free(c->cert);
	sk_X509_pop_free(c->chain, X509_free);
	EVP_PKEY_free(c->key);
	memset(c, 0, sizeof(*c));
}

/* OpenSSL's reason for the last failure (static: OpenSSL's tables). */
static const char *
ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	return r != NULL ? r : "no reason given by OpenSSL";
}

/* as PostgreSQL's dummy_ssl_passwd_cb: never prompt */
static int
no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
	passphrase_asked = true;
	return 0;
}

/* The setting, or the server's own one when it is empty. */
static const char *
file_name(const char *setting, const char *server_setting)
{
	const char *v;

	if (setting != NULL && setting[0] != '\0')
		return setting;
	v = GetConfigOption(server_setting, true, false);
	return v != NULL ? v : "";
}

/* PostgreSQL's rule for ssl_key_file (be-secure-common.c). */
static bool
key_permissions_ok(const char *path, const char **errmsg)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return fail(errmsg, "could not access private key file \"%s\": %m", path);
	if (!S_ISREG(st.st_mode))
		return fail(errmsg, "private key file \"%s\" is not a regular file", path);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return fail(errmsg, "private key file \"%s\" must be owned by the database user or root", path);
	if ((st.st_uid == geteuid() && (st.st_mode & (S_IRWXG | S_IRWXO))) ||
		(st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))))
		return fail(errmsg, "private key file \"%s\" has group or world access "
					"(it must have permissions u=rw (0600) or less if owned by the database user, "
					"or u=rw,g=r (0640) or less if owned by root)", path);
	return true;
}

static bool
read_certificates(const char *path, TlsCred *out, const char **errmsg)
{
	FILE	   *f = fopen(path, "r");
	X509	   *x;
	unsigned long e;

	if (f == NULL)
		return fail(errmsg, "could not open server certificate file \"%s\": %m", path);
	out->cert = PEM_read_X509(f, NULL, NULL, NULL);
	out->chain = sk_X509_new_null();
	if (out->cert == NULL || out->chain == NULL)
	{
		fclose(f);
		return fail(errmsg, "could not load server certificate file \"%s\": %s",
					path, ssl_reason());
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(out->chain, x) <= 0)
		{
			X509_free(x);
			break;
		}
	fclose(f);
	/* the chain ends at the end of the file: "no start line" */
	e = ERR_peek_last_error();
	if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
					ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
		return fail(errmsg, "could not load server certificate file \"%s\": %s",
					path, ssl_reason());
	ERR_clear_error();
	return true;
}

static bool
read_key(const char *path, TlsCred *out, const char **errmsg)
{
	FILE	   *f;

	if (!key_permissions_ok(path, errmsg))
		return false;
	if ((f = fopen(path, "r")) == NULL)
		return fail(errmsg, "could not open private key file \"%s\": %m", path);
	passphrase_asked = false;
	out->key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (out->key == NULL && passphrase_asked)
		return fail(errmsg, "private key file \"%s\" is protected by a passphrase, which pgsync cannot use", path);
	if (out->key == NULL)
		return fail(errmsg, "could not load private key file \"%s\": %s",
					path, ssl_reason());
	return true;
}

static bool
cred_read(const char *cert_setting, const char *key_setting, TlsCred *out,
		  const char **errmsg)
{
	const char *cert_path = file_name(cert_setting, "ssl_cert_file");
	const char *key_path = file_name(key_setting, "ssl_key_file");

	bool		ok;

	memset(out, 0, sizeof(*out));
	ERR_clear_error();
	if (cert_path[0] == '\0' || key_path[0] == '\0')
		ok = fail(errmsg, "no TLS certificate or key file (set pgsync.ssl_cert_file and pgsync.ssl_key_file, or ssl_cert_file and ssl_key_file)");
	else if (!read_certificates(cert_path, out, errmsg) ||
			 !read_key(key_path, out, errmsg))
		ok = false;
	else if (X509_check_private_key(out->cert, out->key) != 1)
		ok = fail(errmsg, "private key file \"%s\" does not match server certificate file \"%s\": %s",
				  key_path, cert_path, ssl_reason());
	else
		ok = true;
	ERR_clear_error();
	if (!ok)
		cred_free(out);
	return ok;
}

bool
ws_tls_load(const char *cert_file, const char *key_file, const char **errmsg)
{
	TlsCred		c;

	if (!cred_read(cert_file, key_file, &c, errmsg))
		return false;
	cred_free(&current);
	current = c;
	return true;
}

bool
ws_tls_enabled(void)
{
	return current.cert != NULL;
}

void
ws_tls_set_plain_from(WsPlainFrom who)
{
	plain_from = who;
}

/* ----------------------------------------------------------------
 * The vhost and its handshakes (lws callbacks: no ERROR, no palloc)
 * ----------------------------------------------------------------
 */

/* Context and vhost options for TLS; nothing when no credential is loaded. */
void
ws_tls_context_options(struct lws_context_creation_info *info)
{
	if (ws_tls_enabled())
		info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
}

void
ws_tls_vhost_options(struct lws_context_creation_info *info)
{
	if (!ws_tls_enabled())
		return;
	info->options |= LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX |
		LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
		LWS_SERVER_OPTION_ALLOW_HTTP_ON_HTTPS_LISTENER;
	/* WebSocket over HTTP/1.1 only: no h2 for a client offering it */
	info->alpn = "http/1.1";
	/* the end of each TLS handshake, for the handshake timeout */
	info->ssl_info_event_mask = SSL_CB_HANDSHAKE_DONE;
}

/* Each handshake: the current credential, whatever the SSL_CTX holds. */
static int
cert_cb(SSL *ssl, void *arg)
{
	if (current.cert == NULL)
		return 0;
	SSL_certs_clear(ssl);
	return SSL_use_cert_and_key(ssl, current.cert, current.key,
								current.chain, 1) == 1 ? 1 : 0;
}

/*
 * LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS, while the vhost is
 * created: lws's SSL_CTX, still without a certificate.  Non-zero fails
 * the vhost.
 */
int
ws_tls_install(void *ssl_ctx)
{
	SSL_CTX    *ctx = (SSL_CTX *) ssl_ctx;

	if (ctx == NULL || current.cert == NULL ||
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
	{
		ereport(WARNING,
				(errmsg("pgsync: could not set up the TLS context of the WebSocket server")));
		ERR_clear_error();
		return 1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_cert_cb(ctx, cert_cb, NULL);
	installed = true;
	return 0;
}

/* Did the vhost's SSL_CTX get our callback? */
bool
ws_tls_installed(void)
{
	return installed;
}

/* The vhost is gone (or was never made). */
void
ws_tls_forget(void)
{
	installed = false;
}

static bool
peer_is_loopback(struct lws *wsi)
{
	struct sockaddr_storage ss;
	socklen_t	len = sizeof(ss);
	int			fd = lws_get_socket_fd(wsi);

	if (fd < 0 || getpeername(fd, (struct sockaddr *) &ss, &len) != 0)
		return false;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *) &ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss.ss_family == AF_INET6)
	{
		const struct in6_addr *a = &((struct sockaddr_in6 *) &ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
			(IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/*
 * With TLS on, is this plain (ws://) connection refused by
 * pgsync.ssl_plain_from?  False for TLS connections and without TLS.
 */
bool
ws_tls_plain_refused(struct lws *wsi)
{
	if (!installed || lws_is_ssl(wsi))
		return false;
	switch (plain_from)
	{
		case WS_PLAIN_FROM_ANY:
			return false;
		case WS_PLAIN_FROM_LOOPBACK:
			return !peer_is_loopback(wsi);
		case WS_PLAIN_FROM_NONE:
			break;
	}
	return true;
}

/* pgsync.ssl_plain_from's name, for messages. */
const char *
ws_tls_plain_from_name(void)
{
	return plain_from == WS_PLAIN_FROM_ANY ? "any" :
		plain_from == WS_PLAIN_FROM_NONE ? "none" : "loopback";
}
