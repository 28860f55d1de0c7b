/*
 * check_verify.c - verify.c, verif_state.c and template.c: code
 * generation (length, digits, distribution), the HMAC, the outcomes of
 * verify_check() in every state, verif_enter()'s moves (pending -> each
 * final state; a final state refuses everything and keeps v), sealing, the
 * server secret file, and the built-in templates.
 *
 * Time is fixed with util_clock_set(); nothing sleeps.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "smpp.h"
#include "template.h"
#include "util.h"
#include "verif_state.h"
#include "verify.h"

#define T0 1795000000	/* a fixed "now" */

static const uint8_t secret[VERIFY_SECRET_LEN] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

/* A pending verification of code "123456" created at T0. */
static void
make_verif(struct verif *v)
{
	memset(v, 0, sizeof(*v));
	strcpy(v->id, "ver_0123456789abcdef01234567");
	v->status = VERIF_PENDING;
	v->max_checks = 5;
	v->created_at = v->updated_at = T0;
	v->expires_at = T0 + 600;
	verify_code_hmac(secret, v->id, "123456", v->code_hmac);
	v->sealed = verify_seal(secret, v->id, "Your code is 123456");
	ck_assert_ptr_nonnull(v->sealed);
}

static void
clear_verif(struct verif *v)
{
	free(v->sealed);
	free(v->metadata);
	memset(v, 0, sizeof(*v));
}

/* --- codes ---------------------------------------------------------- */

START_TEST(code_lengths)
{
	char code[VERIFY_CODE_MAX + 1];
	int len, i;

	for (len = VERIFY_CODE_MIN; len <= VERIFY_CODE_MAX; len++) {
		for (i = 0; i < 50; i++) {
			memset(code, 'x', sizeof(code));
			ck_assert_int_eq(verify_code_new(code, len), 0);
			ck_assert_uint_eq(strlen(code), (size_t)len);
			ck_assert_uint_eq(strspn(code, "0123456789"),
			    (size_t)len);
			ck_assert(verify_code_valid(code));
		}
	}
	ck_assert_int_eq(verify_code_new(code, 3), -1);
	ck_assert_int_eq(verify_code_new(code, 13), -1);
}
END_TEST

START_TEST(code_valid)
{
	ck_assert(verify_code_valid("0000"));
	ck_assert(verify_code_valid("123456789012"));
	ck_assert(!verify_code_valid("123"));
	ck_assert(!verify_code_valid("1234567890123"));
	ck_assert(!verify_code_valid("12a4"));
	ck_assert(!verify_code_valid(" 1234"));
	ck_assert(!verify_code_valid(""));
	ck_assert(!verify_code_valid(NULL));
}
END_TEST

/* 100000 digits; chi-square with 9 degrees of freedom.  The bound 60.7
 * is exceeded by chance with p = 1e-9: this never flakes, but a biased or
 * stuck generator (one digit missing, or half the digits) fails. */
START_TEST(code_distribution)
{
	long count[10] = { 0 };
	char code[VERIFY_CODE_MAX + 1];
	double chi = 0, expect;
	int i, j, total = 0;

	for (i = 0; i < 100000 / 10; i++) {
		ck_assert_int_eq(verify_code_new(code, 10), 0);
		for (j = 0; j < 10; j++)
			count[code[j] - '0']++;
		total += 10;
	}
	expect = total / 10.0;
	for (i = 0; i < 10; i++)
		chi += (count[i] - expect) * (count[i] - expect) / expect;
	ck_assert_msg(chi < 60.7, "chi-square %.1f: counts %ld %ld %ld %ld %ld "
	    "%ld %ld %ld %ld %ld", chi, count[0], count[1], count[2], count[3],
	    count[4], count[5], count[6], count[7], count[8], count[9]);
}
END_TEST

