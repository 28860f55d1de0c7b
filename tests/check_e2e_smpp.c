/*
 * check_e2e_smpp.c - the SMPP side of the whole path, as operators see it:
 * several SMSC simulators and smsverifyd run as processes on loopback.
 * Routing over two SMSCs with the repeat-send switch, delivery receipts
 * from two carriers, message ids written in hex by one side and decimal
 * by the other, throttling, a connection dropped with submits in flight,
 * UCS-2 and GSM texts, refused credentials and refused numbers; inbound
 * messages (plain, UCS-2, message_payload, three parts out of order with a
 * duplicate, a repeated message) reaching the inbox and the webhook once
 * and whole, and the inbox's long poll.  Codes are read from the
 * simulators' handset logs; every wait is bounded.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

#define PHONE "+14155550123"
#define PHONE_UK "+447400123456"

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

/* ---- 1. two SMSCs bound, repeat sends go round the route ---- */

START_TEST(two_smscs_bound)
{
	const char *names[] = { "a", "b" };
	char id[3][64], code[16];
	const char *want[3] = { "a", "b", "a" };
	int status, na = 0, nb = 0;
	json_t *j;

	/* Three sends to one number at once: no resend_interval here. */
	snprintf(H.key_extra, sizeof(H.key_extra), "resend_interval = 0\n");
	h_start_two(&H, "[route all]\nprefix = +\nsmsc = a b\n");

	/* Both are listed with a bound session. */
	j = h_json(&H, "GET", "/v1/smscs", NULL, &status);
	ck_assert_int_eq(status, 200);
	for (int i = 0; i < 2; i++) {
		json_t *e = h_smsc_entry(j, names[i]);
		json_t *b = json_array_get(json_object_get(e, "binds"), 0);
		ck_assert_msg(e != NULL, "smsc %s not listed", names[i]);
		ck_assert(json_is_true(json_object_get(e, "up")));
		ck_assert_str_eq(h_jstr(b, "state"), "bound");
	}
	json_decref(j);

	/* a, then b (repeat within repeat_window), then a again. */
	for (int i = 0; i < 3; i++) {
		j = h_send_code(&H, PHONE, id[i], sizeof(id[i]), 201);
		ck_assert_str_eq(h_jstr(j, "status"), "sent");
		ck_assert_msg(strcmp(h_jstr(j, "smsc"), want[i]) == 0,
		    "send %d went to %s, not %s", i + 1, h_jstr(j, "smsc"),
		    want[i]);
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "attempt")), i + 1);
		json_decref(j);
		if (strcmp(want[i], "a") == 0)
			h_read_code(H.handset, PHONE, ++na, code,
			    sizeof(code));
		else
			h_read_code(H.sims[0].handset, PHONE, ++nb, code,
			    sizeof(code));
	}
	ck_assert_int_eq(h_count_sms_in(H.handset, PHONE), 2);
	ck_assert_int_eq(h_count_sms_in(H.sims[0].handset, PHONE), 1);
	/* The last code (over a) approves the last verification. */
	ck_assert(h_code_valid(&H, id[2], code));
}
END_TEST

/* ---- 2. receipts from two carriers ---- */

START_TEST(receipts)
{
	char id_us[64], id_uk[64], code[16];
	json_t *j;

	snprintf(H.sim_args, sizeof(H.sim_args), "--dlr delivered "
	    "--dlr-delay-ms 50");
	snprintf(H.sims[0].args, sizeof(H.sims[0].args), "--dlr undeliv "
	    "--dlr-delay-ms 50");
	h_start_two(&H, "[route all]\nprefix = +\nsmsc = a\n"
	    "[route uk]\nprefix = +44\nsmsc = b\n");

	j = h_send_code(&H, PHONE, id_us, sizeof(id_us), 201);
	ck_assert_str_eq(h_jstr(j, "smsc"), "a");
	json_decref(j);
	j = h_send_code(&H, PHONE_UK, id_uk, sizeof(id_uk), 201);
	ck_assert_str_eq(h_jstr(j, "smsc"), "b");
	json_decref(j);
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	h_read_code(H.sims[0].handset, PHONE_UK, 1, code, sizeof(code));
	ck_assert_int_eq(h_count_sms_in(H.handset, PHONE_UK), 0);

	h_wait_delivery(&H, id_us, "delivered");
	h_wait_delivery(&H, id_uk, "undeliverable");
}
END_TEST

/* ---- 3. hex submit ids, decimal receipt ids and the reverse ---- */

static const char *const id_variants[] = {
	"--id-format hex --dlr-id-format dec --dlr delivered",
	"--id-format hex --dlr-id-format dec --dlr delivered --dlr-tlv 0",
	"--id-format dec --dlr-id-format hex --dlr delivered",
	"--id-format dec --dlr-id-format hex --dlr delivered --dlr-tlv 0",
};

START_TEST(hex_and_decimal_ids)
{
	char id[64], code[16];
	json_t *j, *a;

	snprintf(H.sim_args, sizeof(H.sim_args), "%s --dlr-delay-ms 50",
	    id_variants[_i]);
	h_start_all(&H);
	j = h_send_code(&H, PHONE, id, sizeof(id), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	/* The simulator sent its receipt. */
	ck_assert_msg(h_wait_lines(H.sim_log, "event=receipt ",
	    H_STATE_WAIT_MS) == 1, "the simulator sent no receipt (%s)",
	    id_variants[_i]);
	h_wait_delivery(&H, id, "delivered");
	j = h_get_verif(&H, id);
	a = json_array_get(json_object_get(j, "attempts"), 0);
	ck_assert(strlen(h_jstr(a, "message_id")) > 0);
	json_decref(j);
	ck_assert(h_code_valid(&H, id, code));
}
END_TEST

/* ---- 4. throttling loses nothing ---- */

#define NTHROTTLE 30

START_TEST(throttling_loses_nothing)
{
	char phone[NTHROTTLE][24], id[NTHROTTLE][64], code[16];
	json_t *j;

	snprintf(H.sim_args, sizeof(H.sim_args), "--fail-every 3");
	h_start_all(&H);
	for (int i = 0; i < NTHROTTLE; i++) {
		snprintf(phone[i], sizeof(phone[i]), "+141555501%02d", i);
		j = h_send_code(&H, phone[i], id[i], sizeof(id[i]), 201);
		ck_assert_msg(strcmp(h_jstr(j, "status"), "failed") != 0,
		    "a throttled send to %s was failed", phone[i]);
		json_decref(j);
	}
	for (int i = 0; i < NTHROTTLE; i++)
		ck_assert_msg(h_wait_sms(&H, phone[i], 1, NULL, 0, 60000) == 0,
		    "%s never got its SMS (see %s)", phone[i], H.daemon_log);
	ck_assert_msg(h_wait_idle(&H, 30000) == 0, "the queue never drained");
	ck_assert_msg(h_count_lines(H.sim_log, "status=0x00000058") > 0,
	    "the simulator throttled nothing");
	for (int i = 0; i < NTHROTTLE; i++) {
		ck_assert_msg(h_count_sms(&H, phone[i]) == 1,
		    "%s got %d SMS", phone[i], h_count_sms(&H, phone[i]));
		h_read_code(H.handset, phone[i], 1, code, sizeof(code));
		ck_assert_msg(h_code_valid(&H, id[i], code), "code for %s invalid",
		    phone[i]);
	}
}
END_TEST

/* ---- 5. a connection dropped with submits in flight ---- */

#define NDROP 20

/* From the simulator's log: the connection it dropped (0: none) and the
 * message ids it accepted on that connection. */
static long
dropped_conn(json_t *ids_on_it)
{
	FILE *f = fopen(H.sim_log, "r");
	char line[1024], mid[32];
	long conn = 0, c;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "event=submit.dropped conn=");
		if (p != NULL)
			conn = strtol(p + strlen("event=submit.dropped conn="),
			    NULL, 10);
	}
	rewind(f);
	while (conn > 0 && fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "event=submit conn=");
		const char *m = strstr(line, "message_id=");
		if (p == NULL || m == NULL)
			continue;
		c = strtol(p + strlen("event=submit conn="), NULL, 10);
		if (c == conn && sscanf(m, "message_id=%31s", mid) == 1)
			json_array_append_new(ids_on_it, json_string(mid));
	}
	fclose(f);
	return conn;
}

