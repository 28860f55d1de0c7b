/*
 * tls.c - the HTTPS listener's SSL_CTX; see tls.h.
 *
 * A context is built whole by ctx_load() from the two files and checked
 * (SSL_CTX_check_private_key) before anyone sees it; a reload builds
 * another and frees the old one, which OpenSSL keeps alive for as long as
 * an SSL made from it is (SSL_new takes a reference on its context).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"
#include "util.h"

struct tls {
	SSL_CTX *ctx;             /* what new connections get */
	char subject[256];        /* of ctx's certificate, for the log */
};

/* *err = "what: OpenSSL's reason" (or errno's when OpenSSL has none);
 * OpenSSL's error queue is emptied. */
static void
set_err(char **err, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;
	char buf[1024];

	if (why == NULL)
		why = errno != 0 ? strerror(errno) : "unknown error";
	snprintf(buf, sizeof(buf), "%s: %s", what, why);
	ERR_clear_error();
	if (err != NULL)
		*err = xstrdup(buf);
}

/* A server context on cert and key, or NULL with *err set. */
static SSL_CTX *
ctx_load(const char *cert, const char *key, char **err)
{
	char what[600];
	SSL_CTX *ctx;

	ERR_clear_error();
	errno = 0;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		set_err(err, "cannot make a TLS context");
		return NULL;
	}
	/* TLS 1.2 and 1.3 only; our order of ciphers, not the client's;
	 * no renegotiation (a client could make us redo handshakes) and no
	 * compression (CRIME). */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
#ifdef SSL_OP_NO_CLIENT_RENEGOTIATION
	SSL_CTX_set_options(ctx, SSL_OP_NO_CLIENT_RENEGOTIATION);
#endif
	/* The bufferevent writes from a buffer that may move between
	 * retries of a partial write. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(what, sizeof(what), "tls_cert %s: cannot load the "
		    "certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_last_error();

		/* OpenSSL compares the key with the certificate as it loads
		 * it: say which pair is wrong, not only that. */
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
		    ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH))
			snprintf(what, sizeof(what), "tls_key %s does not "
			    "match tls_cert %s", key, cert);
		else
			snprintf(what, sizeof(what), "tls_key %s: cannot load "
			    "the private key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(what, sizeof(what), "tls_key %s does not match "
		    "tls_cert %s", key, cert);
		goto fail;
	}
	return ctx;
fail:
	set_err(err, what);
	SSL_CTX_free(ctx);
	return NULL;
}

static void
subject_of(SSL_CTX *ctx, char *buf, size_t size)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);

	buf[0] = '\0';
	if (x != NULL)
		X509_NAME_oneline(X509_get_subject_name(x), buf, (int)size);
}

struct tls *
tls_new(const char *cert, const char *key, char **err)
{
	struct tls *t;
	SSL_CTX *ctx;

	if (err != NULL)
		*err = NULL;
	if ((ctx = ctx_load(cert, key, err)) == NULL)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	subject_of(ctx, t->subject, sizeof(t->subject));
	return t;
}

int
tls_check(const char *cert, const char *key, char **err)
{
	SSL_CTX *ctx;

	if (err != NULL)
		*err = NULL;
	if ((ctx = ctx_load(cert, key, err)) == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

int
tls_reload(struct tls *t, const char *cert, const char *key, char **err)
{
	SSL_CTX *ctx;

	if (err != NULL)
		*err = NULL;
	if ((ctx = ctx_load(cert, key, err)) == NULL)
		return -1;
	/* Connections open on the old context hold references to it. */
	SSL_CTX_free(t->ctx);
	t->ctx = ctx;
	subject_of(ctx, t->subject, sizeof(t->subject));
	return 0;
}

struct ssl_st *
tls_ssl_new(struct tls *t)
{
	SSL *ssl = SSL_new(t->ctx);

	if (ssl == NULL)
		ERR_clear_error();
	return ssl;
}

const char *
tls_subject(const struct tls *t)
{
	return t->subject;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}
