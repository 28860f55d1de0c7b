/*
 * verify.c - codes and the rules for checking them.  No I/O but the
 * server secret's file; no event loop; no store calls (the caller reads
 * and writes struct verif).
 *
 * Codes are drawn from OpenSSL's CSPRNG by rejection sampling: random
 * octets of 250 or more are thrown away and the rest give b % 10, so every
 * digit has probability exactly 1/10.  A code is never stored: only
 * HMAC-SHA256(secret, id ":" code), compared with CRYPTO_memcmp.
 * verify_check() computes and compares that HMAC before it looks at the
 * verification's state, so a wrong, a right and a stale code cost the same
 * time.
 *
 * The message text (which contains the code) must survive a restart until
 * an SMSC accepts it, so it is stored sealed: AES-256-GCM under a key
 * derived from the secret, with the verification id as associated data so
 * a sealed text cannot be moved to another record.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "util.h"
#include "verif_state.h"
#include "verify.h"

#define SEAL_NONCE 12
#define SEAL_TAG 16
#define SEAL_INFO "smsverify seal v1"
#define RAND_POOL 512

/*
 * Random octets from OpenSSL's CSPRNG, drawn RAND_POOL at a time: one
 * RAND_bytes() call costs about a microsecond whatever its size (locking,
 * the fork check, the DRBG's reseed test), and a send needs three small
 * draws (code, id, nonce).  Octets handed out are wiped from the pool.  A
 * forked child empties its copy of the pool (pthread_atfork) so it never
 * hands out its parent's octets.  Returns 0, or -1 when the CSPRNG fails.
 */
static struct {
	uint8_t buf[RAND_POOL];
	size_t pos;
} pool = { .pos = RAND_POOL };
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void
pool_forget(void)
{
	OPENSSL_cleanse(pool.buf, sizeof(pool.buf));
	pool.pos = RAND_POOL;
}

static void
pool_init(void)
{
	pthread_atfork(NULL, NULL, pool_forget);
}

static int
random_octets(uint8_t *out, size_t n)
{
	size_t k;

	pthread_once(&pool_once, pool_init);
	while (n > 0) {
		if (pool.pos == RAND_POOL) {
			if (RAND_bytes(pool.buf, RAND_POOL) != 1)
				return -1;
			pool.pos = 0;
		}
		k = RAND_POOL - pool.pos;
		if (k > n)
			k = n;
		memcpy(out, pool.buf + pool.pos, k);
		OPENSSL_cleanse(pool.buf + pool.pos, k);
		pool.pos += k;
		out += k;
		n -= k;
	}
	return 0;
}

