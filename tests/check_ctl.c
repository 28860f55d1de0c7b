/*
 * check_ctl.c - smsverifyctl (the built program) against a running
 * smsverifyd and SMSC simulator (tests/harness): each command, each exit
 * code (0; 1 with the failing groups named; 2 for usage, HTTP errors and
 * a refused connection), the table and --json, the environment's
 * defaults, and that the token is never printed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

#define OPS_TOKEN "ops-token-0123456789abcdef0123"
#define TEST_NUMBER "+15005550001"

static struct harness H;
static char ctl[512], url[64];

static void
setup(void)
{
	const char *b = getenv("SV_BUILDDIR");

	ck_assert_int_eq(h_init(&H), 0);
	snprintf(ctl, sizeof(ctl), "%s/src/smsverifyctl", b ? b : ".");
	snprintf(H.sim_args, sizeof(H.sim_args), "--dlr delivered "
	    "--dlr-delay-ms 50");
	snprintf(H.extra_conf, sizeof(H.extra_conf),
	    "[key ops]\ntoken = " OPS_TOKEN "\nrole = admin\n"
	    "[test numbers]\nnumbers = +15005550000-+15005550009\n"
	    "delay = 0\n");
	unsetenv("SMSVERIFY_URL");
	unsetenv("SMSVERIFY_TOKEN");
	unsetenv("SMSVERIFY_CACERT");
}

static void
teardown(void)
{
	h_fini(&H);
}

/* Run smsverifyctl with args (a shell fragment); its output (stdout and
 * stderr) into out, its exit status returned. */
static int
run(const char *args, char *out, size_t size)
{
	char cmd[2048];
	size_t n = 0, r;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' --timeout 20 %s 2>&1", ctl, args);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (n + 1 < size && (r = fread(out + n, 1, size - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	st = pclose(p);
	ck_assert_msg(WIFEXITED(st), "%s: did not exit", cmd);
	return WEXITSTATUS(st);
}

/* run() with -u and -k token before args. */
static int
runk(const char *token, const char *args, char *out, size_t size)
{
	char a[1024];

	snprintf(a, sizeof(a), "-u %s -k %s %s", url, token, args);
	return run(a, out, size);
}

static void
start(void)
{
	h_start_all(&H);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", H.http_port);
}

/* Two sends to US numbers, one approved, both delivered; one to a UK
 * number, approved. */
static void
traffic(void)
{
	char id[3][64], code[16];

	json_decref(h_send_code(&H, "+14155550141", id[0], sizeof(id[0]),
	    201));
	json_decref(h_send_code(&H, "+14155550142", id[1], sizeof(id[1]),
	    201));
	json_decref(h_send_code(&H, "+447400123456", id[2], sizeof(id[2]),
	    201));
	h_read_code(H.handset, "+14155550141", 1, code, sizeof(code));
	ck_assert_int_eq(h_code_valid(&H, id[0], code), 1);
	h_read_code(H.handset, "+447400123456", 1, code, sizeof(code));
	ck_assert_int_eq(h_code_valid(&H, id[2], code), 1);
	h_wait_delivery(&H, id[0], "delivered");
	h_wait_delivery(&H, id[1], "delivered");
}