START_TEST(ids)
{
	char a[32], b[32];

	verify_id_new(a);
	verify_id_new(b);
	ck_assert_uint_eq(strlen(a), 28);
	ck_assert(strncmp(a, "ver_", 4) == 0);
	ck_assert_uint_eq(strspn(a + 4, "0123456789abcdef"), 24);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(hmac_binds_id_and_code)
{
	uint8_t h1[32], h2[32], h3[32], h4[32];
	uint8_t other[VERIFY_SECRET_LEN];

	verify_code_hmac(secret, "ver_a", "123456", h1);
	verify_code_hmac(secret, "ver_a", "123456", h2);
	ck_assert(memcmp(h1, h2, 32) == 0);
	verify_code_hmac(secret, "ver_b", "123456", h2);
	ck_assert(memcmp(h1, h2, 32) != 0);
	verify_code_hmac(secret, "ver_a", "123457", h3);
	ck_assert(memcmp(h1, h3, 32) != 0);
	/* the ':' separates: "ver_a1" + "23456" is another message */
	verify_code_hmac(secret, "ver_a1", "23456", h4);
	ck_assert(memcmp(h1, h4, 32) != 0);
	memcpy(other, secret, sizeof(other));
	other[0] ^= 1;
	verify_code_hmac(other, "ver_a", "123456", h4);
	ck_assert(memcmp(h1, h4, 32) != 0);
}
END_TEST

/* --- verify_check ----------------------------------------------------- */

START_TEST(right_code_approves_once)
{
	struct verif v;

	make_verif(&v);
	ck_assert_int_eq(verify_attempts_left(&v), 5);
	ck_assert_int_eq(verify_check(&v, secret, "123456", T0 + 10),
	    VERIFY_APPROVED);
	ck_assert_int_eq(v.status, VERIF_APPROVED);
	ck_assert_ptr_null(v.sealed);
	ck_assert_int_eq(v.updated_at, T0 + 10);
	/* a code is valid once */
	ck_assert_int_eq(verify_check(&v, secret, "123456", T0 + 20),
	    VERIFY_USED);
	ck_assert_int_eq(v.status, VERIF_APPROVED);
	ck_assert_int_eq(v.updated_at, T0 + 10);
	clear_verif(&v);
}
END_TEST

START_TEST(wrong_codes_lock)
{
	struct verif v;
	int left;

	make_verif(&v);
	for (left = 4; left >= 1; left--) {
		ck_assert_int_eq(verify_check(&v, secret, "654321", T0 + 1),
		    VERIFY_WRONG);
		ck_assert_int_eq(verify_attempts_left(&v), left);
		ck_assert_int_eq(v.status, VERIF_PENDING);
	}
	ck_assert_int_eq(verify_check(&v, secret, "654321", T0 + 2),
	    VERIFY_LOCKED);
	ck_assert_int_eq(verify_attempts_left(&v), 0);
	ck_assert_int_eq(v.status, VERIF_MAX_ATTEMPTS);
	ck_assert_int_eq(v.checks, 5);
	/* locked: even the right code is refused, and nothing changes */
	ck_assert_int_eq(verify_check(&v, secret, "123456", T0 + 3),
	    VERIFY_LOCKED);
	ck_assert_int_eq(v.checks, 5);
	ck_assert_int_eq(v.status, VERIF_MAX_ATTEMPTS);
	clear_verif(&v);
}
END_TEST

START_TEST(expired_by_time)
{
	struct verif v;

	util_clock_set(T0);
	make_verif(&v);
	util_clock_set(T0 + 599);
	ck_assert_int_eq(verify_check(&v, secret, "000000", util_now()),
	    VERIFY_WRONG);
	util_clock_set(T0 + 600);
	ck_assert_int_eq(verify_check(&v, secret, "123456", util_now()),
	    VERIFY_EXPIRED);
	ck_assert_int_eq(v.status, VERIF_EXPIRED);
	ck_assert_int_eq(v.updated_at, T0 + 600);
	ck_assert_int_eq(verify_check(&v, secret, "123456", util_now()),
	    VERIFY_EXPIRED);
	util_clock_set(0);
	ck_assert_int_ne(util_now(), T0 + 600);
	clear_verif(&v);
}
END_TEST

START_TEST(other_states)
{
	struct verif v;

	make_verif(&v);
	v.status = VERIF_CANCELED;
	ck_assert_int_eq(verify_check(&v, secret, "123456", T0 + 1),
	    VERIFY_CANCELED);
	ck_assert_int_eq(v.status, VERIF_CANCELED);
	ck_assert_int_eq(v.checks, 0);
	v.status = VERIF_FAILED;
	ck_assert_int_eq(verify_check(&v, secret, "123456", T0 + 1),
	    VERIFY_FAILED);
	v.status = VERIF_PENDING;
	ck_assert_int_eq(verify_check(&v, secret, NULL, T0 + 1),
	    VERIFY_WRONG);
	ck_assert_int_eq(verify_check(&v, secret, "", T0 + 1), VERIFY_WRONG);
	ck_assert_int_eq(verify_attempts_left(&v), 3);
	clear_verif(&v);
}
END_TEST

/* --- sealing ------------------------------------------------------------ */

START_TEST(seal_round_trip)
{
	const char *id = "ver_aaaaaaaaaaaaaaaaaaaaaaaa";
	const char *text = "Ihr Bestätigungscode lautet 123456.";
	char *s1, *s2, *open;

	s1 = verify_seal(secret, id, text);
	s2 = verify_seal(secret, id, text);
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_nonnull(s2);
	ck_assert_ptr_null(strchr(s1, '\n'));
	ck_assert(strstr(s1, "123456") == NULL);
	ck_assert_str_ne(s1, s2);	/* fresh nonce each time */
	open = verify_unseal(secret, id, s1);
	ck_assert_ptr_nonnull(open);
	ck_assert_str_eq(open, text);
	free(open);
	open = verify_unseal(secret, id, s2);
	ck_assert_str_eq(open, text);
	free(open);
	free(s1);
	free(s2);

	s1 = verify_seal(secret, id, "");
	open = verify_unseal(secret, id, s1);
	ck_assert_str_eq(open, "");
	free(open);
	free(s1);
}
END_TEST

START_TEST(seal_refuses_tampering)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789+/";
	const char *id = "ver_aaaaaaaaaaaaaaaaaaaaaaaa";
	uint8_t other[VERIFY_SECRET_LEN];
	char *s = verify_seal(secret, id, "Your code is 123456"), *t;
	size_t i, n = strlen(s);

	ck_assert_ptr_null(verify_unseal(secret,
	    "ver_bbbbbbbbbbbbbbbbbbbbbbbb", s));
	memcpy(other, secret, sizeof(other));
	other[31] ^= 0x80;
	ck_assert_ptr_null(verify_unseal(other, id, s));
	/* flip the high bit of each base64 digit in turn (nonce,
	 * ciphertext, tag): every change is refused */
	t = xstrdup(s);
	for (i = 0; i < n && s[i] != '='; i++) {
		char saved = t[i];

		t[i] = b64[(strchr(b64, saved) - b64) ^ 0x20];
		ck_assert_msg(verify_unseal(secret, id, t) == NULL,
		    "altered character %zu accepted", i);
		t[i] = saved;
	}
	free(t);
	ck_assert_ptr_null(verify_unseal(secret, id, ""));
	ck_assert_ptr_null(verify_unseal(secret, id, "AAAA"));
	ck_assert_ptr_null(verify_unseal(secret, id, "not base64!!"));
	ck_assert_ptr_null(verify_unseal(secret, id, NULL));
	s[n - 4] = '\0';	/* truncated */
	ck_assert_ptr_null(verify_unseal(secret, id, s));
	free(s);
}
END_TEST