static int
in_list(json_t *list, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		if (strcmp(json_string_value(e), s) == 0)
			return 1;
	return 0;
}

START_TEST(dropped_connection_window)
{
	char phone[NDROP][24], id[NDROP][64], code[16], first[NDROP][16];
	int count[NDROP], lines, dups = 0, status;
	json_int_t submit_ok;
	json_t *j, *all, *on_dropped, *e;
	long conn;
	size_t k;

	snprintf(H.sim_args, sizeof(H.sim_args), "--drop-after 5 "
	    "--resp-delay-ms 200");
	H.submit_wait_ms = 0; /* every send answers at once: all in flight */
	h_start_all(&H);
	for (int i = 0; i < NDROP; i++) {
		snprintf(phone[i], sizeof(phone[i]), "+141555501%02d", 40 + i);
		json_decref(h_send_code(&H, phone[i], id[i], sizeof(id[i]), 201));
	}
	for (int i = 0; i < NDROP; i++)
		ck_assert_msg(h_wait_sms(&H, phone[i], 1, NULL, 0, 60000) == 0,
		    "%s never got its SMS (see %s)", phone[i], H.daemon_log);
	ck_assert_msg(h_wait_idle(&H, 30000) == 0, "the queue never drained");

	on_dropped = json_array();
	conn = dropped_conn(on_dropped);
	ck_assert_msg(conn > 0, "the simulator dropped no connection");

	/* Every number: one code, however many copies; and it checks. */
	all = h_handset_read(H.handset);
	lines = (int)json_array_size(all);
	for (int i = 0; i < NDROP; i++) {
		count[i] = 0;
		json_array_foreach(all, k, e) {
			if (strcmp(h_jstr(e, "to"), phone[i]) != 0)
				continue;
			ck_assert_int_eq(h_code_of(h_jstr(e, "text"), code,
			    sizeof(code)), 0);
			if (count[i]++ == 0) {
				snprintf(first[i], sizeof(first[i]), "%s",
				    code);
				continue;
			}
			ck_assert_msg(strcmp(code, first[i]) == 0,
			    "%s got two different codes", phone[i]);
			dups++;
		}
		ck_assert_int_ge(count[i], 1);
	}
	/* A copy is only allowed of a message the SMSC accepted on the
	 * dropped connection (its response may never have left): every
	 * line but the last to a number must be one of those. */
	for (int i = 0; i < NDROP; i++) {
		int seen = 0;
		json_array_foreach(all, k, e) {
			if (strcmp(h_jstr(e, "to"), phone[i]) != 0)
				continue;
			if (++seen < count[i])
				ck_assert_msg(in_list(on_dropped,
				    h_jstr(e, "message_id")),
				    "%s: message %s was resent though it was "
				    "not outstanding at the drop", phone[i],
				    h_jstr(e, "message_id"));
		}
	}
	/* Lines = submits the daemon saw answered + at most those that
	 * were outstanding at the drop (accepted on that connection). */
	j = h_json(&H, "GET", "/v1/smscs", NULL, &status);
	ck_assert_int_eq(status, 200);
	submit_ok = json_integer_value(json_object_get(h_smsc_entry(j, "sim"),
	    "submit_ok"));
	json_decref(j);
	fprintf(stderr, "dropped_connection_window: %d handset lines, %d "
	    "duplicates (same code twice), %d accepted on the dropped "
	    "connection, daemon submit_ok %lld\n", lines, dups,
	    (int)json_array_size(on_dropped), (long long)submit_ok);
	ck_assert_int_eq(lines, NDROP + dups);
	ck_assert_int_le(dups, (int)json_array_size(on_dropped));
	ck_assert_int_ge(lines, (int)submit_ok);
	ck_assert_int_le(lines, (int)submit_ok +
	    (int)json_array_size(on_dropped));
	/* Each line the daemon never saw answered was outstanding at the
	 * drop; only those may have a second copy.  A resend of an answered
	 * submit would add a line and an answer, and break this. */
	ck_assert_msg(dups <= lines - (int)submit_ok, "%d copies but only %d "
	    "submits were unanswered at the drop", dups,
	    lines - (int)submit_ok);
	json_decref(all);
	json_decref(on_dropped);

	for (int i = 0; i < NDROP; i++)
		ck_assert_msg(h_code_valid(&H, id[i], first[i]),
		    "code for %s invalid", phone[i]);
}
END_TEST

/* ---- 6. UCS-2 Russian, GSM German ---- */

/* The data_coding and text of the nth line to phone. */
static int
handset_line(const char *phone, int nth, char *text, size_t size)
{
	json_t *all = h_handset_read(H.handset), *e;
	int seen = 0, dc = -1;
	size_t k;

	json_array_foreach(all, k, e) {
		if (strcmp(h_jstr(e, "to"), phone) != 0 || ++seen != nth)
			continue;
		dc = (int)json_integer_value(json_object_get(e,
		    "data_coding"));
		snprintf(text, size, "%s", h_jstr(e, "text"));
	}
	json_decref(all);
	return dc;
}

