/*
 * verify.h - codes and their rules, with no I/O: generation from OpenSSL's
 * CSPRNG without modulo bias, HMAC-SHA256 under the server secret,
 * constant-time comparison, check outcomes, and AES-256-GCM sealing of a
 * message text until an SMSC accepts it.
 */
#ifndef VERIFY_H
#define VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define VERIFY_SECRET_LEN 32
#define VERIFY_CODE_MIN 4
#define VERIFY_CODE_MAX 12

/* Load the server secret from path, creating it (0600, 32 random octets)
 * when missing.  Returns 0, or -1 with *err malloc'd. */
int verify_secret_load(const char *path, uint8_t secret[VERIFY_SECRET_LEN],
    char **err);

/* len random digits (4..12) into out (len + 1 octets).  0 or -1. */
int verify_code_new(char *out, int len);
/* 1 when s is 4..12 ASCII digits. */
int verify_code_valid(const char *s);
/* A new verification id into out (32 octets): "ver_" + 24 hex: the
 * creation time, a counter (so ids sort by creation), then 48 random bits. */
void verify_id_new(char *out);

/* HMAC-SHA256(secret, id ":" code) into out. */
void verify_code_hmac(const uint8_t secret[VERIFY_SECRET_LEN],
    const char *id, const char *code, uint8_t out[32]);

enum verify_result {
	VERIFY_APPROVED = 0,      /* right code: now approved */
	VERIFY_WRONG,             /* wrong code, attempts left */
	VERIFY_LOCKED,            /* wrong code and now (or already) locked */
	VERIFY_EXPIRED,
	VERIFY_CANCELED,
	VERIFY_USED,              /* approved before: a code is valid once */
	VERIFY_FAILED,            /* never sent */
};
/* Check code against v at time now and update v (status, checks).  Always
 * computes the HMAC and compares in constant time (CRYPTO_memcmp),
 * whatever the state, so every outcome costs the same. */
enum verify_result verify_check(struct verif *v,
    const uint8_t secret[VERIFY_SECRET_LEN], const char *code, int64_t now);
/* Attempts left before the lock. */
int verify_attempts_left(const struct verif *);

/* Seal text for id (AES-256-GCM, key derived from the secret, id as AAD)
 * into a malloc'd base64 string.  NULL on failure. */
char *verify_seal(const uint8_t secret[VERIFY_SECRET_LEN], const char *id,
    const char *text);
/* Open a sealed text; malloc'd NUL-terminated text or NULL when it does not
 * authenticate. */
char *verify_unseal(const uint8_t secret[VERIFY_SECRET_LEN], const char *id,
    const char *sealed);

#endif
