/*
 * tls.h - the HTTPS listener's OpenSSL context: a certificate and its key
 * ([server] tls_cert, tls_key) loaded into a server SSL_CTX that speaks
 * TLS 1.2 and later only, prefers the server's cipher order and refuses
 * renegotiation.
 *
 * http.c asks it for one SSL per accepted connection (tls_ssl_new) and
 * knows nothing else of certificates; gw.c loads the pair at start and
 * again on SIGHUP (tls_reload).  A reload builds a whole new context and
 * swaps it in only when the pair loads and matches: new connections get
 * the new pair, and connections already open keep theirs (each SSL holds
 * a reference to the context it was made from), so nothing is dropped.
 *
 * Errors are malloc'd one-line messages that name the file at fault and
 * OpenSSL's reason; the caller frees them.  Nothing here logs.
 */
#ifndef TLS_H
#define TLS_H

struct tls;
struct ssl_st;

/* Load the PEM certificate chain cert and its private key key into a new
 * server context.  Returns it (free with tls_free), or NULL with *err
 * set: a file that cannot be read or parsed, or a key that is not the
 * certificate's. */
struct tls *tls_new(const char *cert, const char *key, char **err);

/* What tls_new checks, without keeping the context (smsverifyd -t).
 * 0, or -1 with *err set. */
int tls_check(const char *cert, const char *key, char **err);

/* Load cert and key again (they may be other files) and, when they load
 * and match, make them the pair new connections get.  0; or -1 with *err
 * set and the pair in use unchanged. */
int tls_reload(struct tls *, const char *cert, const char *key, char **err);

/* A new server-side SSL on the current pair, for one accepted connection;
 * the caller owns it (SSL_free, or a bufferevent that frees it).  NULL
 * when OpenSSL is out of memory. */
struct ssl_st *tls_ssl_new(struct tls *);

/* The subject of the certificate in use, for the log ("" when unknown);
 * it lives until the next tls_reload or tls_free. */
const char *tls_subject(const struct tls *);

/* Free the context (NULL is allowed); open connections keep their SSLs,
 * which hold their own reference. */
void tls_free(struct tls *);

#endif