START_TEST(ucs2_russian)
{
	char id[64], code[16], text[2048];
	const char *de = "+14155550124";

	h_start_all(&H);
	json_decref(h_send(&H, "{\"phone\": \"" PHONE "\", \"language\": "
	    "\"ru\"}", id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	ck_assert_int_eq(handset_line(PHONE, 1, text, sizeof(text)), 8);
	ck_assert_msg(strstr(text, "код") != NULL, "not Cyrillic: %s", text);
	ck_assert_ptr_nonnull(strstr(text, code));
	ck_assert(h_code_valid(&H, id, code));

	json_decref(h_send(&H, "{\"phone\": \"+14155550124\", \"language\": "
	    "\"de\"}", id, sizeof(id), 201));
	h_read_code(H.handset, de, 1, code, sizeof(code));
	ck_assert_int_eq(handset_line(de, 1, text, sizeof(text)), 0);
	ck_assert_msg(strstr(text, "Bestätigungscode") != NULL &&
	    strstr(text, "gültig") != NULL, "umlauts lost: %s", text);
	ck_assert(h_code_valid(&H, id, code));
}
END_TEST

/* ---- 7. a wrong password is not hammered ---- */

static int
bind_attempts(void)
{
	return h_count_lines(H.sim_log, "event=bind ") +
	    h_count_lines(H.sim_log, "event=bind.refused ");
}

START_TEST(wrong_password_no_storm)
{
	json_t *j, *e, *b;
	int status, before, after;

	snprintf(H.smsc_password, sizeof(H.smsc_password), "nope");
	ck_assert_int_eq(h_sim_start(&H), 0);
	ck_assert_int_eq(h_daemon_start(&H, 0), 0);
	ck_assert_msg(h_wait_lines(H.sim_log, "event=bind.refused", 20000) > 0,
	    "the daemon never tried to bind");
	ck_assert_int_eq(h_count_lines(H.sim_log, "event=bind "), 0);

	j = h_json(&H, "GET", "/v1/smscs", NULL, &status);
	ck_assert_int_eq(status, 200);
	e = h_smsc_entry(j, "sim");
	b = json_array_get(json_object_get(e, "binds"), 0);
	ck_assert_ptr_nonnull(e);
	ck_assert(json_is_false(json_object_get(e, "up")));
	ck_assert_str_ne(h_jstr(b, "state"), "bound");
	json_decref(j);

	before = bind_attempts();
	h_nap_ms(3000);
	after = bind_attempts();
	ck_assert_msg(after - before <= 3, "%d bind attempts in 3 s with a "
	    "wrong password", after - before);
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert(!h_file_contains(H.daemon_log, "nope"));
}
END_TEST

/* ---- 8. the SMSC refuses a number for good ---- */

START_TEST(smsc_refuses_number)
{
	char id[64], code[16];
	const char *refused = "+14155550199", *fine = "+14155550100";
	json_t *j;

	snprintf(H.sim_args, sizeof(H.sim_args), "--refuse-prefix "
	    "1415555019");
	h_start_all(&H);
	j = h_send_code(&H, refused, id, sizeof(id), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "failed");
	json_decref(j);
	j = h_get_verif(&H, id);
	ck_assert_str_eq(h_jstr(j, "status"), "failed");
	ck_assert_msg(strlen(h_jstr(j, "fail_reason")) > 0, "no fail_reason");
	json_decref(j);

	j = h_send_code(&H, fine, id, sizeof(id), 201);
	ck_assert_str_eq(h_jstr(j, "status"), "sent");
	json_decref(j);
	h_read_code(H.handset, fine, 1, code, sizeof(code));
	ck_assert(h_code_valid(&H, id, code));
	ck_assert_int_eq(h_count_sms(&H, refused), 0);
}
END_TEST


/* ---- 9. a long text goes out as one concatenated SMS ---- */

START_TEST(long_text_concatenated)
{
	/* _i == 0: UDH parts; _i == 1: one message_payload. */
	int payload = _i == 1;
	char id[64], code[16], body[1024], path[160];
	json_t *lines, *line, *j;
	const char *text;
	int status, parts = 0;

	if (payload)
		snprintf(H.smsc_extra, sizeof(H.smsc_extra),
		    "long_messages = payload\n");
	h_start_all(&H);
	/* About 230 GSM characters: two parts of at most 153. */
	snprintf(body, sizeof(body), "{\"phone\": \"" PHONE "\", "
	    "\"template\": \"Your one-time code for signing in to the "
	    "Example Corp customer portal is {code}. It is valid for "
	    "{minutes} minutes. Never share it with anyone, not even with "
	    "someone who says they work for Example Corp support.\"}");
	json_decref(h_send(&H, body, id, sizeof(id), 201));
	h_read_code(H.handset, PHONE, 1, code, sizeof(code));
	lines = h_handset_read(H.handset);
	ck_assert_int_eq((int)json_array_size(lines), 1);
	line = json_array_get(lines, 0);
	parts = (int)json_integer_value(json_object_get(line, "parts"));
	text = json_string_value(json_object_get(line, "text"));
	ck_assert_int_eq(parts, payload ? 0 : 2);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "Example Corp support."));
	ck_assert_ptr_nonnull(strstr(text, code));
	json_decref(lines);
	/* Each part is a submit of its own, with its own message id; a
	 * message_payload is one submit. */
	snprintf(path, sizeof(path), "/v1/verifications/%s", id);
	j = h_json(&H, "GET", path, NULL, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq((int)json_array_size(json_object_get(j,
	    "attempts")), payload ? 1 : 2);
	json_decref(j);
	ck_assert(h_code_valid(&H, id, code));
}
END_TEST

/* ---- route health: receipts and codes typed back move traffic ---- */

/* The route entry of SMSC name in a /v1/smscs answer. */
static json_t *
route_entry(json_t *list, const char *name)
{
	json_t *e = h_smsc_entry(list, name);

	return e ? json_array_get(json_object_get(e, "routes"), 0) : NULL;
}

/* Send to n new numbers (base + i) and expect each over smsc; copy ids. */
static void
send_n(const char *base, int first, int n, const char *smsc,
    char ids[][64])
{
	char phone[32];
	json_t *j;

	for (int i = 0; i < n; i++) {
		snprintf(phone, sizeof(phone), "%s%02d", base, first + i);
		j = h_send_code(&H, phone, ids ? ids[i] : NULL, 64, 201);
		ck_assert_msg(strcmp(h_jstr(j, "smsc"), smsc) == 0,
		    "send to %s went to %s, not %s", phone, h_jstr(j, "smsc"),
		    smsc);
		json_decref(j);
	}
}

/* The reason recorded for the first attempt of verification id. */
static const char *
first_reason(const char *id)
{
	static char reason[32];
	json_t *j = h_get_verif(&H, id);
	json_t *a = json_array_get(json_object_get(j, "attempts"), 0);

	snprintf(reason, sizeof(reason), "%s", a ? h_jstr(a, "reason") : "");
	json_decref(j);
	return reason;
}

/* a says UNDELIV for everything, b delivers; the route's floor is 50%
 * over 3 receipts, with probe percent of sends still trying a.  Three
 * sends to base00.. go over a and come back undeliverable. */
static void
degrade_a(int probe, const char *base)
{
	char ids[3][64], route[256];

	snprintf(H.sim_args, sizeof(H.sim_args), "--dlr undeliv");
	snprintf(H.sims[0].args, sizeof(H.sims[0].args), "--dlr delivered");
	snprintf(route, sizeof(route), "[route all]\nprefix = +\nsmsc = a b\n"
	    "floor = 50\nmin_sample = 3\nprobe = %d\ngrace = 0\n"
	    "window = 600\n", probe);
	h_start_two(&H, route);
	send_n(base, 0, 3, "a", ids);
	for (int i = 0; i < 3; i++)
		h_wait_delivery(&H, ids[i], "undeliverable");
}

START_TEST(undeliverable_primary_loses_traffic)
{
	char ids[4][64];
	int status;
	json_t *j, *r;

	degrade_a(0, "+141555501");
	j = h_json(&H, "GET", "/v1/smscs", NULL, &status);
	r = route_entry(j, "a");
	ck_assert_msg(r != NULL, "no route figures for a");
	ck_assert_int_eq(json_integer_value(json_object_get(r,
	    "undeliverable")), 3);
	ck_assert(json_is_true(json_object_get(r, "degraded")));
	/* the receipts' latency is measured */
	ck_assert(json_is_real(json_object_get(r, "latency_s")));
	ck_assert(json_real_value(json_object_get(r, "delivered_ratio")) ==
	    0.0);
	json_decref(j);
	/* New numbers now go over b first, and say why. */
	send_n("+141555502", 0, 1, "b", ids);
	ck_assert_str_eq(first_reason(ids[0]), "score");
	/* The switch is logged (log lines leave in batches: wait). */
	ck_assert_msg(h_wait_lines(H.daemon_log, "event=route.switch",
	    H_LOG_WAIT_MS) > 0, "no event=route.switch (see %s)", H.daemon_log);
	ck_assert_msg(h_count_lines(H.daemon_log, "from=a to=b") > 0,
	    "the switch does not say from=a to=b (see %s)", H.daemon_log);
}
END_TEST

START_TEST(probe_share_keeps_trying_primary)
{
	char ids[4][64];

	/* As above, but every send is a probe: a stays first, reason
	 * "probe", though it is degraded.  (How large a share probes, and
	 * when, is route_choose()'s, tested in check_route; this shows the
	 * reason reaching the attempt.) */
	degrade_a(100, "+141555505");
	send_n("+141555506", 0, 2, "a", ids);
	ck_assert_str_eq(first_reason(ids[0]), "probe");
	ck_assert_str_eq(first_reason(ids[1]), "probe");
}
END_TEST

/* Wait (bounded) until smsc's figures on its first route show at least
 * mature sends old enough for the conversion ratio; returns the
 * /v1/smscs answer (the caller frees it) and its route entry in *r. */
static json_t *
wait_mature(const char *smsc, int mature, json_t **r)
{
	json_int_t got = -1;
	int status;
	json_t *j;

	for (long long end = h_now_ms() + H_STATE_WAIT_MS; h_now_ms() < end;) {
		j = h_json(&H, "GET", "/v1/smscs", NULL, &status);
		*r = route_entry(j, smsc);
		got = json_integer_value(json_object_get(*r, "mature"));
		if (got >= mature)
			return j;
		json_decref(j);
		h_nap_ms(100);
	}
	ck_abort_msg("%s: %lld mature sends, not %d, after %d ms (see %s)",
	    smsc, (long long)got, mature, H_STATE_WAIT_MS, H.daemon_log);
	return NULL;
}

/*
 * The wiring of the conversion ratio: codes typed back reach the figures
 * of the SMSC that carried them, and a route whose primary converts
 * nothing sends over the other one.  Which ratio wins over which, the
 * grace and the probe share are route_choose()'s policy, tested without a
 * daemon in check_route.
 *
 * A send counts for conversion once its slice of the window (a twelfth)
 * is over: window = 24 makes that at most 2 s, awaited on /v1/smscs, and
 * keeps the figures for 24 s, far more than the test needs.
 */
START_TEST(fake_delivered_loses_to_proven)
{
	char ids[4][64], code[16];
	json_t *j, *r;

	/* a reports DELIVRD but no handset ever sees its messages (a grey
	 * route); b's codes come back in checks. */
	snprintf(H.sim_args, sizeof(H.sim_args),
	    "--dlr delivered -o /dev/null");
	snprintf(H.sims[0].args, sizeof(H.sims[0].args), "--dlr delivered");
	h_start_two(&H, "[route all]\nprefix = +\nsmsc = a b\nfloor = 20\n"
	    "min_sample = 3\nprobe = 0\ngrace = 0\nwindow = 24\n");
	send_n("+141555503", 0, 3, "a", ids);
	for (int i = 0; i < 3; i++)
		h_wait_delivery(&H, ids[i], "delivered");
	/* Receipts say 100%; no code came back: conversion 0, degraded. */
	j = wait_mature("a", 3, &r);
	ck_assert(json_real_value(json_object_get(r, "delivered_ratio")) ==
	    1.0);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "approved")),
	    0);
	ck_assert(json_real_value(json_object_get(r, "conversion")) == 0.0);
	ck_assert_msg(json_is_true(json_object_get(r, "degraded")),
	    "a is not degraded at conversion 0");
	json_decref(j);
	/* New numbers go over b, which delivers codes that come back. */
	send_n("+141555504", 0, 1, "b", ids);
	ck_assert_str_eq(first_reason(ids[0]), "score");
	h_read_code(H.sims[0].handset, "+14155550400", 1, code, sizeof(code));
	ck_assert(h_code_valid(&H, ids[0], code));
	j = wait_mature("b", 1, &r);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "approved")),
	    1);
	json_decref(j);
	ck_assert_int_eq(h_count_sms_in(H.handset, "+14155550300"), 0);
}
END_TEST

