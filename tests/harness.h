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
#include <jansson.h>

#define H_TOKEN "test-token-0123456789abcdef"
#define H_EXTRA_SIMS 2

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
	char extra_conf[1024];
	/* the first simulator's [smsc NAME] ("sim") and the password the
	 * daemon binds it with ("secret1", what the simulator expects) */
	char sim_name[33];
	char smsc_password[16];
	char smsc_extra[256];  /* more lines for the first [smsc] section */
	char key_extra[512];   /* more lines for [key test] */
	/* tests/hook_sink, a webhook receiver, when a test starts it */
	int hook_port;
	pid_t hook_pid;
	char hook_log[320];    /* one JSON line per request it answered */
	char hook_stderr[320];
	struct h_sim sims[H_EXTRA_SIMS];
};

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
/* The same with the answer parsed as JSON (NULL when it is not). */
json_t *h_json(struct harness *, const char *method, const char *path,
    const char *body, int *status);
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
 * lines may leave in batches); returns h_count_lines() then. */
int h_wait_lines(const char *path, const char *s, int timeout_ms);
/* The string member k of the object j, or "" when it is not one. */
const char *h_jstr(json_t *j, const char *k);
/* Milliseconds on a monotonic clock. */
long long h_now_ms(void);
/* The first run of 4..12 digits in text.  0 or -1. */
int h_code_of(const char *text, char *code, size_t size);
/* 1 when the file contains s. */
int h_file_contains(const char *path, const char *s);
/* Sleep a little (polling helper). */
void h_nap_ms(int ms);

#endif
