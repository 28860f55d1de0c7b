/*
 * check_races.c - concurrent sends to one number (SPEC "Idempotency and
 * races"): any number of sends to one (key, phone) at once, from the
 * native API and the three seed APIs, leave exactly one pending
 * verification, the others canceled ("superseded"), and the handset's
 * last message carries the pending one's code; no other code it got
 * approves.
 *
 * Two SMSCs on one route (a repeat goes over the other one), both
 * simulators writing one handset log: its order is the order the
 * messages reached "the phone".  The limits are off so that every send
 * is taken.  Each round is a fresh daemon; 20 rounds of 50 sends.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

#define NSEND 50
#define ROUNDS 20

static struct harness H;

static void
setup(void)
{
	ck_assert_int_eq(h_init(&H), 0);
}

static void
teardown(void)
{
	h_fini(&H);
}

/* The four send endpoints, each with its body for phone and the status
 * of a taken send (a superseded one may say queued: it never left). */
static const struct api {
	const char *path, *fmt;
	int status;
} apis[] = {
	{ "/v1/verifications", "{\"phone\":\"%s\"}", 201 },
	{ "/v1/sms/verify/send", "{\"phone\":\"%s\"}", 200 },
	{ "/sms-verify", "{\"number\":\"%s\"}", 200 },
	{ "/verify/send", "{\"apiKey\":\"" H_TOKEN "\",\"to\":\"%s\"}",
	    200 },
};
#define NAPI (int)(sizeof(apis) / sizeof(apis[0]))

/* The ids of the verifications the daemon made (its log: each round is a
 * daemon of its own), n of them, into ids. */
static void
made_ids(char ids[][40], int n)
{
	char line[4096], *p;
	FILE *f;
	int k = 0;

	ck_assert_int_eq(h_wait_lines_n(H.daemon_log, "event=verify.created ",
	    n, H_LOG_WAIT_MS), n);
	ck_assert_ptr_nonnull(f = fopen(H.daemon_log, "r"));
	while (fgets(line, sizeof(line), f) != NULL && k < n)
		if (strstr(line, "event=verify.created ") != NULL &&
		    (p = strstr(line, " id=")) != NULL)
			sscanf(p + 4, "%39[^ ]", ids[k++]);
	fclose(f);
	ck_assert_int_eq(k, n);
}

/* Check code by phone (the pending one's), the answer's "valid". */
static int
check_by_phone(const char *phone, const char *code)
{
	char body[128], out[4096];
	json_t *j;
	int valid;

	snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"code\":\"%s\"}",
	    phone, code);
	ck_assert_int_eq(h_http(&H, "POST", "/v1/verifications/check", NULL,
	    H_TOKEN, body, out, sizeof(out)), 200);
	j = json_loads(out, 0, NULL);
	valid = json_is_true(json_object_get(j, "valid"));
	json_decref(j);
	return valid;
}

START_TEST(concurrent_sends_leave_one)
{
	char phone[20], body[96], out[4096], ids[NSEND][40], code[16];
	char last[16], pending[40] = "";
	int fd[NSEND], npending = 0, ncanceled = 0, nlines = 0, other = 0;
	json_t *lines, *l;
	size_t i;

	/* Both simulators write one handset log. */
	snprintf(H.sims[0].handset, sizeof(H.sims[0].handset), "%s",
	    H.handset);
	H.max_checks = 100;
	h_start_two(&H, "[route all]\nprefix = +\nsmsc = a b\n"
	    "[limits]\nresend_interval = 0\nsends_per_phone = 0\n"
	    "sends_per_ip = 0\nsends_per_range = 0\n"
	    "failed_checks_per_phone = 0\n");
	snprintf(phone, sizeof(phone), "+14155550%03d", (150 + _i) % 1000);

	/* 50 at once, by the four APIs in turn. */
	for (int k = 0; k < NSEND; k++) {
		snprintf(body, sizeof(body), apis[k % NAPI].fmt, phone);
		fd[k] = h_req_start(&H, "POST", apis[k % NAPI].path, H_TOKEN,
		    NULL, body);
		ck_assert_int_ge(fd[k], 0);
	}
	for (int k = 0; k < NSEND; k++) {
		const struct api *a = &apis[k % NAPI];
		int st = h_req_finish(fd[k], out, sizeof(out), 30000);
		json_t *j = json_loads(out, 0, NULL);
		ck_assert_msg(st == a->status && j != NULL,
		    "send %d (%s): %d %s", k, a->path, st, out);
		json_decref(j);
	}
	ck_assert_int_eq(h_wait_idle(&H, H_STATE_WAIT_MS), 0);
	made_ids(ids, NSEND);

	/* Exactly one pending; the others superseded. */
	for (int k = 0; k < NSEND; k++) {
		json_t *v = h_get_verif(&H, ids[k]);
		const char *s = h_jstr(v, "status");
		if (strcmp(s, "pending") == 0) {
			npending++;
			snprintf(pending, sizeof(pending), "%.39s", ids[k]);
		} else if (strcmp(s, "canceled") == 0) {
			ncanceled++;
		}
		json_decref(v);
	}
	ck_assert_int_eq(npending, 1);
	ck_assert_int_eq(ncanceled, NSEND - 1);

	/* The handset's messages to the number, in the order they came. */
	lines = h_handset_read(H.handset);
	last[0] = '\0';
	json_array_foreach(lines, i, l)
		if (strcmp(h_jstr(l, "to"), phone) == 0) {
			ck_assert_int_eq(h_code_of(h_jstr(l, "text"), last,
			    sizeof(last)), 0);
			nlines++;
		}
	ck_assert_int_ge(nlines, 1);
	ck_assert_int_le(nlines, NSEND);
	/* No code but the last one approves (each costs the pending one an
	 * attempt: max_check_attempts is 100)... */
	json_array_foreach(lines, i, l)
		if (strcmp(h_jstr(l, "to"), phone) == 0) {
			h_code_of(h_jstr(l, "text"), code, sizeof(code));
			if (strcmp(code, last) == 0)
				continue;       /* the same digits by chance */
			other++;
			ck_assert_msg(!check_by_phone(phone, code),
			    "an earlier message's code approved (round %d)",
			    _i);
		}
	json_decref(lines);
	/* ...and the last one approves the pending verification. */
	ck_assert_msg(h_code_valid(&H, pending, last), "the handset's last "
	    "code does not approve %s (round %d, %d messages, %d others)",
	    pending, _i, nlines, other);
}
END_TEST

static Suite *
races_suite(void)
{
	Suite *s = suite_create("races");
	const struct h_test tests[] = {
		{ "concurrent_sends_leave_one", concurrent_sends_leave_one,
		    ROUNDS },
	};

	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(races_suite());
}
