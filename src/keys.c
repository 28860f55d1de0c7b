/*
 * keys.c - the key table (keys.h): token digests and lookups.
 *
 * A request's token is hashed once and compared with every key's digest
 * in constant time, so neither the time nor the answer tells how much of a
 * token was right.  The digests are computed when a configuration comes
 * in (start, reload), not per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "conf.h"
#include "keys.h"
#include "util.h"

struct keys {
	const struct conf *conf;
	uint8_t (*hash)[SHA256_DIGEST_LENGTH];  /* one per conf->keys */
};

/* SHA-256 of a token.  OpenSSL 3's one-shot SHA256() fetches the
 * algorithm by name on every call (a microsecond, on every request): the
 * fetched digest and a context are kept instead.  Loop thread only. */
static void
token_digest(const char *token, uint8_t out[SHA256_DIGEST_LENGTH])
{
	static EVP_MD *md;
	static EVP_MD_CTX *ctx;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (ctx == NULL)
		ctx = EVP_MD_CTX_new();
	if (md == NULL || ctx == NULL ||
	    EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, token, strlen(token)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1) {
		fprintf(stderr, "smsverifyd: SHA-256 failed\n");
		abort();
	}
}

struct keys *
keys_new(const struct conf *conf)
{
	struct keys *k = xcalloc(1, sizeof(*k));

	keys_set(k, conf);
	return k;
}

void
keys_set(struct keys *k, const struct conf *conf)
{
	free(k->hash);
	k->conf = conf;
	k->hash = xcalloc(conf->nkey ? (size_t)conf->nkey : 1,
	    sizeof(*k->hash));
	for (int i = 0; i < conf->nkey; i++)
		token_digest(conf->keys[i].token, k->hash[i]);
}

void
keys_free(struct keys *k)
{
	if (k == NULL)
		return;
	free(k->hash);
	free(k);
}

int
keys_by_token(const struct keys *k, const char *token)
{
	uint8_t want[SHA256_DIGEST_LENGTH];
	int found = -1;

	if (token == NULL)
		return -1;
	/* Compare digests so the time does not depend on where the tokens
	 * differ, and visit every key whatever matches. */
	token_digest(token, want);
	for (int i = 0; i < k->conf->nkey; i++)
		if (CRYPTO_memcmp(want, k->hash[i], sizeof(want)) == 0)
			found = i;
	return found;
}

int
keys_by_name(const struct keys *k, const char *name)
{
	for (int i = 0; i < k->conf->nkey; i++)
		if (strcmp(k->conf->keys[i].name, name) == 0)
			return i;
	return -1;
}

const struct conf_key *
keys_get(const struct keys *k, int i)
{
	if (i < 0 || i >= k->conf->nkey)
		return NULL;
	return &k->conf->keys[i];
}

int
keys_role(const struct keys *k, int i)
{
	const struct conf_key *ck = keys_get(k, i);

	return ck != NULL ? ck->role : CONF_ROLE_CLIENT;
}

const char *
keys_name(const struct keys *k, int i)
{
	const struct conf_key *ck = keys_get(k, i);

	return ck != NULL ? ck->name : "";
}

const char *
keys_country(const struct keys *k, int i)
{
	return conf_key_country(k->conf, i);
}