START_TEST(ctl_stats)
{
	static char out[65536];
	json_t *j, *rows, *r;
	size_t i;
	int us = 0;

	start();
	traffic();
	/* The table. */
	ck_assert_int_eq(runk(H_TOKEN, "stats --by country --since -1h", out,
	    sizeof(out)), 0);
	ck_assert_msg(strstr(out, "GROUP") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\nUS ") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\nGB ") != NULL, "%s", out);
	ck_assert(strstr(out, H_TOKEN) == NULL);
	/* JSON for scripts: the API's answer. */
	ck_assert_int_eq(runk(H_TOKEN, "--json stats --by country", out,
	    sizeof(out)), 0);
	j = json_loads(out, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	rows = json_object_get(j, "rows");
	json_array_foreach(rows, i, r)
		if (strcmp(h_jstr(r, "group"), "US") == 0) {
			us = 1;
			ck_assert_int_eq(json_integer_value(json_object_get(r,
			    "sends")), 2);
			ck_assert_int_eq(json_integer_value(json_object_get(r,
			    "approved")), 1);
		}
	ck_assert(us);
	json_decref(j);
	/* URL and token from the environment. */
	setenv("SMSVERIFY_URL", url, 1);
	setenv("SMSVERIFY_TOKEN", H_TOKEN, 1);
	ck_assert_int_eq(run("stats --by smsc", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\nsim ") != NULL, "%s", out);
	/* A client key asking for another key's traffic: 403, exit 2. */
	ck_assert_int_eq(run("stats --key other", out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "403") != NULL, "%s", out);
	/* A bad parameter: the server's 400 names it. */
	ck_assert_int_eq(run("stats --since yesterday", out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "since") != NULL, "%s", out);
}
END_TEST

START_TEST(ctl_gate)
{
	static char out[65536];
	json_t *j;

	start();
	traffic();
	/* US converts 50%, GB 100%: at 80% US fails, named. */
	ck_assert_int_eq(runk(H_TOKEN, "gate --min-conversion 80 "
	    "--min-sends 1 --by country --since -1h", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "FAIL US") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "FAIL GB") == NULL, "%s", out);
	/* At 50% both pass. */
	ck_assert_int_eq(runk(H_TOKEN, "gate --min-conversion 50 "
	    "--min-sends 1", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "gate: ok") != NULL, "%s", out);
	/* Groups under --min-sends are not judged. */
	ck_assert_int_eq(runk(H_TOKEN, "gate --min-conversion 80 "
	    "--min-sends 3", out, sizeof(out)), 0);
	/* By SMSC: every send went over "sim", 2 of 3 approved. */
	ck_assert_int_eq(runk(H_TOKEN, "gate --min-conversion 70 "
	    "--min-sends 1 --by smsc", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "FAIL sim") != NULL, "%s", out);
	/* --json names the failing groups too. */
	ck_assert_int_eq(runk(H_TOKEN, "--json gate --min-conversion 80 "
	    "--min-sends 1", out, sizeof(out)), 1);
	j = json_loads(out, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	ck_assert(json_is_false(json_object_get(j, "ok")));
	ck_assert_int_eq(json_array_size(json_object_get(j, "failing")), 1);
	ck_assert_str_eq(h_jstr(json_array_get(json_object_get(j, "failing"),
	    0), "group"), "US");
	json_decref(j);
	/* Without --min-conversion: usage. */
	ck_assert_int_eq(runk(H_TOKEN, "gate", out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "--min-conversion") != NULL, "%s", out);
}
END_TEST

START_TEST(ctl_test_code)
{
	char out[4096], id[64], *nl;

	start();
	json_decref(h_send_code(&H, TEST_NUMBER, id, sizeof(id), 201));
	/* The captured code, alone on its line: it checks. */
	ck_assert_int_eq(runk(OPS_TOKEN, "test-code " TEST_NUMBER
	    " --wait 10", out, sizeof(out)), 0);
	if ((nl = strchr(out, '\n')) != NULL)
		*nl = '\0';
	ck_assert_int_eq((int)strlen(out), 6);
	ck_assert_int_eq(h_code_valid(&H, id, out), 1);
	/* Nothing captured for that number: 1. */
	ck_assert_int_eq(runk(OPS_TOKEN, "test-code +15005550002", out,
	    sizeof(out)), 1);
	ck_assert_msg(strstr(out, "no captured") != NULL, "%s", out);
	/* A client key may not read captured codes: 403, exit 2. */
	ck_assert_int_eq(runk(H_TOKEN, "test-code " TEST_NUMBER, out,
	    sizeof(out)), 2);
}
END_TEST

START_TEST(ctl_shield)
{
	char out[8192];

	start();
	ck_assert_int_eq(runk(OPS_TOKEN, "shield list", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "RANGE") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "0 ranges tripped") != NULL, "%s", out);
	ck_assert_int_eq(runk(OPS_TOKEN, "--json shield list", out,
	    sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"ranges\"") != NULL, "%s", out);
	/* Not tripped: 1.  A client key: 403, 2. */
	ck_assert_int_eq(runk(OPS_TOKEN, "shield reopen +14155550", out,
	    sizeof(out)), 1);
	ck_assert_msg(strstr(out, "not tripped") != NULL, "%s", out);
	ck_assert_int_eq(runk(H_TOKEN, "shield list", out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "403") != NULL, "%s", out);
	ck_assert(strstr(out, H_TOKEN) == NULL);
}
END_TEST

START_TEST(ctl_usage_and_connection)
{
	char out[8192];

	start();
	/* Usage. */
	ck_assert_int_eq(runk(H_TOKEN, "", out, sizeof(out)), 2);
	ck_assert_int_eq(runk(H_TOKEN, "launch", out, sizeof(out)), 2);
	ck_assert_int_eq(runk(H_TOKEN, "stats extra", out, sizeof(out)), 2);
	ck_assert_int_eq(runk(H_TOKEN, "stats --bogus", out, sizeof(out)), 2);
	ck_assert_int_eq(runk(H_TOKEN, "gate --min-conversion 180", out,
	    sizeof(out)), 2);
	ck_assert_int_eq(run("stats", out, sizeof(out)), 2);   /* no URL */
	ck_assert_msg(strstr(out, "SMSVERIFY_URL") != NULL, "%s", out);
	/* A bad token: 401, exit 2, and the token is not printed. */
	ck_assert_int_eq(runk("wrong-token-98765", "stats", out,
	    sizeof(out)), 2);
	ck_assert_msg(strstr(out, "401") != NULL, "%s", out);
	ck_assert(strstr(out, "wrong-token-98765") == NULL);
	/* Connection refused: the daemon is gone. */
	ck_assert_int_eq(h_daemon_stop(&H, SIGTERM), 0);
	ck_assert_int_eq(runk(H_TOKEN, "stats", out, sizeof(out)), 2);
	ck_assert(strstr(out, H_TOKEN) == NULL);
	ck_assert_int_eq(runk(H_TOKEN, "gate --min-conversion 80", out,
	    sizeof(out)), 2);
}
END_TEST


/* A hostile HTTP peer on a port of its own (returned), in a child
 * (*pid): mode 'b' answers 200 with a body of 9 MiB, 'n' 200 with text
 * that is not JSON, 's' reads the request and never answers.  Each
 * connection at a time, for at most 20 s (alarm). */
static int
hostile_start(int mode, pid_t *pid)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*pid = fork();
	ck_assert_int_ge(*pid, 0);
	if (*pid == 0) {
		static char chunk[65536], req[4096];
		const char *head = "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/json\r\nConnection: close\r\n\r\n";
		alarm(20);
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				_exit(0);
			if (read(c, req, sizeof(req)) <= 0) {
				close(c);
				continue;
			}
			if (mode == 's') {
				sleep(20);
				_exit(0);
			}
			if (write(c, head, strlen(head)) < 0)
				_exit(1);
			if (mode == 'n') {
				if (write(c, "<html>hello</html>", 18) < 0)
					_exit(1);
			} else {
				memset(chunk, ' ', sizeof(chunk));
				chunk[0] = '[';
				for (int i = 0; i < 9 * 16; i++)
					if (write(c, chunk, sizeof(chunk)) < 0)
						break;
			}
			close(c);
		}
	}
	close(fd);
	return ntohs(a.sin_port);
}

