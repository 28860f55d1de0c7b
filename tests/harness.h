/*
 * harness.h - integration test harness: runs the SMSC simulator and
 * smsverifyd as real processes on free loopback ports in a temporary
 * directory, talks HTTP to the daemon like an integrator, and reads codes
 * from the simulator's handset log like a person reading their phone.
 * Every wait is bounded.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <sys/types.h>
#include <check.h>
#include <jansson.h>

#define H_TOKEN "test-token-0123456789abcdef"
#define H_EXTRA_SIMS 2
/* Bounds of the waits the helpers below make: generous, for a loaded
 * two-core machine under ASan; a test that passes waits far less. */
#define H_SMS_WAIT_MS 20000    /* a message reaching a handset log */
#define H_STATE_WAIT_MS 30000  /* a verification reaching a state */
#define H_LOG_WAIT_MS 10000    /* a line reaching the daemon's log */

/* A further simulator (the second and third SMSC).  It runs only when a
 * test names it; its [smsc NAME] section is then written with its port,
 * system_id "smsverify" and password "secret1" (the simulator's). */
struct h_sim {
	char name[33];        /* [smsc NAME]; empty: not used */
	int port;
	pid_t pid;
	char args[256];       /* extra simulator arguments */
	char handset[320];    /* its own handset log */
	char log[320];        /* its stderr */
};

struct harness {
	char dir[256];
	char conf[320];
	char handset[320];
	char daemon_log[320];
	char sim_log[320];
	int sim_port, http_port;
	pid_t sim_pid, daemon_pid;
	/* settings written into the configuration */
	int expiry;
	int max_checks;
	int submit_wait_ms;
	char map_size[16];    /* [store] map_size, default 64M */
	char country[4];      /* [verify] default_country, default US */
	char sim_args[256];   /* extra simulator arguments */
	char server_extra[256]; /* more lines for the [server] section */
	char log_level[8];    /* [server] log_level; empty: debug */
	char extra_conf[1024];
	/* the first simulator's [smsc NAME] ("sim"; empty: the
	 * configuration has no section for it, as a reload may add one) and
	 * the password the daemon binds it with ("secret1", what the
	 * simulator expects) */
	char sim_name[33];
	char smsc_password[16];
	char smsc_extra[256];  /* more lines for the first [smsc] section */
	int response_timeout;  /* every [smsc]'s response_timeout, s (5) */
	char key_extra[512];   /* more lines for [key test] */
	/* tests/hook_sink, a webhook receiver, when a test starts it */
	int hook_port;
	pid_t hook_pid;
	char hook_log[320];    /* one JSON line per request it answered */
	char hook_stderr[320];
	struct h_sim sims[H_EXTRA_SIMS];
	/* HTTPS: when set, h_http() and every helper on it speak TLS to the
	 * daemon and trust only this CA (h_tls_make() makes one). */
	char tls_ca[320];
	/* When set, h_daemon_start() runs smsverifyd through this command
	 * (its words split at spaces, then the daemon's argv), e.g.
	 * "tests/seccomp_run UNIT".  h_init() sets it from $SV_DAEMON_WRAP
	 * when that is set. */
	char daemon_wrap[320];
	char verify_extra[256]; /* more lines for the [verify] section */
	char store_extra[256];  /* more lines for the [store] section */
};

/* Cut ASan's quarantine of freed blocks to mb MB for the daemons this
 * process starts after (they inherit ASAN_OPTIONS; other builds ignore
 * it), so that their resident memory measures live memory: at the default
 * 256 MB, freed blocks held back make a bounded flood look like growth. */
void h_asan_quarantine_mb(int mb);

/* Make the directory (under $SV_TMPDIR when set, else /tmp) and pick
 * ports; nothing runs yet.  0 or -1. */
int h_init(struct harness *);
/* Start the simulator on h->sim_port (with h->sim_args).  0 or -1. */
int h_sim_start(struct harness *);
/* Stop it (SIGTERM, bounded wait); returns its exit status or -1. */
int h_sim_stop(struct harness *);
/* Start or stop the extra simulator h->sims[i] (0 <= i < H_EXTRA_SIMS),
 * which must have a name.  As h_sim_start() / h_sim_stop(). */
int h_xsim_start(struct harness *, int i);
int h_xsim_stop(struct harness *, int i);
/* Start tests/hook_sink on h->hook_port (args: e.g. "--fail-first 2"),
 * logging to h->hook_log, or stop it.  As h_sim_start() / h_sim_stop().
 * Its URL is http://127.0.0.1:PORT/hook, or https:// when args has
 * --tls-cert and --tls-key. */