START_TEST(refusing_smsc_fails_over)
{
	char id[64], code[16];
	json_t *j;
	int status;

	/* a refuses every submit with ESME_RSUBMITFAIL (another SMSC may
	 * take it): each send moves on to b. */
	snprintf(H.sim_args, sizeof(H.sim_args),
	    "--fail-every 1 --fail-status 0x45");
	h_start_two(&H, "[route all]\nprefix = +\nsmsc = a b\n");
	for (int i = 0; i < 8; i++) {
		char phone[32];

		snprintf(phone, sizeof(phone), "+1415555060%d", i);
		j = h_send_code(&H, phone, id, sizeof(id), 201);
		ck_assert_str_eq(h_jstr(j, "status"), "sent");
		ck_assert_str_eq(h_jstr(j, "smsc"), "b");
		json_decref(j);
		ck_assert_str_eq(first_reason(id), "failover");
		h_read_code(H.sims[0].handset, phone, 1, code, sizeof(code));
		ck_assert(h_code_valid(&H, id, code));
		ck_assert_int_eq(h_count_sms_in(H.handset, phone), 0);
	}
	/* After five refusals in a row a is passed over: the last sends
	 * go straight to b. */
	ck_assert_msg(h_wait_lines(H.daemon_log, "event=smsc.sidelined",
	    H_LOG_WAIT_MS) > 0, "a was never sidelined (see %s)",
	    H.daemon_log);
	j = h_json(&H, "GET", "/v1/smscs", NULL, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(h_smsc_entry(j,
	    "a"), "submits")), 5);
	json_decref(j);
}
END_TEST