/* --- the secret file ------------------------------------------------ */

static char tmpdir[256];

static void
tmp_setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_verify.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(secret_created_and_reloaded)
{
	char path[300], *err = NULL;
	uint8_t s1[VERIFY_SECRET_LEN], s2[VERIFY_SECRET_LEN];
	uint8_t zero[VERIFY_SECRET_LEN] = { 0 };
	struct stat st;

	/* in a directory that does not exist yet, like var/ */
	snprintf(path, sizeof(path), "%s/var/secret", tmpdir);
	ck_assert_msg(verify_secret_load(path, s1, &err) == 0, "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_size, VERIFY_SECRET_LEN);
	ck_assert(memcmp(s1, zero, sizeof(zero)) != 0);
	ck_assert_int_eq(verify_secret_load(path, s2, &err), 0);
	ck_assert(memcmp(s1, s2, sizeof(s1)) == 0);
}
END_TEST

START_TEST(secret_hex_accepted)
{
	char path[300], *err = NULL;
	uint8_t s[VERIFY_SECRET_LEN];
	const char *hex = "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191A1B1C1D1E1F\n";
	int i;

	snprintf(path, sizeof(path), "%s/hex", tmpdir);
	write_file(path, hex, strlen(hex), 0600);
	ck_assert_msg(verify_secret_load(path, s, &err) == 0, "%s", err);
	for (i = 0; i < VERIFY_SECRET_LEN; i++)
		ck_assert_int_eq(s[i], i);
}
END_TEST

START_TEST(secret_refused)
{
	char path[300], *err = NULL;
	uint8_t s[VERIFY_SECRET_LEN];

	snprintf(path, sizeof(path), "%s/open", tmpdir);
	write_file(path, secret, sizeof(secret), 0644);
	ck_assert_int_eq(verify_secret_load(path, s, &err), -1);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "group or others") != NULL, "%s", err);
	free(err);
	err = NULL;

	snprintf(path, sizeof(path), "%s/short", tmpdir);
	write_file(path, secret, 31, 0600);
	ck_assert_int_eq(verify_secret_load(path, s, &err), -1);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	free(err);
	err = NULL;

	snprintf(path, sizeof(path), "%s/long", tmpdir);
	write_file(path, "0123456789012345678901234567890123", 34, 0600);
	ck_assert_int_eq(verify_secret_load(path, s, &err), -1);
	free(err);
	err = NULL;

	snprintf(path, sizeof(path), "%s/nothex", tmpdir);
	write_file(path, "zz01020304050607080900010203040506070809000102030405"
	    "060708090001", 64, 0600);
	ck_assert_int_eq(verify_secret_load(path, s, &err), -1);
	free(err);
	err = NULL;

	snprintf(path, sizeof(path), "%s/nodir/deeper/secret", tmpdir);
	ck_assert_int_eq(verify_secret_load(path, s, &err), -1);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	free(err);
}
END_TEST