/* *err = a malloc'd message. */
static int
fail(char **err, const char *fmt, const char *path, const char *detail)
{
	int n;

	if (err == NULL)
		return -1;
	n = snprintf(NULL, 0, fmt, path, detail ? detail : "");
	*err = xmalloc((size_t)n + 1);
	snprintf(*err, (size_t)n + 1, fmt, path, detail ? detail : "");
	return -1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read an existing secret file: 32 raw octets, or 64 hex digits with an
 * optional final newline; mode without group or other bits. */
static int
secret_read(int fd, const char *path, uint8_t secret[VERIFY_SECRET_LEN],
    char **err)
{
	uint8_t buf[VERIFY_SECRET_LEN * 2 + 2];
	struct stat st;
	size_t n = 0;
	int i;

	if (fstat(fd, &st) != 0)
		return fail(err, "secret file %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, "secret file %s is not a regular file%s",
		    path, NULL);
	if ((st.st_mode & 077) != 0)
		return fail(err, "secret file %s is accessible by group or "
		    "others: chmod 600 it%s", path, NULL);
	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail(err, "secret file %s: %s", path,
			    strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == VERIFY_SECRET_LEN) {
		memcpy(secret, buf, VERIFY_SECRET_LEN);
		OPENSSL_cleanse(buf, sizeof(buf));
		return 0;
	}
	if (n == 2 * VERIFY_SECRET_LEN + 1 && buf[n - 1] == '\n')
		n--;
	if (n == 2 * VERIFY_SECRET_LEN) {
		for (i = 0; i < VERIFY_SECRET_LEN; i++) {
			int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

			if (hi < 0 || lo < 0)
				break;
			secret[i] = (uint8_t)(hi << 4 | lo);
		}
		OPENSSL_cleanse(buf, sizeof(buf));
		if (i == VERIFY_SECRET_LEN)
			return 0;
		OPENSSL_cleanse(secret, VERIFY_SECRET_LEN);
		return fail(err, "secret file %s: 64 characters but not hex%s",
		    path, NULL);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return fail(err, "secret file %s must hold exactly 32 octets or 64 "
	    "hex digits%s", path, NULL);
}

/* Create the secret file with O_EXCL: 0 created, 1 it already exists,
 * -1 error. */
static int
secret_create(const char *path, uint8_t secret[VERIFY_SECRET_LEN],
    char **err)
{
	char dir[PATH_MAX], *slash;
	size_t off = 0;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 && errno == EEXIST)
		return 1;
	if (fd < 0 && errno == ENOENT &&
	    util_strlcpy(dir, path, sizeof(dir)) < sizeof(dir) &&
	    (slash = strrchr(dir, '/')) != NULL && slash != dir) {
		/* a missing parent directory (var/) is made, one level */
		*slash = '\0';
		if (mkdir(dir, 0700) == 0 || errno == EEXIST)
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return fail(err, "cannot create secret file %s: %s", path,
		    strerror(errno));
	if (RAND_bytes(secret, VERIFY_SECRET_LEN) != 1) {
		close(fd);
		unlink(path);
		return fail(err, "cannot create secret file %s: %s", path,
		    "no random octets from OpenSSL");
	}
	while (off < VERIFY_SECRET_LEN) {
		ssize_t w = write(fd, secret + off, VERIFY_SECRET_LEN - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;

			close(fd);
			unlink(path);
			return fail(err, "cannot write secret file %s: %s",
			    path, strerror(e));
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		int e = errno;

		close(fd);
		unlink(path);
		return fail(err, "cannot sync secret file %s: %s", path,
		    strerror(e));
	}
	close(fd);
	/* make the new directory entry durable too (best effort) */
	util_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL)
		util_strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/*
 * Load the 32-octet server secret from path, creating the file (mode 0600,
 * 32 octets from RAND_bytes, fsync'd; a missing parent directory is made
 * with 0700) when it does not exist.  An existing file must hold exactly
 * 32 octets or 64 hex digits and give no access to group or others.
 * Returns 0, or -1 with *err a malloc'd message naming the file.
 */
int
verify_secret_load(const char *path, uint8_t secret[VERIFY_SECRET_LEN],
    char **err)
{
	int attempt, fd, rc;

	for (attempt = 0; attempt < 2; attempt++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			rc = secret_read(fd, path, secret, err);
			close(fd);
			return rc;
		}
		if (errno != ENOENT)
			return fail(err, "cannot open secret file %s: %s",
			    path, strerror(errno));
		rc = secret_create(path, secret, err);
		if (rc <= 0)
			return rc;
		/* created by someone else meanwhile: read theirs */
	}
	return fail(err, "cannot create secret file %s%s", path, NULL);
}

/*
 * len (4..12) uniformly random digits into out (len + 1 octets), by
 * rejection sampling over one buffer of random octets.  Returns 0, or -1
 * for a bad len or when the CSPRNG fails.
 */
int
verify_code_new(char *out, int len)
{
	uint8_t buf[16];
	size_t pos = sizeof(buf);
	int n = 0, refills = 0;

	if (out == NULL || len < VERIFY_CODE_MIN || len > VERIFY_CODE_MAX)
		return -1;
	while (n < len) {
		if (pos == sizeof(buf)) {
			/* each octet is kept with p = 250/256: 32 refills
			 * failing is not a thing that happens */
			if (++refills > 32 ||
			    random_octets(buf, sizeof(buf)) != 0) {
				OPENSSL_cleanse(buf, sizeof(buf));
				return -1;
			}
			pos = 0;
		}
		if (buf[pos] < 250)
			out[n++] = (char)('0' + buf[pos] % 10);
		pos++;
	}
	out[n] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

/* 1 when s is 4..12 ASCII digits. */
int
verify_code_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	return n >= VERIFY_CODE_MIN && n <= VERIFY_CODE_MAX &&
	    strspn(s, "0123456789") == n;
}

/* "ver_" + 24 lower-case hex digits from the CSPRNG into out (32 octets).
 * Aborts when the CSPRNG fails: ids must not repeat. */
void
verify_id_new(char *out)
{
	static uint16_t counter;
	uint8_t r[12];
	uint32_t t = (uint32_t)util_now();

	/* Four octets of time and a two-octet counter first, so new records
	 * land in creation order at the end of the B-tree (a commit dirties
	 * few pages, and checks, which follow sends, touch neighbours); six
	 * random octets after them keep ids unguessable.  Ids name records;
	 * they grant nothing without the key that created them. */
	if (random_octets(r + 6, sizeof(r) - 6) != 0) {
		fprintf(stderr, "smsverifyd: RAND_bytes failed\n");
		abort();
	}
	counter++;
	r[0] = t >> 24;
	r[1] = t >> 16;
	r[2] = t >> 8;
	r[3] = t;
	r[4] = counter >> 8;
	r[5] = counter;
	memcpy(out, "ver_", 4);
	util_hex(r, sizeof(r), out + 4);
}

/*
 * OpenSSL 3 looks algorithms up by name on every one-shot call (HMAC(),
 * EVP_aes_256_gcm() in an init): a microsecond or two each, on every send
 * and check.  The keyed HMAC context, the derived sealing key and the
 * fetched cipher are kept here for the last secret seen (the daemon has
 * one; tests may use several, so a different secret rebuilds them).  The
 * two AES-GCM contexts hold the expanded sealing key; each seal or unseal
 * only sets a new nonce on them.
 */
static struct {
	int ready;
	uint8_t secret[VERIFY_SECRET_LEN];
	EVP_MAC_CTX *mac;               /* HMAC-SHA256 keyed with secret */
	uint8_t seal_key[32];
	EVP_CIPHER *gcm;
	EVP_CIPHER_CTX *enc, *dec;      /* keyed with seal_key */
} kc;

static void
keyed(const uint8_t secret[VERIFY_SECRET_LEN])
{
	EVP_MAC *mac;
	OSSL_PARAM params[2];
	size_t len;

	if (kc.ready && CRYPTO_memcmp(kc.secret, secret, VERIFY_SECRET_LEN) ==
	    0)
		return;
	EVP_MAC_CTX_free(kc.mac);
	EVP_CIPHER_CTX_free(kc.enc);
	EVP_CIPHER_CTX_free(kc.dec);
	kc.enc = EVP_CIPHER_CTX_new();
	kc.dec = EVP_CIPHER_CTX_new();
	if (kc.gcm == NULL)
		kc.gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	kc.mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (kc.gcm == NULL || kc.mac == NULL ||
	    EVP_MAC_init(kc.mac, secret, VERIFY_SECRET_LEN, params) != 1 ||
	    EVP_MAC_update(kc.mac, (const uint8_t *)SEAL_INFO,
	    strlen(SEAL_INFO)) != 1 ||
	    EVP_MAC_final(kc.mac, kc.seal_key, &len, sizeof(kc.seal_key)) != 1 ||
	    kc.enc == NULL || kc.dec == NULL ||
	    EVP_EncryptInit_ex(kc.enc, kc.gcm, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(kc.enc, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE,
	    NULL) != 1 ||
	    EVP_EncryptInit_ex(kc.enc, NULL, NULL, kc.seal_key, NULL) != 1 ||
	    EVP_DecryptInit_ex(kc.dec, kc.gcm, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(kc.dec, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE,
	    NULL) != 1 ||
	    EVP_DecryptInit_ex(kc.dec, NULL, NULL, kc.seal_key, NULL) != 1) {
		fprintf(stderr, "smsverifyd: OpenSSL HMAC/AES-GCM unusable\n");
		abort();
	}
	memcpy(kc.secret, secret, VERIFY_SECRET_LEN);
	kc.ready = 1;
}

/* HMAC-SHA256 under the secret of the pieces, in order. */
static void
keyed_hmac(const uint8_t secret[VERIFY_SECRET_LEN], const void *a, size_t al,
    const void *b, size_t bl, const void *c, size_t cl, uint8_t out[32])
{
	size_t len;

	keyed(secret);
	if (EVP_MAC_init(kc.mac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(kc.mac, a, al) != 1 ||
	    EVP_MAC_update(kc.mac, b, bl) != 1 ||
	    EVP_MAC_update(kc.mac, c, cl) != 1 ||
	    EVP_MAC_final(kc.mac, out, &len, 32) != 1) {
		fprintf(stderr, "smsverifyd: HMAC-SHA256 failed\n");
		abort();
	}
}

/* HMAC-SHA256(secret, id ":" code) into out. */
void
verify_code_hmac(const uint8_t secret[VERIFY_SECRET_LEN], const char *id,
    const char *code, uint8_t out[32])
{
	keyed_hmac(secret, id, strlen(id), ":", 1, code, strlen(code), out);
}

/*
 * Check code against v at time now.  The HMAC is computed and compared
 * first, whatever v's state.  Then:
 *   not pending  -> EXPIRED, CANCELED, USED (approved before), LOCKED
 *                   (max attempts) or FAILED; v unchanged
 *   now >= expiry -> v becomes VERIF_EXPIRED; EXPIRED
 *   right code   -> v becomes VERIF_APPROVED, its sealed text freed; APPROVED
 *   wrong code   -> v->checks + 1; at max_checks v becomes
 *                   VERIF_MAX_ATTEMPTS and LOCKED, else WRONG
 * updated_at is set to now whenever v changes.
 */
enum verify_result
verify_check(struct verif *v, const uint8_t secret[VERIFY_SECRET_LEN],
    const char *code, int64_t now)
{
	uint8_t mac[32];
	int match;

	verify_code_hmac(secret, v->id, code != NULL ? code : "", mac);
	match = CRYPTO_memcmp(mac, v->code_hmac, sizeof(mac)) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));

	switch (v->status) {
	case VERIF_PENDING:
		break;
	case VERIF_APPROVED:
		return VERIFY_USED;
	case VERIF_EXPIRED:
		return VERIFY_EXPIRED;
	case VERIF_CANCELED:
		return VERIFY_CANCELED;
	case VERIF_MAX_ATTEMPTS:
		return VERIFY_LOCKED;
	case VERIF_FAILED:
	default:
		return VERIFY_FAILED;
	}
	if (now >= v->expires_at) {
		verif_enter(v, VERIF_EXPIRED, "expired", now);
		return VERIFY_EXPIRED;
	}
	if (match) {
		verif_enter(v, VERIF_APPROVED, "code_matched", now);
		return VERIFY_APPROVED;
	}
	v->checks++;
	v->updated_at = now;
	if (v->checks >= v->max_checks) {
		verif_enter(v, VERIF_MAX_ATTEMPTS, "max_attempts", now);
		return VERIFY_LOCKED;
	}
	return VERIFY_WRONG;
}

/* Wrong codes still accepted before the lock (0 when locked). */
int
verify_attempts_left(const struct verif *v)
{
	int left = v->max_checks - v->checks;

	if (v->status == VERIF_MAX_ATTEMPTS || left < 0)
		return 0;
	return left;
}

/*
 * AES-256-GCM of text with id as associated data, as base64 (no newlines)
 * of nonce (12) | ciphertext | tag (16), malloc'd.  NULL on failure.
 */
char *
verify_seal(const uint8_t secret[VERIFY_SECRET_LEN], const char *id,
    const char *text)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t *raw;
	size_t tl = strlen(text), rawlen = SEAL_NONCE + tl + SEAL_TAG;
	char *out = NULL;
	int n;

	if (tl > INT_MAX / 2)
		return NULL;
	keyed(secret);
	ctx = kc.enc;
	raw = xmalloc(rawlen);
	if (random_octets(raw, SEAL_NONCE) == 0 &&
	    EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, raw) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)id,
	    (int)strlen(id)) == 1 &&
	    EVP_EncryptUpdate(ctx, raw + SEAL_NONCE, &n, (const uint8_t *)text,
	    (int)tl) == 1 &&
	    EVP_EncryptFinal_ex(ctx, raw + SEAL_NONCE + n, &n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG,
	    raw + SEAL_NONCE + tl) == 1) {
		out = xmalloc(4 * ((rawlen + 2) / 3) + 1);
		EVP_EncodeBlock((unsigned char *)out, raw, (int)rawlen);
	}
	OPENSSL_cleanse(raw, rawlen);
	free(raw);
	return out;
}