#define NKILL 30

/* The codes in the handset logs a and b to phone: all the same one; its
 * count of lines goes to *n.  0, or -1 when two differ. */
static int
one_code(json_t *la, json_t *lb, const char *phone, char *code,
    size_t size, int *n)
{
	json_t *logs[2] = { la, lb }, *e;
	char c[16];
	size_t k;

	*n = 0;
	for (int l = 0; l < 2; l++) {
		json_array_foreach(logs[l], k, e) {
			if (strcmp(h_jstr(e, "to"), phone) != 0 ||
			    h_code_of(h_jstr(e, "text"), c, sizeof(c)) != 0)
				continue;
			if ((*n)++ == 0)
				snprintf(code, size, "%s", c);
			else if (strcmp(c, code) != 0)
				return -1;
		}
	}
	return 0;
}

START_TEST(smsc_killed_mid_load)
{
	char phone[NKILL][24], id[NKILL][64], code[16];
	int n, dups = 0;
	json_t *la, *lb;

	H.submit_wait_ms = 0;   /* answers at once: sends pile up in flight */
	snprintf(H.sim_args, sizeof(H.sim_args), "--resp-delay-ms 50");
	h_start_two(&H, "[route all]\nprefix = +\nsmsc = a b\n");
	for (int i = 0; i < NKILL; i++) {
		snprintf(phone[i], sizeof(phone[i]), "+141555507%02d", i);
		json_decref(h_send_code(&H, phone[i], id[i], sizeof(id[i]), 201));
		if (i == 9) {
			/* a dies with submits in flight, unanswered */
			ck_assert_int_eq(kill(H.sim_pid, SIGKILL), 0);
			waitpid(H.sim_pid, NULL, 0);
			H.sim_pid = 0;
		}
		if (i == 19)
			ck_assert_msg(h_sim_start(&H) == 0,
			    "simulator a did not come back");
	}
	/* Every number gets its code, over a or b. */
	for (int i = 0; i < NKILL; i++) {
		long long end = h_now_ms() + 60000;
		while ((n = h_count_sms_in(H.handset, phone[i]) +
		    h_count_sms_in(H.sims[0].handset, phone[i])) == 0 &&
		    h_now_ms() < end)
			h_nap_ms(50);
		ck_assert_msg(n > 0, "%s never got its code over a or b "
		    "(see %s)", phone[i], H.daemon_log);
	}
	ck_assert_msg(h_wait_idle(&H, 30000) == 0, "the queue never drained "
	    "(see %s)", H.daemon_log);
	la = h_handset_read(H.handset);
	lb = h_handset_read(H.sims[0].handset);
	for (int i = 0; i < NKILL; i++) {
		ck_assert_msg(one_code(la, lb, phone[i], code, sizeof(code),
		    &n) == 0, "%s got two different codes", phone[i]);
		ck_assert_msg(n >= 1, "%s never got its code (see %s)",
		    phone[i], H.daemon_log);
		dups += n - 1;
		ck_assert_msg(h_code_valid(&H, id[i], code), "%s: code refused",
		    phone[i]);
	}
	json_decref(la);
	json_decref(lb);
	/* A copy only of what a had accepted when it died: its window. */
	ck_assert_int_le(dups, 10);
}
END_TEST

/* ---- a reload while a submit is in flight ---- */

/*
 * FAILS until the dispatcher holds SMSCs by a handle a reload cannot
 * shift.  Today a message in flight keeps its route as positions in the
 * configuration's list of SMSCs; a reload re-routes only the wait queue,
 * so once the sections move, the message's next SMSC is whatever now
 * stands at the old position.
 *
 * a refuses every submit with ESME_RSUBMITFAIL (try another SMSC) but
 * holds its answer until the test releases it (--hold-resp, SIGUSR1), so
 * the submit is surely in flight across the reload; the route for + is
 * `a b`.  The reload inserts [smsc c] before a (c serves only +44) and
 * changes nothing else.  Once a refuses, the new configuration's route
 * for + says b.  Today the message's positions (a = 0, b = 1) now read
 * (c, a): it is resent to a, then goes out over c.
 */