int h_hook_start(struct harness *, const char *args);
int h_hook_stop(struct harness *);
/* Write the configuration and start smsverifyd; wait (bounded) until
 * /healthz answers and, when want_bound, an SMSC is bound.  0 or -1. */
int h_daemon_start(struct harness *, int want_bound);
/* The simulator, then smsverifyd bound to it; the test fails (naming the
 * daemon's log) when either does not come up. */
void h_start_all(struct harness *);
/* The simulators "a" (the first) and "b" (h->sims[0]), then smsverifyd
 * with extra_conf (e.g. a [route]) added to its configuration; waits
 * until both SMSCs are bound.  The test fails when any does not come up. */
void h_start_two(struct harness *, const char *extra_conf);
/* Write the configuration again from h (as h_daemon_start() does), send
 * SIGHUP and wait (bounded by H_LOG_WAIT_MS) until the daemon logs that
 * it swapped it in (event=gw.reloaded) or refused it
 * (event=gw.reload_refused).  0 when it was swapped in; -1 when it was
 * refused or nothing was logged in time. */
int h_daemon_reload(struct harness *);
/* Send sig and wait (bounded); returns the exit status or -1. */
int h_daemon_stop(struct harness *, int sig);
/* Stop whatever runs and remove the directory (unless SV_KEEP is set).
 * A second call does nothing. */
void h_fini(struct harness *);

/* One HTTP request (Connection: close).  Returns the status or -1; the
 * body goes to out (NUL-terminated).  token NULL sends no Authorization;
 * ctype NULL means application/json. */
int h_http(struct harness *, const char *method, const char *path,
    const char *ctype, const char *token, const char *body, char *out,
    size_t outsize);
/* One plain-TCP request, Connection: close, keeping the whole answer
 * (status line and headers too) in out, NUL-terminated, and its length
 * in *got unless got is NULL (a body may hold NULs).  token and body
 * (JSON, with its Content-Type) may be NULL.  Returns the status or -1. */
int h_http_raw(struct harness *, const char *method, const char *path,
    const char *token, const char *body, char *out, size_t size,
    size_t *got);
/* The same with the answer parsed as JSON (NULL when it is not). */
json_t *h_json(struct harness *, const char *method, const char *path,
    const char *body, int *status);
/* POST /v1/verifications with the JSON body; the test fails unless the
 * answer is JSON with HTTP status want_status.  Copies the answer's id
 * into id unless id is NULL; returns the answer (the caller frees it). */
json_t *h_send(struct harness *, const char *body, char *id, size_t idsize,
    int want_status);
/* h_send() of {"phone": phone}. */
json_t *h_send_code(struct harness *, const char *phone, char *id,
    size_t idsize, int want_status);
/* POST /v1/verifications/check of code for id; *status gets the HTTP
 * status.  Returns the answer (the caller frees it; NULL: not JSON). */
json_t *h_check(struct harness *, const char *id, const char *code,
    int *status);
/* 1 when h_check() answers 200 with "valid": true, else 0. */
int h_code_valid(struct harness *, const char *id, const char *code);
/* GET /v1/verifications/ID; the test fails unless it answers 200 with
 * JSON.  The caller frees the answer. */
json_t *h_get_verif(struct harness *, const char *id);
/* Wait (bounded by H_STATE_WAIT_MS) until GET /v1/verifications/ID shows
 * the string member key equal to want (e.g. "status" "expired",
 * "send_status" "sent"); the test fails, with the last value seen, when it
 * never does. */
void h_wait_verif(struct harness *, const char *id, const char *key,
    const char *want);
/* Wait (bounded by H_STATE_WAIT_MS) until the receipt of id's first
 * attempt has come (its "delivery" is no longer "pending"); the test fails
 * unless it came and says want ("delivered", "undeliverable"). */
void h_wait_delivery(struct harness *, const char *id, const char *want);
/* Read a code as a person reads their phone: wait (bounded by
 * H_SMS_WAIT_MS) for the nth message to phone in the handset log, copy
 * its text (unless text is NULL) and the code in it.  The test fails,
 * naming the handset log, when no such message comes or it holds no
 * code.  h_read_code() is h_read_sms() without the text. */
void h_read_sms(const char *handset, const char *phone, int nth, char *text,
    size_t tsize, char *code, size_t csize);
void h_read_code(const char *handset, const char *phone, int nth,
    char *code, size_t csize);
/* The entry called name in the "smscs" array of a GET /v1/smscs answer,
 * or NULL (borrowed from list). */