static void
hostile_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

START_TEST(ctl_hostile_server)
{
	char out[8192], args[256];
	double t0;
	pid_t pid;
	int port;

	/* An answer past the cap: refused, exit 2. */
	port = hostile_start('b', &pid);
	snprintf(args, sizeof(args), "-u http://127.0.0.1:%d -k %s stats",
	    port, H_TOKEN);
	ck_assert_int_eq(run(args, out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "larger than") != NULL, "%s", out);
	hostile_stop(pid);
	/* Not JSON: exit 2. */
	port = hostile_start('n', &pid);
	snprintf(args, sizeof(args), "-u http://127.0.0.1:%d -k %s gate "
	    "--min-conversion 80", port, H_TOKEN);
	ck_assert_int_eq(run(args, out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "not JSON") != NULL, "%s", out);
	hostile_stop(pid);
	/* Silence: the timeout ends it, exit 2, well before the peer
	 * would give up. */
	port = hostile_start('s', &pid);
	snprintf(args, sizeof(args), "-u http://127.0.0.1:%d -k %s "
	    "--timeout 1 test-code +15005550001", port, H_TOKEN);
	t0 = (double)h_now_ms();
	ck_assert_int_eq(run(args, out, sizeof(out)), 2);
	ck_assert_msg((double)h_now_ms() - t0 < 15000, "took %.0f ms",
	    (double)h_now_ms() - t0);
	ck_assert_msg(strstr(out, "imeout") != NULL ||
	    strstr(out, "timed out") != NULL, "%s", out);
	hostile_stop(pid);
}
END_TEST

static Suite *
ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	const struct h_test tests[] = {
		{ "ctl_stats", ctl_stats, 1 },
		{ "ctl_gate", ctl_gate, 1 },
		{ "ctl_test_code", ctl_test_code, 1 },
		{ "ctl_shield", ctl_shield, 1 },
		{ "ctl_usage_and_connection", ctl_usage_and_connection, 1 },
		{ "ctl_hostile_server", ctl_hostile_server, 1 },
	};

	h_add_tests(s, tests, sizeof(tests) / sizeof(tests[0]), setup,
	    teardown);
	return s;
}

int
main(void)
{
	return h_run_suite(ctl_suite());
}