START_TEST(reload_moves_smscs_under_inflight_submit)
{
	char id[64], code[16];
	const char *smsc, *send_status = "";
	json_t *j, *last;
	int status;

	/* The first simulator is c: running from the start, in the
	 * configuration only after the reload (written before a and b). */
	H.sim_name[0] = '\0';
	snprintf(H.sims[0].name, sizeof(H.sims[0].name), "a");
	snprintf(H.sims[0].args, sizeof(H.sims[0].args),
	    "--fail-every 1 --fail-status 0x45 --hold-resp");
	snprintf(H.sims[1].name, sizeof(H.sims[1].name), "b");
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[route all]\nprefix = +\nsmsc = a b\n");
	H.submit_wait_ms = 0;     /* the send answers at once, `queued` */
	H.response_timeout = 60;  /* the held answer is not timed out */
	ck_assert_msg(h_sim_start(&H) == 0, "simulator c did not start");
	ck_assert_msg(h_xsim_start(&H, 0) == 0, "simulator a did not start");
	ck_assert_msg(h_xsim_start(&H, 1) == 0, "simulator b did not start");
	ck_assert_msg(h_daemon_start(&H, 1) == 0,
	    "smsverifyd did not start or bind (see %s)", H.daemon_log);
	ck_assert_msg(h_wait_up(&H, 2, H_STATE_WAIT_MS) == 0,
	    "a and b never both bound (see %s)", H.daemon_log);

	/* The send goes to a, which holds its refusal. */
	json_decref(h_send_code(&H, PHONE, id, sizeof(id), 201));
	ck_assert_msg(h_wait_lines(H.sims[0].log, "event=submit.refused",
	    H_STATE_WAIT_MS) == 1, "a never got the submit (see %s)",
	    H.daemon_log);
	j = h_json(&H, "GET", "/healthz", NULL, &status);
	ck_assert_msg(json_integer_value(json_object_get(j, "inflight")) == 1,
	    "the submit to a is not in flight before the reload");
	json_decref(j);

	/* [smsc c] comes before a; the route for + stays `a b`. */
	snprintf(H.sim_name, sizeof(H.sim_name), "c");
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[route all]\nprefix = +\nsmsc = a b\n"
	    "[route uk]\nprefix = +44\nsmsc = c\n");
	ck_assert_msg(h_daemon_reload(&H) == 0, "the reload was refused or "
	    "never logged (see %s)", H.daemon_log);
	ck_assert_msg(h_wait_up(&H, 3, H_STATE_WAIT_MS) == 0,
	    "c never bound after the reload (see %s)", H.daemon_log);

	/* a answers now: ESME_RSUBMITFAIL. */
	ck_assert_int_eq(kill(H.sims[0].pid, SIGUSR1), 0);
	ck_assert_msg(h_wait_lines(H.sims[0].log,
	    "event=hold.released responses=1", H_LOG_WAIT_MS) == 1,
	    "a did not release its answer (see %s)", H.sims[0].log);
	for (long long end = h_now_ms() + H_STATE_WAIT_MS; h_now_ms() < end;) {
		j = h_get_verif(&H, id);
		send_status = strcmp(h_jstr(j, "send_status"), "queued") != 0 ?
		    "done" : "";
		json_decref(j);
		if (*send_status)
			break;
		h_nap_ms(50);
	}
	ck_assert_msg(*send_status, "%s was still queued %d ms after a "
	    "refused it (see %s)", id, H_STATE_WAIT_MS, H.daemon_log);

	j = h_get_verif(&H, id);
	last = json_array_get(json_object_get(j, "attempts"),
	    json_array_size(json_object_get(j, "attempts")) - 1);
	smsc = last ? h_jstr(last, "smsc") : "(none)";
	ck_assert_msg(strcmp(h_jstr(j, "send_status"), "sent") == 0 &&
	    strcmp(smsc, "b") == 0, "after a refused it, %s was %s over %s, "
	    "not sent over b: the route for + is `a b` (c, inserted before "
	    "a, serves +44); c's handset has %d, b's %d, a was tried %d "
	    "times", id, h_jstr(j, "send_status"), smsc,
	    h_count_sms_in(H.handset, PHONE),
	    h_count_sms_in(H.sims[1].handset, PHONE),
	    h_count_lines(H.sims[0].log, "event=submit.refused"));
	json_decref(j);
	ck_assert_int_eq(h_count_sms_in(H.handset, PHONE), 0);
	ck_assert_int_eq(h_count_lines(H.sims[0].log, "event=submit.refused"),
	    1);
	h_read_code(H.sims[1].handset, PHONE, 1, code, sizeof(code));
	ck_assert(h_code_valid(&H, id, code));
}
END_TEST

/* ---- inbound messages (MO) ---- */

#define HOOK_SECRET "hook-secret-for-tests"
#define OTHER_TOKEN "other-token-0123456789abcdef"
#define QA_NUMBER "%2B447700900123"

/* Write the simulator's --mo file and have it send it (SIGUSR2); wait
 * for "event=mo.done" (the nth time) and for want deliver_sm_resp lines
 * in all. */
static void
mo_send(const char *lines, int nth, int want_resps)
{
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s/mo.jsonl", H.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(lines, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(kill(H.sim_pid, SIGUSR2), 0);
	ck_assert_msg(h_wait_lines_n(H.sim_log, "event=mo.done", nth,
	    H_LOG_WAIT_MS) >= nth, "the simulator did not send (see %s)",
	    H.sim_log);
	ck_assert_msg(h_wait_lines_n(H.sim_log, "event=deliver_sm_resp",
	    want_resps, H_STATE_WAIT_MS) >= want_resps, "%d deliver_sm "
	    "answered of %d (see %s)", h_count_lines(H.sim_log,
	    "event=deliver_sm_resp"), want_resps, H.daemon_log);
}

/* The text of the message in list (GET /v1/messages's) from from. */
static const char *
text_from(json_t *list, const char *from, int *count)
{
	const char *t = NULL;
	size_t i;
	json_t *m;

	*count = 0;
	json_array_foreach(list, i, m) {
		if (strcmp(h_jstr(m, "from"), from) == 0) {
			(*count)++;
			t = h_jstr(m, "text");
		}
	}
	return t;
}

/* message.received events to the hook, by their data's from. */
static int
hook_received(const char *from, json_t **first)
{
	json_t *lines = h_handset_read(H.hook_log), *l, *ev;
	size_t i;
	int n = 0;

	*first = NULL;
	json_array_foreach(lines, i, l) {
		ev = json_loads(h_jstr(l, "body"), 0, NULL);
		if (ev != NULL && strcmp(h_jstr(ev, "type"),
		    "message.received") == 0 && strcmp(h_jstr(json_object_get(
		    ev, "data"), "from"), from) == 0 && n++ == 0) {
			*first = ev;
			continue;
		}
		json_decref(ev);
	}
	json_decref(lines);
	return n;
}