json_t *h_smsc_entry(json_t *list, const char *name);
/* Run the suite: every test directory under one base directory (a forked
 * test that fails an assertion never runs its teardown, so main removes
 * the base at the end, unless SV_KEEP is set).  Returns main's exit
 * status: 0 when every test passed. */
int h_run_suite(Suite *);
/* A test case of an end-to-end suite: test, run loops times (_i from 0;
 * 0 means once). */
struct h_test {
	const char *name;
	const TTest *test;
	int loops;
};
/* Add the n test cases to s, each run between setup and teardown and
 * bounded by two minutes. */
void h_add_tests(Suite *s, const struct h_test *tests, size_t n,
    SFun setup, SFun teardown);

/* Wait (bounded by timeout_ms) for the nth (1-based) message to phone in
 * the handset log; copy its text.  0 or -1. */
int h_wait_sms(struct harness *, const char *phone, int nth, char *text,
    size_t size, int timeout_ms);
/* Messages to phone in the handset log now. */
int h_count_sms(struct harness *, const char *phone);
/* h_wait_sms() and h_count_sms() on another handset log (e.g. an extra
 * simulator's h->sims[i].handset). */
int h_wait_sms_in(const char *handset, const char *phone, int nth,
    char *text, size_t size, int timeout_ms);
int h_count_sms_in(const char *handset, const char *phone);
/* Every line of a handset log as a JSON array of objects (lines that are
 * not JSON are left out); an empty array when there is no file.  The
 * caller frees it. */
json_t *h_handset_read(const char *handset);
/* Wait (bounded) until /healthz reports at least n SMSCs up.  0 or -1. */
int h_wait_up(struct harness *, int n, int timeout_ms);
/* Wait (bounded) until /healthz reports nothing queued and nothing in
 * flight.  0 or -1. */
int h_wait_idle(struct harness *, int timeout_ms);
/* Lines of the file that contain s (0 when there is no file). */
int h_count_lines(const char *path, const char *s);
/* Wait (bounded by timeout_ms) until a line of the file contains s (log
 * lines may leave in batches); returns h_count_lines() then.
 * h_wait_lines_n() waits until n lines do. */
int h_wait_lines(const char *path, const char *s, int timeout_ms);
int h_wait_lines_n(const char *path, const char *s, int n, int timeout_ms);
/* The string member k of the object j, or "" when it is not one. */
const char *h_jstr(json_t *j, const char *k);
/* Milliseconds on a monotonic clock. */
long long h_now_ms(void);
/* The first run of 4..12 digits in text.  0 or -1. */
int h_code_of(const char *text, char *code, size_t size);
/* 1 when the file contains s. */
int h_file_contains(const char *path, const char *s);
/* The value of header name (any case) in an answer's status line and
 * headers (resp, up to its blank line), into val; "" when absent.
 * Returns val. */
const char *h_header_of(const char *resp, const char *name, char *val,
    size_t size);
/* Write the configuration from h as h_daemon_start() would, starting
 * nothing (for smsverifyd -t).  0 or -1. */
int h_write_conf(struct harness *);
/* Make a certificate for 127.0.0.1 (CN=name) and its key, signed by a
 * test CA made on the first call, in h->dir: name.pem, name.key, and the
 * CA's ca.pem (copied into h->tls_ca).  Uses the openssl command.  0 or
 * -1. */
int h_tls_make(struct harness *, const char *name);
/* A TLS client on the connected socket fd trusting ca (checks the
 * certificate and that it names 127.0.0.1), offering at most max_version
 * (0: any; e.g. TLS1_1_VERSION).  Returns the SSL (an SSL *; the caller
 * SSL_free()s it and closes fd), or NULL with OpenSSL's reason in err. */
void *h_tls_connect(int fd, const char *ca, int max_version, char *err,
    size_t errsize);
/* The CN of the certificate the peer of ssl showed, into buf; "" when
 * none.  Returns buf. */
const char *h_tls_peer_cn(void *ssl, char *buf, size_t size);
/* A TCP connection to 127.0.0.1:port (receive and send timeouts of 15 s),
 * or -1. */
int h_connect(int port);

/* Sleep a little (polling helper). */
void h_nap_ms(int ms);

/* A request left in flight, for tests that need many at once or their own
 * headers: connect, write the request (Connection: close, token as a
 * Bearer when not NULL, headers: more header lines, each ending in
 * "\r\n", or NULL) and return the socket, or -1.  h_req_finish() reads
 * its answer (bounded by timeout_ms): the status (-1 when none came) and
 * the body into out; it closes fd. */
int h_req_start(struct harness *, const char *method, const char *path,
    const char *token, const char *headers, const char *body);
int h_req_finish(int fd, char *out, size_t outsize, int timeout_ms);

#endif