/* --- templates ---------------------------------------------------------- */

/* UTF-8 characters in s before the first needle. */
static int
chars_before(const char *s, const char *needle)
{
	const char *end = strstr(s, needle);
	int n = 0;

	ck_assert_ptr_nonnull(end);
	for (; s < end; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

START_TEST(builtin_templates)
{
	static const char *const langs[] = { "de", "en", "es", "fr", "it",
	    "pt", "ru" };
	size_t i;

	for (i = 0; i < sizeof(langs) / sizeof(langs[0]); i++) {
		const char *t = template_builtin(langs[i]);
		char *out;

		ck_assert_msg(t != NULL, "no template for %s", langs[i]);
		ck_assert(template_lang_valid(langs[i]));
		ck_assert(template_has_code(t));
		out = template_render(t, "987654", 10);
		ck_assert_ptr_nonnull(out);
		ck_assert_msg(strstr(out, "987654") != NULL, "%s", out);
		ck_assert_msg(strstr(out, "10") != NULL, "%s", out);
		ck_assert_msg(strchr(out, '{') == NULL, "%s", out);
		/* the code comes early: within the first 32 characters */
		ck_assert_msg(chars_before(out, "987654") < 32, "%s", out);
		free(out);
		/* the longest case fits one SMS part */
		out = template_render(t, "123456789012", 60);
		ck_assert_msg(smpp_text_parts(out, 0) == 1,
		    "%s needs %d parts: %s", langs[i],
		    smpp_text_parts(out, 0), out);
		free(out);
	}
	ck_assert_ptr_null(template_builtin("nl"));
	ck_assert_ptr_null(template_builtin(""));
	ck_assert_ptr_null(template_builtin(NULL));
	ck_assert(!template_lang_valid("EN"));
}
END_TEST

START_TEST(custom_templates)
{
	char *out;

	ck_assert(!template_has_code("no placeholder {minutes}"));
	ck_assert_ptr_null(template_render("no placeholder {minutes}",
	    "1234", 5));
	ck_assert_ptr_null(template_render(NULL, "1234", 5));
	ck_assert(!template_has_code("{Code} {code"));

	out = template_render("Code: ##code##", "1234", 5);
	ck_assert_str_eq(out, "Code: 1234");
	free(out);

	out = template_render("{code} {code} ##code## in {minutes} min "
	    "{minutes}", "4321", 15);
	ck_assert_str_eq(out, "4321 4321 4321 in 15 min 15");
	free(out);

	/* substituted text is not searched again */
	out = template_render("{code}", "{minutes}", 3);
	ck_assert_str_eq(out, "{minutes}");
	free(out);

	out = template_render("{cod{code}e}", "1", 3);
	ck_assert_str_eq(out, "{cod1e}");
	free(out);
}
END_TEST


/* --- verif_state: the one state machine of a status ------------------- */

static const int finals[] = {
	VERIF_APPROVED, VERIF_EXPIRED, VERIF_CANCELED, VERIF_MAX_ATTEMPTS,
	VERIF_FAILED,
};
#define NFINAL ((int)(sizeof(finals) / sizeof(finals[0])))

START_TEST(state_can_enter)
{
	/* pending -> every final state, and nothing else */
	for (int i = 0; i < NFINAL; i++)
		ck_assert_int_eq(verif_can_enter(VERIF_PENDING, finals[i]), 1);
	ck_assert_int_eq(verif_can_enter(VERIF_PENDING, VERIF_PENDING), 0);
	ck_assert_int_eq(verif_can_enter(VERIF_PENDING, 0), 0);
	ck_assert_int_eq(verif_can_enter(VERIF_PENDING, 7), 0);
	/* never out of a final state, not even to itself or to pending */
	for (int i = 0; i < NFINAL; i++) {
		ck_assert_int_eq(verif_can_enter(finals[i], VERIF_PENDING), 0);
		for (int j = 0; j < NFINAL; j++)
			ck_assert_int_eq(verif_can_enter(finals[i],
			    finals[j]), 0);
	}
	ck_assert_int_eq(verif_can_enter(0, VERIF_APPROVED), 0);
}
END_TEST

/* pending -> finals[_i]: the status, the time, the sealed text erased; the
 * send state and the reason only for FAILED. */
START_TEST(state_enter_final)
{
	struct verif v;
	int to = finals[_i];

	make_verif(&v);
	v.send_state = SEND_QUEUED;
	ck_assert_ptr_nonnull(v.sealed);
	ck_assert_int_eq(verif_enter(&v, to, "because", T0 + 42), 0);
	ck_assert_int_eq(v.status, to);
	ck_assert_int_eq(v.updated_at, T0 + 42);
	ck_assert_int_eq(v.created_at, T0);
	ck_assert_ptr_null(v.sealed);
	if (to == VERIF_FAILED) {
		ck_assert_int_eq(v.send_state, SEND_FAILED);
		ck_assert_str_eq(v.fail_reason, "because");
	} else {
		ck_assert_int_eq(v.send_state, SEND_QUEUED);
		ck_assert_str_eq(v.fail_reason, "");
	}
	clear_verif(&v);
}
END_TEST

/* A final state refuses every move and leaves v as it was, sealed text
 * and all. */
START_TEST(state_final_refuses)
{
	struct verif v, before;
	char *sealed;
	int from = finals[_i];

	make_verif(&v);
	v.status = from;
	v.send_state = SEND_SENT;
	strcpy(v.fail_reason, "old");
	sealed = v.sealed;
	memcpy(&before, &v, sizeof(v));
	for (int j = 0; j < NFINAL; j++)
		ck_assert_int_eq(verif_enter(&v, finals[j], "again", T0 + 9),
		    -1);
	ck_assert_int_eq(verif_enter(&v, VERIF_PENDING, "again", T0 + 9), -1);
	ck_assert(memcmp(&v, &before, sizeof(v)) == 0);
	ck_assert_ptr_eq(v.sealed, sealed);
	ck_assert_str_eq(v.sealed, before.sealed);
	clear_verif(&v);
}
END_TEST

/* pending -> pending (or to no state) is refused too. */
START_TEST(state_pending_stays)
{
	struct verif v, before;

	make_verif(&v);
	memcpy(&before, &v, sizeof(v));
	ck_assert_int_eq(verif_enter(&v, VERIF_PENDING, "x", T0 + 1), -1);
	ck_assert_int_eq(verif_enter(&v, 0, "x", T0 + 1), -1);
	ck_assert_int_eq(verif_enter(&v, 99, "x", T0 + 1), -1);
	ck_assert(memcmp(&v, &before, sizeof(v)) == 0);
	ck_assert_ptr_nonnull(v.sealed);
	clear_verif(&v);
}
END_TEST

/* A long reason is cut to fail_reason's size, NUL-terminated. */
START_TEST(state_failed_reason_cut)
{
	struct verif v;
	char why[200];

	make_verif(&v);
	memset(why, 'r', sizeof(why) - 1);
	why[sizeof(why) - 1] = '\0';
	ck_assert_int_eq(verif_enter(&v, VERIF_FAILED, why, T0 + 1), 0);
	ck_assert_uint_eq(strlen(v.fail_reason), sizeof(v.fail_reason) - 1);
	ck_assert(strncmp(v.fail_reason, why, sizeof(v.fail_reason) - 1) == 0);
	clear_verif(&v);
}
END_TEST

static Suite *
verify_suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc;

	tc = tcase_create("codes");
	tcase_add_test(tc, code_lengths);
	tcase_add_test(tc, code_valid);
	tcase_add_test(tc, code_distribution);
	tcase_add_test(tc, ids);
	tcase_add_test(tc, hmac_binds_id_and_code);
	suite_add_tcase(s, tc);

	tc = tcase_create("check");
	tcase_add_test(tc, right_code_approves_once);
	tcase_add_test(tc, wrong_codes_lock);
	tcase_add_test(tc, expired_by_time);
	tcase_add_test(tc, other_states);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_test(tc, state_can_enter);
	tcase_add_loop_test(tc, state_enter_final, 0, NFINAL);
	tcase_add_loop_test(tc, state_final_refuses, 0, NFINAL);
	tcase_add_test(tc, state_pending_stays);
	tcase_add_test(tc, state_failed_reason_cut);
	suite_add_tcase(s, tc);

	tc = tcase_create("seal");
	tcase_add_test(tc, seal_round_trip);
	tcase_add_test(tc, seal_refuses_tampering);
	suite_add_tcase(s, tc);

	tc = tcase_create("secret");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, secret_created_and_reloaded);
	tcase_add_test(tc, secret_hex_accepted);
	tcase_add_test(tc, secret_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("template");
	tcase_add_test(tc, builtin_templates);
	tcase_add_test(tc, custom_templates);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(verify_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