/*
 * Open a text sealed by verify_seal() for the same id under the same
 * secret: malloc'd NUL-terminated text, or NULL when it is malformed, was
 * sealed for another id, or was altered.
 */
char *
verify_unseal(const uint8_t secret[VERIFY_SECRET_LEN], const char *id,
    const char *sealed)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t *raw = NULL;
	size_t sl, pad = 0;
	int rawlen, ctlen, n, ok = 0;
	char *out = NULL;

	if (sealed == NULL || id == NULL)
		return NULL;
	sl = strlen(sealed);
	if (sl == 0 || sl % 4 != 0 || sl > INT_MAX / 2)
		return NULL;
	if (sealed[sl - 1] == '=')
		pad++;
	if (sealed[sl - 2] == '=')
		pad++;
	raw = xmalloc(sl / 4 * 3 + 1);
	rawlen = EVP_DecodeBlock(raw, (const uint8_t *)sealed, (int)sl);
	if (rawlen < 0 || (size_t)rawlen < pad) {
		free(raw);
		return NULL;
	}
	rawlen -= (int)pad;
	if (rawlen < SEAL_NONCE + SEAL_TAG) {
		free(raw);
		return NULL;
	}
	ctlen = rawlen - SEAL_NONCE - SEAL_TAG;
	keyed(secret);
	ctx = kc.dec;
	out = xmalloc((size_t)ctlen + 1);
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, raw) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)id,
	    (int)strlen(id)) != 1 ||
	    EVP_DecryptUpdate(ctx, (uint8_t *)out, &n, raw + SEAL_NONCE,
	    ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG,
	    raw + SEAL_NONCE + ctlen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (uint8_t *)out + n, &n) != 1)
		goto done;
	out[ctlen] = '\0';
	ok = 1;
done:
	if (!ok) {
		OPENSSL_cleanse(out, (size_t)ctlen + 1);
		free(out);
		out = NULL;
	}
	free(raw);
	return out;
}