START_TEST(inbound_messages)
{
	char out[65536];
	json_t *j, *list, *ev;
	const char *t;
	int status, n;

	snprintf(H.key_extra, sizeof(H.key_extra),
	    "webhook = http://127.0.0.1:%d/hook\nwebhook_secret = "
	    HOOK_SECRET "\n", H.hook_port);
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[number qa]\naddress = +447700900123\nkey = test\n");
	snprintf(H.sim_args, sizeof(H.sim_args), "--dlr none --mo %.200s/mo.jsonl",
	    H.dir);
	ck_assert_int_eq(h_hook_start(&H, ""), 0);
	h_start_all(&H);

	/* Plain GSM, UCS-2, message_payload, three parts out of order with
	 * one sent twice, an address no [number] names, and a message the
	 * SMSC sends twice: 10 deliver_sm in all. */
	mo_send("{\"from\":\"447700900001\",\"to\":\"447700900123\","
	    "\"text\":\"Your code is 482913. {€}\"}\n"
	    "{\"from\":\"447700900002\",\"to\":\"447700900123\","
	    "\"text\":\"Код: 5521 ✓\"}\n"
	    "{\"from\":\"447700900003\",\"to\":\"447700900123\","
	    "\"text\":\"payload 777111\",\"payload\":true}\n"
	    "{\"from\":\"447700900004\",\"to\":\"447700900123\","
	    "\"text\":\"c 3333\",\"udh\":[42,3,3]}\n"
	    "{\"from\":\"447700900004\",\"to\":\"447700900123\","
	    "\"text\":\"part a 1111 \",\"udh\":[42,3,1]}\n"
	    "{\"from\":\"447700900004\",\"to\":\"447700900123\","
	    "\"text\":\"c 3333\",\"udh\":[42,3,3]}\n"
	    "{\"from\":\"447700900004\",\"to\":\"447700900123\","
	    "\"text\":\"b 2222 \",\"udh\":[42,3,2]}\n"
	    "{\"from\":\"447700900005\",\"to\":\"447700900999\","
	    "\"text\":\"stray 9999\"}\n"
	    "{\"from\":\"447700900006\",\"to\":\"447700900123\","
	    "\"text\":\"again 6060\",\"repeat\":2}\n", 1, 10);
	/* Every one answered ESME_ROK. */
	ck_assert_int_eq(h_count_lines(H.sim_log, "event=deliver_sm_resp"),
	    h_count_lines(H.sim_log, "status=0"));

	/* The inbox of the number's key: five messages, each once, whole. */
	j = h_json(&H, "GET", "/v1/messages?to=" QA_NUMBER, NULL, &status);
	ck_assert_int_eq(status, 200);
	list = json_object_get(j, "messages");
	ck_assert_int_eq(json_array_size(list), 5);
	t = text_from(list, "+447700900001", &n);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(t, "Your code is 482913. {€}");
	t = text_from(list, "+447700900002", &n);
	ck_assert_str_eq(t, "Код: 5521 ✓");
	t = text_from(list, "+447700900003", &n);
	ck_assert_str_eq(t, "payload 777111");
	t = text_from(list, "+447700900004", &n);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(t, "part a 1111 b 2222 c 3333");
	t = text_from(list, "+447700900006", &n);
	ck_assert_int_eq(n, 1);
	/* Newest first; the to is the [number]'s address. */
	ck_assert_str_eq(h_jstr(json_array_get(list, 0), "from"),
	    "+447700900006");
	ck_assert_str_eq(h_jstr(json_array_get(list, 0), "to"),
	    "+447700900123");
	json_decref(j);

	/* from= filters; another key gets 403 for the number, nothing
	 * without it. */
	j = h_json(&H, "GET", "/v1/messages?to=" QA_NUMBER
	    "&from=%2B447700900001", NULL, &status);
	ck_assert_int_eq(status, 200);
	list = json_object_get(j, "messages");
	ck_assert_int_eq(json_array_size(list), 1);
	ck_assert_int_eq(json_array_size(json_object_get(json_array_get(list,
	    0), "codes")), 1);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(
	    json_array_get(list, 0), "codes"), 0)), "482913");
	json_decref(j);
	/* since: RFC 3339 or Unix seconds; limit. */
	j = h_json(&H, "GET", "/v1/messages?to=" QA_NUMBER
	    "&since=2000-01-01T00:00:00Z&limit=2", NULL, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 2);
	json_decref(j);
	j = h_json(&H, "GET", "/v1/messages?to=" QA_NUMBER
	    "&since=4102444800", NULL, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 0);
	json_decref(j);
	j = h_json(&H, "GET", "/v1/messages?since=yesterday", NULL, &status);
	ck_assert_int_eq(status, 422);
	json_decref(j);
	status = h_http(&H, "GET", "/v1/messages?to=" QA_NUMBER, NULL,
	    OTHER_TOKEN, NULL, out, sizeof(out));
	ck_assert_int_eq(status, 403);
	status = h_http(&H, "GET", "/v1/messages", NULL, OTHER_TOKEN, NULL,
	    out, sizeof(out));
	ck_assert_int_eq(status, 200);
	j = json_loads(out, 0, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 0);
	json_decref(j);

	/* The webhook: one message.received per message, the joined one
	 * whole, with its codes. */
	for (long long end = h_now_ms() + H_STATE_WAIT_MS;
	    h_now_ms() < end && hook_received("+447700900006", &ev) == 0;) {
		h_nap_ms(50);
	}
	json_decref(ev);
	ck_assert_int_eq(hook_received("+447700900001", &ev), 1);
	ck_assert_str_eq(h_jstr(json_object_get(ev, "data"), "to"),
	    "+447700900123");
	ck_assert_str_eq(h_jstr(json_object_get(ev, "data"), "smsc"), "sim");
	ck_assert_str_eq(h_jstr(json_object_get(ev, "data"), "text"),
	    "Your code is 482913. {€}");
	json_decref(ev);
	ck_assert_int_eq(hook_received("+447700900004", &ev), 1);
	j = json_object_get(json_object_get(ev, "data"), "codes");
	ck_assert_int_eq(json_array_size(j), 3);
	ck_assert_str_eq(json_string_value(json_array_get(j, 0)), "1111");
	ck_assert_str_eq(json_string_value(json_array_get(j, 2)), "3333");
	json_decref(ev);
	ck_assert_int_eq(hook_received("+447700900006", &ev), 1);
	json_decref(ev);
	ck_assert_int_eq(hook_received("+447700900005", &ev), 0);
	/* A clean exit: the sanitizers found nothing. */
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
}
END_TEST

START_TEST(inbound_long_poll)
{
	char out[65536];
	long long t0;
	pid_t pid;
	int status, wst;
	json_t *j;

	/* [key other] (whose section extra_conf continues) is an admin. */
	snprintf(H.extra_conf, sizeof(H.extra_conf), "role = admin\n"
	    "[number qa]\naddress = +447700900123\nkey = test\n");
	snprintf(H.sim_args, sizeof(H.sim_args), "--dlr none --mo %.200s/mo.jsonl",
	    H.dir);
	h_start_all(&H);

	/* Nothing yet: wait=1 times out with an empty list. */
	t0 = h_now_ms();
	status = h_http(&H, "GET", "/v1/messages?to=" QA_NUMBER "&wait=1",
	    NULL, H_TOKEN, NULL, out, sizeof(out));
	ck_assert_int_eq(status, 200);
	ck_assert_int_ge(h_now_ms() - t0, 900);
	j = json_loads(out, 0, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 0);
	json_decref(j);
	status = h_http(&H, "GET", "/v1/messages?wait=31", NULL, H_TOKEN,
	    NULL, out, sizeof(out));
	ck_assert_int_eq(status, 422);

	/* A poll waiting when the message comes gets it. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		status = h_http(&H, "GET", "/v1/messages?to=" QA_NUMBER
		    "&from=%2B447700900077&wait=20", NULL, H_TOKEN, NULL, out,
		    sizeof(out));
		j = json_loads(out, 0, NULL);
		_exit(status == 200 && json_array_size(json_object_get(j,
		    "messages")) == 1 ? 0 : 1);
	}
	h_nap_ms(300);
	mo_send("{\"from\":\"447700900077\",\"to\":\"447700900123\","
	    "\"text\":\"late 1234\"}\n", 1, 1);
	ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
	ck_assert_msg(WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
	    "the waiting poll did not get the message");

	/* A message to an address no [number] names: admin keys only. */
	mo_send("{\"from\":\"447700900078\",\"to\":\"84499\","
	    "\"text\":\"stray\"}\n", 2, 2);
	status = h_http(&H, "GET", "/v1/messages", NULL, OTHER_TOKEN, NULL,
	    out, sizeof(out));
	ck_assert_int_eq(status, 200);
	j = json_loads(out, 0, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 2);
	/* The simulator marks every digit address international (TON 1). */
	ck_assert_str_eq(h_jstr(json_array_get(json_object_get(j,
	    "messages"), 0), "to"), "+84499");
	json_decref(j);
	status = h_http(&H, "GET", "/v1/messages", NULL, H_TOKEN, NULL, out,
	    sizeof(out));
	ck_assert_int_eq(status, 200);
	j = json_loads(out, 0, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 1);
	ck_assert_str_eq(h_jstr(json_array_get(json_object_get(j,
	    "messages"), 0), "text"), "late 1234");
	json_decref(j);

	/* SIGTERM answers a waiting poll at once (empty), and the daemon
	 * exits cleanly (its sanitizers found nothing). */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		status = h_http(&H, "GET", "/v1/messages?from=%2B1&wait=25",
		    NULL, H_TOKEN, NULL, out, sizeof(out));
		j = json_loads(out, 0, NULL);
		_exit(status == 200 && json_array_size(json_object_get(j,
		    "messages")) == 0 ? 0 : 1);
	}
	h_nap_ms(300);
	t0 = h_now_ms();
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
	ck_assert_msg(WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
	    "the waiting poll was not answered by the drain");
	ck_assert_int_lt(h_now_ms() - t0, 5000);
}
END_TEST

START_TEST(inbound_parts_across_restart)
{
	json_t *j, *list;
	int status;

	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[number qa]\naddress = +447700900123\nkey = test\n");
	snprintf(H.sim_args, sizeof(H.sim_args), "--dlr none --mo %.200s/mo.jsonl",
	    H.dir);
	h_start_all(&H);

	/* Two parts of three (16-bit reference), answered: stored. */
	mo_send("{\"from\":\"447700900008\",\"to\":\"447700900123\","
	    "\"text\":\"one 1111 \",\"udh\":[4660,3,1],\"ref16\":true}\n"
	    "{\"from\":\"447700900008\",\"to\":\"447700900123\","
	    "\"text\":\"two \",\"udh\":[4660,3,2],\"ref16\":true}\n", 1, 2);
	h_daemon_stop(&H, SIGKILL);
	ck_assert_msg(h_daemon_start(&H, 1) == 0, "smsverifyd did not come "
	    "back (see %s)", H.daemon_log);
	ck_assert_msg(h_wait_lines(H.daemon_log, "event=inbound.resumed "
	    "parts=2 waiting=1", H_LOG_WAIT_MS) >= 1, "the stored parts were "
	    "not read back (see %s)", H.daemon_log);
	/* The SMSC sends part 2 again (its answer could have been lost),
	 * then part 3: one message, whole. */
	mo_send("{\"from\":\"447700900008\",\"to\":\"447700900123\","
	    "\"text\":\"two \",\"udh\":[4660,3,2],\"ref16\":true}\n"
	    "{\"from\":\"447700900008\",\"to\":\"447700900123\","
	    "\"text\":\"three\",\"udh\":[4660,3,3],\"ref16\":true}\n", 2, 4);
	j = h_json(&H, "GET", "/v1/messages?to=" QA_NUMBER, NULL, &status);
	ck_assert_int_eq(status, 200);
	list = json_object_get(j, "messages");
	ck_assert_int_eq(json_array_size(list), 1);
	ck_assert_str_eq(h_jstr(json_array_get(list, 0), "text"),
	    "one 1111 two three");
	json_decref(j);
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
}
END_TEST

static Suite *
e2e_smpp_suite(void)
{
	Suite *s = suite_create("e2e_smpp");
	const struct h_test tests[] = {
		{ "two_smscs_bound", two_smscs_bound, 1 },
		{ "receipts", receipts, 1 },
		{ "hex_and_decimal_ids", hex_and_decimal_ids,
		    (int)(sizeof(id_variants) / sizeof(id_variants[0])) },
		{ "throttling_loses_nothing", throttling_loses_nothing, 1 },
		{ "dropped_connection_window", dropped_connection_window, 1 },
		{ "ucs2_russian", ucs2_russian, 1 },
		{ "wrong_password_no_storm", wrong_password_no_storm, 1 },
		{ "smsc_refuses_number", smsc_refuses_number, 1 },
		{ "long_text_concatenated", long_text_concatenated, 2 },
		{ "undeliverable_primary", undeliverable_primary_loses_traffic,
		    1 },
		{ "fake_delivered", fake_delivered_loses_to_proven, 1 },
		{ "probe_share", probe_share_keeps_trying_primary, 1 },
		{ "refusing_smsc_fails_over", refusing_smsc_fails_over, 1 },
		{ "smsc_killed_mid_load", smsc_killed_mid_load, 1 },
		{ "reload_moves_smscs_under_inflight_submit",
		    reload_moves_smscs_under_inflight_submit, 1 },
		{ "inbound_messages", inbound_messages, 1 },
		{ "inbound_long_poll", inbound_long_poll, 1 },
		{ "inbound_parts_across_restart", inbound_parts_across_restart,
		    1 },
	};

	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(e2e_smpp_suite());
}
