/*
 * conf.c - the configuration file: INI text into struct conf.
 *
 * Loading runs in two passes.  The first is libinih's: ini_parse_stream()
 * pulls the text one line at a time through reader(), which counts lines
 * (the distro inih passes no line number to the handler) and also sees
 * every section header, so repeated, empty and unknown sections are all
 * noticed.  handler() then records each key's raw value and line in its
 * section, rejecting unknown keys and keys given twice.  The second pass
 * converts every value through the key tables below - one line per key
 * with its type, bounds and default, in the manner of Redis' config.c;
 * the type is the converter, one small conv_*() function per type of
 * value, all of them in conf_value.c (what each type accepts, including
 * the check of [template NAME] texts) - and then validates the file as a
 * whole (cross references between routes and SMSCs, unique tokens, at
 * least one SMSC and one key).
 *
 * Every problem found is reported, not just the first: errors are
 * collected with their line, sorted, and returned as text with one
 * "FILE:LINE: [section NAME] key: message" line each.  Values of
 * passwords and tokens are never echoed in those messages.
 *
 * A struct conf is built whole or not at all and is never changed after
 * conf_load() returns it; its strings belong to it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"
#include "conf_value.h"
#include "redis.h"
#include "template.h"
#include "util.h"

#define CONF_MAX_FILE   (1024 * 1024)   /* octets */
#define CONF_MAX_ERRORS 100             /* lines of error text */
#define CONF_NAME_MAX   32              /* [smsc NAME], [key NAME]... */

struct sdef {
	const char *kind;
	int named;                /* [kind NAME] */
	const struct kdef *keys;
	size_t nkeys;
};

static const char *const levels[] = { "debug", "info", "warn", "error",
    NULL };
static const char *const binds[] = { "transceiver", "transmitter", NULL };
static const char *const codings[] = { "gsm", "latin1", NULL };
/* enum conf_msgid order. */
static const char *const msgid_modes[] = { "auto", "string", "hex-dec",
    "dec-hex", NULL };
static const char *const yesno[] = { "no", "yes", NULL };
static const char *const long_modes[] = { "udh", "payload", NULL };
/* enum conf_test_delivery order. */
static const char *const deliveries[] = { "delivered", "undeliverable",
    "expired", "none", NULL };
/* enum conf_backend order. */
static const char *const backends[] = { "lmdb", "redis", NULL };
/* enum conf_role order. */
static const char *const roles[] = { "client", "admin", "test", NULL };

#define C(f) offsetof(struct conf, f)
static const struct kdef server_keys[] = {
	{ "listen", conv_hostport, 0, 65535, "127.0.0.1:8080", 0,
	    C(listen_host), C(listen_port), NULL },
	{ "secret_file", conv_path, 1, 4095, "var/secret", 0, C(secret_file), 0,
	    NULL },
	{ "max_connections", conv_int, 0, 1000000, "0", 0, C(max_connections),
	    0, NULL },
	{ "request_timeout", conv_int, 1, 300, "10", 0, C(request_timeout), 0,
	    NULL },
	{ "submit_wait_ms", conv_int, 0, 30000, "3000", 0, C(submit_wait_ms), 0,
	    NULL },
	{ "webhook_retry", conv_int, 60, 604800, "86400", 0, C(webhook_retry),
	    0, NULL },
	{ "webhook_ca_file", conv_path, 1, 4095, NULL, 0, C(webhook_ca_file), 0,
	    NULL },
	{ "log_level", conv_enumstr, 0, 0, "info", 0, C(log_level), 0, levels },
	{ "tls_cert", conv_path, 1, 4095, NULL, 0, C(tls_cert), 0, NULL },
	{ "tls_key", conv_path, 1, 4095, NULL, 0, C(tls_key), 0, NULL },
	{ "idempotency_inflight", conv_int, 1, 1000000, "10000", 0,
	    C(idem_inflight), 0, NULL },
};

static const struct kdef store_keys[] = {
	{ "path", conv_path, 1, 4095, "var/db", 0, C(store_path), 0, NULL },
	{ "map_size", conv_size, MB, TB, "1G", 0, C(map_size), 0, NULL },
	{ "sweep_interval", conv_int, 1, 3600, "1", 0, C(sweep_interval), 0,
	    NULL },
	{ "sweep_batch", conv_int, 1, 100000, "256", 0, C(sweep_batch), 0,
	    NULL },
	{ "retention", conv_int, 0, 31536000, "86400", 0, C(retention), 0,
	    NULL },
	{ "stats_retention", conv_int, 3600, 31536000, "2592000", 0,
	    C(stats_retention), 0, NULL },
	{ "backend", conv_enum, 0, 0, "lmdb", 0, C(store_backend), 0,
	    backends },
	{ "redis", conv_word, 1, 200, NULL, 0, C(redis_addr), 0, NULL },
	{ "redis_password_file", conv_path, 1, 4095, NULL, 0,
	    C(redis_password_file), 0, NULL },
	{ "redis_db", conv_int, 0, 1000000, "0", 0, C(redis_db), 0, NULL },
	{ "redis_prefix", conv_word, 1, 48, "smsverify", 0, C(redis_prefix),
	    0, NULL },
	{ "node", conv_word, 1, 32, NULL, 0, C(node), 0, NULL },
	{ "node_lease", conv_int, 2, 3600, "10", 0, C(node_lease), 0, NULL },
	{ "redis_wait_replicas", conv_int, 0, 16, "0", 0,
	    C(redis_wait_replicas), 0, NULL },
	{ "redis_wait_ms", conv_int, 10, 1500, "1000", 0, C(redis_wait_ms), 0,
	    NULL },
	{ "redis_sentinel", conv_str, 1, 600, NULL, 0, C(redis_sentinel), 0,
	    NULL },
	{ "redis_master", conv_word, 1, 64, NULL, 0, C(redis_master), 0, NULL },
	{ "redis_sentinel_password_file", conv_path, 1, 4095, NULL, 0,
	    C(redis_sentinel_password_file), 0, NULL },
};

static const struct kdef verify_keys[] = {
	{ "code_length", conv_int, 4, 12, "6", 0, C(code_length), 0, NULL },
	{ "expiry", conv_int, 1, 86400, "600", 0, C(expiry), 0, NULL },
	{ "max_check_attempts", conv_int, 1, 100, "5", 0, C(max_check_attempts),
	    0, NULL },
	{ "repeat_window", conv_int, 0, 86400, "600", 0, C(repeat_window), 0,
	    NULL },
	{ "sender", conv_sender, 0, 0, "Verify", 0, C(sender), 0, NULL },
	{ "default_country", conv_country, 0, 0, "US", 0, C(default_country), 0,
	    NULL },
	{ "refuse_types", conv_phonetypes, 0, 0, "fixed_line premium_rate "
	    "shared_cost voip toll_free uan voicemail", 0, C(refuse_types), 0,
	    NULL },
	{ "min_useful", conv_int, 0, 86400, "60", 0, C(min_useful), 0, NULL },
	{ "queue_max", conv_int, 16, 10000000, "100000", 0, C(queue_max), 0,
	    NULL },
};

/* [limits], and the same keys in [key NAME] without defaults (a key that
 * leaves one out inherits [limits]'): T the struct, D a default or NULL. */
#define LIMIT_KEYS(T, D) \
	{ "resend_interval", conv_int, 0, 86400, D("30"), 0, \
	    offsetof(T, limits.resend_interval), 0, NULL }, \
	{ "sends_per_phone", conv_rate, 1, 1000000, D("5/10m"), 0, \
	    offsetof(T, limits.sends_per_phone), 0, NULL }, \
	{ "sends_per_key", conv_rate, 1, 100000000, D("0"), 0, \
	    offsetof(T, limits.sends_per_key), 0, NULL }, \
	{ "sends_per_ip", conv_rate, 1, 1000000, D("10/1h"), 0, \
	    offsetof(T, limits.sends_per_ip), 0, NULL }, \
	{ "sends_per_range", conv_rate, 1, 100000000, D("200/1h"), 0, \
	    offsetof(T, limits.sends_per_range), 0, NULL }, \
	{ "range_digits", conv_int, 1, 15, D("8"), 0, \
	    offsetof(T, limits.range_digits), 0, NULL }, \
	{ "failed_checks_per_phone", conv_rate, 1, 1000000, D("20/1d"), 0, \
	    offsetof(T, limits.failed_checks_per_phone), 0, NULL }
#define LIMIT_DEFAULT(v) v
#define LIMIT_INHERIT(v) NULL
static const struct kdef limits_keys[] = {
	LIMIT_KEYS(struct conf, LIMIT_DEFAULT),
};
#undef C

#define S(f) offsetof(struct conf_smsc, f)
static const struct kdef smsc_keys[] = {
	{ "host", conv_word, 1, 255, NULL, 1, S(host), 0, NULL },
	{ "port", conv_int, 1, 65535, "2775", 0, S(port), 0, NULL },
	{ "system_id", conv_str, 1, 15, NULL, 1, S(system_id), 0, NULL },
	{ "password", conv_str, 0, 8, "", 0, S(password), 0, NULL },
	{ "system_type", conv_str, 0, 12, "", 0, S(system_type), 0, NULL },
	{ "bind", conv_enum, 0, 0, "transceiver", 0, S(bind), 0, binds },
	{ "sessions", conv_int, 1, 64, "1", 0, S(sessions), 0, NULL },
	{ "window", conv_int, 1, 1000, "10", 0, S(window), 0, NULL },
	{ "throughput", conv_int, 0, 100000, "0", 0, S(throughput), 0, NULL },
	{ "enquire_link", conv_int, 1, 3600, "30", 0, S(enquire_link), 0,
	    NULL },
	{ "response_timeout", conv_int, 1, 300, "10", 0, S(response_timeout), 0,
	    NULL },
	{ "reconnect_min_ms", conv_int, 10, 600000, "500", 0,
	    S(reconnect_min_ms), 0, NULL },
	{ "reconnect_max_ms", conv_int, 10, 3600000, "30000", 0,
	    S(reconnect_max_ms), 0, NULL },
	{ "data_coding_default", conv_enum, 0, 0, "gsm", 0, S(latin1_default),
	    0, codings },
	{ "message_id", conv_enum, 0, 0, "auto", 0, S(msgid_mode), 0,
	    msgid_modes },
	{ "tls", conv_enum, 0, 0, "no", 0, S(tls), 0, yesno },
	{ "long_messages", conv_enum, 0, 0, "udh", 0, S(long_payload), 0,
	    long_modes },
	{ "source_ton", conv_int, -1, 6, "-1", 0, S(source_ton), 0, NULL },
	{ "source_npi", conv_int, -1, 18, "-1", 0, S(source_npi), 0, NULL },
	{ "tls_ca_file", conv_path, 1, 4095, NULL, 0, S(tls_ca_file), 0, NULL },
	{ "tls_server_name", conv_word, 1, 255, NULL, 0, S(tls_server_name), 0,
	    NULL },
	{ "cancel", conv_enum, 0, 0, "no", 0, S(cancel), 0, yesno },
};
#undef S

#define R(f) offsetof(struct conf_route, f)
static const struct kdef route_keys[] = {
	{ "prefix", conv_prefixes, 0, 0, NULL, 1, R(prefixes), R(nprefix),
	    NULL },
	{ "smsc", conv_smsclist, 0, 0, NULL, 1, R(smsc), R(nsmsc), NULL },
	{ "floor", conv_int, 0, 100, "20", 0, R(floor), 0, NULL },
	{ "window", conv_int, 10, 86400, "600", 0, R(window), 0, NULL },
	{ "min_sample", conv_int, 1, 100000, "20", 0, R(min_sample), 0, NULL },
	{ "probe", conv_int, 0, 100, "5", 0, R(probe), 0, NULL },
	{ "grace", conv_int, 0, 3600, "120", 0, R(grace), 0, NULL },
};
#undef R

#define K(f) offsetof(struct conf_key, f)
static const struct kdef key_keys[] = {
	{ "token", conv_token, 16, 256, NULL, 1, K(token), 0, NULL },
	{ "countries", conv_countries, 0, 0, NULL, 0, K(countries),
	    K(ncountry), NULL },
	{ "role", conv_enum, 0, 0, "client", 0, K(role), 0, roles },
	{ "webhook", conv_url, 0, 2048, NULL, 0, K(webhook), 0, NULL },
	{ "webhook_secret", conv_str, 1, 256, NULL, 0, K(webhook_secret), 0,
	    NULL },
	{ "language", conv_lang, 0, 0, NULL, 0, K(language), 0, NULL },
	{ "country", conv_country, 0, 0, NULL, 0, K(country), 0, NULL },
	{ "template", conv_tmplname, 0, 0, NULL, 0, K(tmpl), 0, NULL },
	LIMIT_KEYS(struct conf_key, LIMIT_INHERIT),
};
#undef K

#define C(f) offsetof(struct conf, f)
static const struct kdef shield_keys[] = {
	{ "countries", conv_countries, 0, 0, NULL, 0, C(shield_countries),
	    C(nshield_country), NULL },
	{ "conversion_floor", conv_int, 0, 100, "10", 0, C(shield_floor), 0,
	    NULL },
	{ "window", conv_int, 10, 604800, "3600", 0, C(shield_window), 0,
	    NULL },
	{ "min_sample", conv_int, 1, 1000000, "50", 0, C(shield_min_sample),
	    0, NULL },
	{ "cooldown", conv_int, 1, 2592000, "3600", 0, C(shield_cooldown), 0,
	    NULL },
	{ "grace", conv_int, 0, 86400, "120", 0, C(shield_grace), 0, NULL },
	{ "max_ranges", conv_int, 16, 10000000, "20000", 0,
	    C(shield_max_ranges), 0, NULL },
};
#undef C

#define M(f) offsetof(struct conf_template, f)
static const struct kdef template_keys[] = {
	{ "text", conv_template, 0, 0, NULL, 1, M(text), 0, NULL },
};
#undef M

#define T(f) offsetof(struct conf_test, f)
static const struct kdef test_keys[] = {
	{ "numbers", conv_testnumbers, 0, 0, NULL, 1, T(ranges), T(nrange),
	    NULL },
	{ "code", conv_digits, 4, 12, NULL, 0, T(code), 0, NULL },
	{ "delivery", conv_enum, 0, 0, "delivered", 0, T(delivery), 0,
	    deliveries },
	{ "delay", conv_int, 0, 86400, "1", 0, T(delay), 0, NULL },
	{ "refuse", conv_smppstatus, 0, 0, NULL, 0, T(refuse), 0, NULL },
};
#undef T

#define N(f) offsetof(struct conf_number, f)
static const struct kdef number_keys[] = {
	{ "address", conv_word, 3, 16, NULL, 1, N(address), 0, NULL },
	{ "key", conv_word, 1, 64, NULL, 1, N(key_name), 0, NULL },
};
#undef N

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))
enum { SD_SERVER, SD_STORE, SD_VERIFY, SD_SMSC, SD_ROUTE, SD_KEY,
    SD_TEMPLATE, SD_SHIELD, SD_LIMITS, SD_TEST, SD_NUMBER, SD_N };
static const struct sdef sections[SD_N] = {
	[SD_SERVER] = { "server", 0, server_keys, NKEYS(server_keys) },
	[SD_STORE] = { "store", 0, store_keys, NKEYS(store_keys) },
	[SD_VERIFY] = { "verify", 0, verify_keys, NKEYS(verify_keys) },
	[SD_SMSC] = { "smsc", 1, smsc_keys, NKEYS(smsc_keys) },
	[SD_ROUTE] = { "route", 1, route_keys, NKEYS(route_keys) },
	[SD_KEY] = { "key", 1, key_keys, NKEYS(key_keys) },
	[SD_TEMPLATE] = { "template", 1, template_keys,
	    NKEYS(template_keys) },
	[SD_SHIELD] = { "shield", 0, shield_keys, NKEYS(shield_keys) },
	[SD_LIMITS] = { "limits", 0, limits_keys, NKEYS(limits_keys) },
	[SD_TEST] = { "test", 1, test_keys, NKEYS(test_keys) },
	[SD_NUMBER] = { "number", 1, number_keys, NKEYS(number_keys) },
};

/* One section as written in the file, with its keys' raw values. */
struct sect {
	const struct sdef *def;
	char *name;               /* NULL for the unnamed: [server]... */
	int line;                 /* of the header */
	int dup;                  /* a repeat of an earlier section: skipped */
	char **raw;               /* per key of def: as written, or NULL */
	int *lines;               /* per key: its line, 0 when not given */
};

struct err {
	int line;
	int seq;                  /* order of discovery, for a stable sort */
	char *text;
};

/* What reader() learned about the line inih is about to process. */
enum line_kind { L_BLANK, L_HEADER, L_KEY, L_CONT, L_BAD };

struct parser {
	const char *file;
	const char *text;
	size_t len, pos;
	int line;                 /* the line inih is processing */
	int lines;                /* lines read so far */
	enum line_kind kind;
	int prev_name;            /* mirror of inih's prev_name being set */
	int in_section;           /* a header was seen */
	struct sect *cur;         /* NULL: keys go nowhere (bad section) */
	struct sect *sects;
	int nsect;
	struct err *errs;
	int nerr;
	struct conf *conf;
};

static void vperr(struct parser *, int line, const struct sect *,
    const char *key, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static void perr(struct parser *, int line, const struct sect *,
    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Record one problem: "FILE:LINE: [kind NAME] key: message". */
static void
vperr(struct parser *p, int line, const struct sect *s, const char *key,
    const char *fmt, va_list ap)
{
	char msg[512], where[160] = "";
	struct err *e;
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (s != NULL && s->name != NULL)
		snprintf(where, sizeof(where), "[%s %s] ", s->def->kind,
		    s->name);
	else if (s != NULL)
		snprintf(where, sizeof(where), "[%s] ", s->def->kind);
	p->errs = xrealloc(p->errs, (size_t)(p->nerr + 1) * sizeof(*p->errs));
	e = &p->errs[p->nerr];
	e->line = line;
	e->seq = p->nerr++;
	n = snprintf(NULL, 0, "%s:%d: %s%s%s%s", p->file, line, where,
	    key ? key : "", key ? ": " : "", msg);
	e->text = xmalloc((size_t)n + 1);
	snprintf(e->text, (size_t)n + 1, "%s:%d: %s%s%s%s", p->file, line,
	    where, key ? key : "", key ? ": " : "", msg);
}

/* vperr() with its arguments. */
static void
perr(struct parser *p, int line, const struct sect *s, const char *key,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, line, s, key, fmt, ap);
	va_end(ap);
}

/* 1 when a problem is already recorded at line. */
static int
has_error_at(const struct parser *p, int line)
{
	int i;

	for (i = 0; i < p->nerr; i++)
		if (p->errs[i].line == line)
			return 1;
	return 0;
}

/* --- first pass: lines, sections, raw values ------------------------ */

/* inih's own skipping rules, mirrored so reader() classifies each line
 * exactly as ini_parse_stream() will treat it. */
static char *
ini_lskip(char *s)
{
	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	return s;
}

static char *
ini_rstrip(char *s)
{
	char *e = s + strlen(s);

	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static char *
ini_find(char *s, const char *chars)
{
	int was_space = 0;

	while (*s != '\0' && (chars == NULL || strchr(chars, *s) == NULL) &&
	    !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* 1 for a section NAME: 1..CONF_NAME_MAX letters, digits, '.', '_', '-'. */
static int
name_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > CONF_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* The definition of section kind, given name (may be ""): NULL after
 * reporting an unknown kind or a name it must not or must have. */
static const struct sdef *
section_def(struct parser *p, const char *kind, const char *name)
{
	const struct sdef *def = NULL;
	int i;

	for (i = 0; i < SD_N; i++)
		if (strcmp(kind, sections[i].kind) == 0)
			def = &sections[i];
	if (def == NULL) {
		if (*name != '\0')
			perr(p, p->line, NULL, NULL,
			    "unknown section [%s %s]", kind, name);
		else
			perr(p, p->line, NULL, NULL, "unknown section [%s]",
			    kind);
		return NULL;
	}
	if (def->named && *name == '\0') {
		perr(p, p->line, NULL, NULL, "section [%s] needs a name: "
		    "[%s NAME]", kind, kind);
		return NULL;
	}
	if (!def->named && *name != '\0') {
		perr(p, p->line, NULL, NULL, "section [%s] takes no name "
		    "(found [%s %s])", kind, kind, name);
		return NULL;
	}
	if (def->named && !name_valid(name)) {
		perr(p, p->line, NULL, NULL, "section name '%s' in [%s ...] "
		    "must be 1..%d letters, digits, '.', '_' or '-'", name,
		    kind, CONF_NAME_MAX);
		return NULL;
	}
	return def;
}

/* Mark s, the newest section, a duplicate when an earlier one has its
 * kind and name, and report it. */
static void
check_duplicate(struct parser *p, struct sect *s)
{
	int i;

	for (i = 0; i < p->nsect - 1; i++) {
		const struct sect *o = &p->sects[i];

		if (o->def == s->def && !o->dup && (s->def->named == 0 ||
		    strcmp(o->name, s->name) == 0)) {
			s->dup = 1;
			perr(p, p->line, s, NULL, "duplicate section (first "
			    "at line %d)", o->line);
			break;
		}
	}
}

/* A "[...]" header: start a new section (or none, when it is bad). */
static void
begin_section(struct parser *p, char *text)
{
	char *kind, *name, *e;
	const struct sdef *def;
	struct sect *s;

	p->in_section = 1;
	p->cur = NULL;
	kind = ini_lskip(text);
	ini_rstrip(kind);
	for (e = kind; *e != '\0' && !isspace((unsigned char)*e); e++)
		;
	name = ini_lskip(e);
	*e = '\0';
	if ((def = section_def(p, kind, name)) == NULL)
		return;
	p->sects = xrealloc(p->sects, (size_t)(p->nsect + 1) *
	    sizeof(*p->sects));
	s = &p->sects[p->nsect++];
	memset(s, 0, sizeof(*s));
	s->def = def;
	s->name = def->named ? xstrdup(name) : NULL;
	s->line = p->line;
	s->raw = xcalloc(def->nkeys, sizeof(*s->raw));
	s->lines = xcalloc(def->nkeys, sizeof(*s->lines));
	check_duplicate(p, s);
	p->cur = s;
}

/* Classify the line inih is about to see, as ini_parse_stream() will. */
static void
classify(struct parser *p, const char *line, int report)
{
	char *copy = xstrdup(line), *start = copy, *end;

	if (p->line == 1 && (unsigned char)start[0] == 0xEF &&
	    (unsigned char)start[1] == 0xBB && (unsigned char)start[2] == 0xBF)
		start += 3;
	start = ini_lskip(ini_rstrip(start));
	if (*start == '\0' || *start == ';' || *start == '#') {
		p->kind = L_BLANK;
	} else if (p->prev_name && start > copy) {
		p->kind = L_CONT;
	} else if (*start == '[') {
		end = ini_find(start + 1, "]");
		if (*end == ']') {
			char *after = ini_lskip(end + 1);

			*end = '\0';
			p->kind = L_HEADER;
			p->prev_name = 0;
			begin_section(p, start + 1);
			if (report && *after != '\0' && *after != ';')
				perr(p, p->line, NULL, NULL, "syntax error: "
				    "text after the section header");
		} else {
			p->kind = L_BAD;
			p->cur = NULL;
			p->in_section = 1;
			if (report)
				perr(p, p->line, NULL, NULL, "syntax error: "
				    "no ']' closes the section header");
		}
	} else {
		end = ini_find(start, "=:");
		if (*end == '=' || *end == ':') {
			*end = '\0';
			p->kind = L_KEY;
			p->prev_name = *ini_rstrip(start) != '\0';
		} else {
			p->kind = L_BAD;
			if (report)
				perr(p, p->line, NULL, NULL, "syntax error: "
				    "expected [section], key = value or a "
				    "comment");
		}
	}
	free(copy);
}

/*
 * inih's line source: the next line of the text into str (at most num - 1
 * octets, like fgets), counting lines.  A longer line is reported and its
 * rest skipped, so line numbers stay right.
 */
static char *
reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	size_t start, end, n;
	int too_long = 0;

	if (p->pos >= p->len || num < 2)
		return NULL;
	start = p->pos;
	for (end = start; end < p->len && p->text[end] != '\n'; end++)
		;
	p->pos = end < p->len ? end + 1 : end;
	p->line = ++p->lines;
	n = end - start;
	if (n > (size_t)num - 1) {
		n = (size_t)num - 1;
		too_long = 1;
		perr(p, p->line, NULL, NULL, "line is longer than %d "
		    "characters", num - 1);
	}
	memcpy(str, p->text + start, n);
	str[n] = '\0';
	classify(p, str, !too_long);
	if (too_long && p->kind != L_HEADER)
		p->kind = L_BAD;
	return str;
}

/* Levenshtein distance, capped: for "did you mean" hints. */
static int
distance(const char *a, const char *b)
{
	int prev[64], cur[64], i, j, la = (int)strlen(a), lb = (int)strlen(b);

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			int c = prev[j - 1] + (a[i - 1] != b[j - 1]);

			if (prev[j] + 1 < c)
				c = prev[j] + 1;
			if (cur[j - 1] + 1 < c)
				c = cur[j - 1] + 1;
			cur[j] = c;
		}
		memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
	}
	return prev[lb];
}

/* inih's callback for each "key = value": record it in the section. */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	struct sect *s = p->cur;
	size_t i;

	(void)section;		/* reader() tracks sections itself */
	if (p->kind == L_BAD)
		return 1;
	if (p->kind == L_CONT) {
		perr(p, p->line, s, NULL, "indented line: continuation lines "
		    "are not supported (remove the leading spaces)");
		return 1;
	}
	if (s == NULL) {
		if (!p->in_section)
			perr(p, p->line, NULL, NULL, "key '%s' is outside any "
			    "section", name);
		return 1;
	}
	for (i = 0; i < s->def->nkeys; i++)
		if (strcmp(name, s->def->keys[i].name) == 0)
			break;
	if (i == s->def->nkeys) {
		const char *hint = NULL;

		for (i = 0; i < s->def->nkeys; i++)
			if (distance(name, s->def->keys[i].name) <= 2)
				hint = s->def->keys[i].name;
		if (hint != NULL)
			perr(p, p->line, s, NULL, "unknown key '%s' (did you "
			    "mean '%s'?)", name, hint);
		else
			perr(p, p->line, s, NULL, "unknown key '%s'", name);
		return 1;
	}
	if (s->lines[i] != 0) {
		perr(p, p->line, s, name, "given twice in this section (first "
		    "at line %d)", s->lines[i]);
		return 1;
	}
	s->raw[i] = xstrdup(value);
	s->lines[i] = p->line;
	return 1;
}

/* --- second pass: values through their converters (conf_value.c) --- */

/* Report a converter's problem: conf_value.h. */
void
conf_kerr(const struct kctx *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(k->p, k->line, k->s, k->kd->name, fmt, ap);
	va_end(ap);
}

/* The line of key name in s, or the header's line when it is not given. */
static int
key_line(const struct sect *s, const char *name)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < s->def->nkeys; i++)
		if (strcmp(s->def->keys[i].name, name) == 0 && s->lines[i])
			return s->lines[i];
	return s->line;
}

/* Fill base from section s (NULL: all defaults) per its table: each
 * key's value as written, else its default, through its converter. */
static void
apply_section(struct parser *p, const struct sdef *def, const struct sect *s,
    void *base)
{
	size_t i;

	for (i = 0; i < def->nkeys; i++) {
		const struct kdef *kd = &def->keys[i];
		struct kctx k = { p, s, kd, s ? s->line : 0, p->conf };
		const char *v = s ? s->raw[i] : NULL;

		if (v != NULL) {
			k.line = s->lines[i];
			if (*v == '\0' && kd->def == NULL && !kd->required)
				continue;	/* "webhook =": not set */
		} else if (kd->required) {
			perr(p, k.line, s, NULL, "required key '%s' is "
			    "missing", kd->name);
			continue;
		} else if (kd->def == NULL) {
			continue;
		} else {
			v = kd->def;
		}
		kd->conv(&k, v, base);
	}
}

/* The first non-duplicate section of kind, or NULL. */
static const struct sect *
find_single(const struct parser *p, int kind)
{
	int i;

	for (i = 0; i < p->nsect; i++)
		if (p->sects[i].def == &sections[kind] && !p->sects[i].dup)
			return &p->sects[i];
	return NULL;
}

/* Allocate the structs of the repeating sections and give each its name
 * and line, in file order, before any value is converted: routes refer
 * to SMSCs, keys to templates, written after them. */
static void
name_sections(struct parser *p)
{
	struct conf *c = p->conf;
	int i, n[SD_N] = { 0 };

	for (i = 0; i < p->nsect; i++)
		if (!p->sects[i].dup)
			n[p->sects[i].def - sections]++;
	c->smscs = xcalloc((size_t)n[SD_SMSC], sizeof(*c->smscs));
	c->routes = xcalloc((size_t)n[SD_ROUTE], sizeof(*c->routes));
	c->keys = xcalloc((size_t)n[SD_KEY], sizeof(*c->keys));
	c->templates = xcalloc((size_t)n[SD_TEMPLATE],
	    sizeof(*c->templates));
	c->tests = xcalloc((size_t)n[SD_TEST], sizeof(*c->tests));
	c->numbers = xcalloc((size_t)n[SD_NUMBER], sizeof(*c->numbers));
	for (i = 0; i < p->nsect; i++) {
		const struct sect *s = &p->sects[i];

		if (s->dup)
			continue;
		if (s->def == &sections[SD_SMSC]) {
			c->smscs[c->nsmsc].name = xstrdup(s->name);
			c->smscs[c->nsmsc++].line = s->line;
		} else if (s->def == &sections[SD_ROUTE]) {
			c->routes[c->nroute].name = xstrdup(s->name);
			c->routes[c->nroute++].line = s->line;
		} else if (s->def == &sections[SD_KEY]) {
			c->keys[c->nkey].name = xstrdup(s->name);
			c->keys[c->nkey++].line = s->line;
		} else if (s->def == &sections[SD_TEMPLATE]) {
			c->templates[c->ntemplate].name = xstrdup(s->name);
			c->templates[c->ntemplate++].line = s->line;
		} else if (s->def == &sections[SD_TEST]) {
			c->tests[c->ntest].name = xstrdup(s->name);
			c->tests[c->ntest++].line = s->line;
		} else if (s->def == &sections[SD_NUMBER]) {
			c->numbers[c->nnumber].name = xstrdup(s->name);
			c->numbers[c->nnumber].key = -1;
			c->numbers[c->nnumber++].line = s->line;
		}
	}
}

/* Convert every section into p->conf: [server], [store] and [verify]
 * (all defaults when absent), then each repeating section into its
 * struct, in file order; duplicates are skipped. */
static void
apply_all(struct parser *p)
{
	struct conf *c = p->conf;
	const struct sect *byidx;
	int i, kind, n[SD_N] = { 0 };

	name_sections(p);
	for (kind = SD_SERVER; kind <= SD_VERIFY; kind++)
		apply_section(p, &sections[kind], find_single(p, kind), c);
	apply_section(p, &sections[SD_SHIELD], find_single(p, SD_SHIELD), c);
	apply_section(p, &sections[SD_LIMITS], find_single(p, SD_LIMITS), c);
	for (i = 0; i < c->nkey; i++)
		c->keys[i].limits = c->limits;  /* what a [key] does not set */
	for (i = 0; i < p->nsect; i++) {
		byidx = &p->sects[i];
		if (byidx->dup)
			continue;
		if (byidx->def == &sections[SD_SMSC])
			apply_section(p, byidx->def, byidx,
			    &c->smscs[n[SD_SMSC]++]);
		else if (byidx->def == &sections[SD_ROUTE])
			apply_section(p, byidx->def, byidx,
			    &c->routes[n[SD_ROUTE]++]);
		else if (byidx->def == &sections[SD_KEY])
			apply_section(p, byidx->def, byidx,
			    &c->keys[n[SD_KEY]++]);
		else if (byidx->def == &sections[SD_TEMPLATE])
			apply_section(p, byidx->def, byidx,
			    &c->templates[n[SD_TEMPLATE]++]);
		else if (byidx->def == &sections[SD_TEST])
			apply_section(p, byidx->def, byidx,
			    &c->tests[n[SD_TEST]++]);
		else if (byidx->def == &sections[SD_NUMBER])
			apply_section(p, byidx->def, byidx,
			    &c->numbers[n[SD_NUMBER]++]);
	}
}

/* The section a struct came from, for error lines. */
static const struct sect *
sect_of(const struct parser *p, int kind, const char *name)
{
	int i;

	for (i = 0; i < p->nsect; i++)
		if (p->sects[i].def == &sections[kind] && !p->sects[i].dup &&
		    strcmp(p->sects[i].name, name) == 0)
			return &p->sects[i];
	return NULL;
}

/* 1 for an IPv4 or IPv6 address or "localhost": what the SMPP session
 * connects to without a (blocking) DNS lookup. */
static int
host_is_address(const char *h)
{
	struct in6_addr a6;
	struct in_addr a4;

	return strcmp(h, "localhost") == 0 || inet_pton(AF_INET, h, &a4) == 1 ||
	    inet_pton(AF_INET6, h, &a6) == 1;
}

/* Each SMSC's own rules: a reconnect range that is one, a host that is
 * an address. */
static void
validate_smscs(struct parser *p)
{
	struct conf *c = p->conf;
	const struct sect *s;
	int i;

	for (i = 0; i < c->nsmsc; i++) {
		struct conf_smsc *m = &c->smscs[i];

		s = sect_of(p, SD_SMSC, m->name);
		if (m->reconnect_max_ms != 0 &&
		    m->reconnect_max_ms < m->reconnect_min_ms)
			perr(p, key_line(s, "reconnect_max_ms"), s,
			    "reconnect_max_ms", "%d is below reconnect_min_ms "
			    "%d", m->reconnect_max_ms, m->reconnect_min_ms);
		if (m->host != NULL && !host_is_address(m->host))
			perr(p, key_line(s, "host"), s, "host", "'%s' is not "
			    "an IP address (host names are not resolved)",
			    m->host);
	}
}

/* Each key's rules: a webhook has its secret, no token is another
 * key's. */
static void
validate_keys(struct parser *p)
{
	struct conf *c = p->conf;
	const struct sect *s;
	int i, j;

	for (i = 0; i < c->nkey; i++) {
		struct conf_key *k = &c->keys[i];

		s = sect_of(p, SD_KEY, k->name);
		if (k->webhook != NULL && k->webhook_secret == NULL)
			perr(p, key_line(s, "webhook"), s, "webhook_secret",
			    "required when webhook is set");
		/* The key's list narrows [shield]'s, never widens it. */
		for (j = 0; j < k->ncountry && c->nshield_country > 0; j++)
			if (!conf_country_allowed(c, -1, k->countries[j]))
				perr(p, key_line(s, "countries"), s,
				    "countries", "%s is not in [shield] "
				    "countries: sends there are refused "
				    "whatever the key says", k->countries[j]);
		for (j = 0; k->token != NULL && j < i; j++) {
			if (c->keys[j].token == NULL ||
			    strcmp(k->token, c->keys[j].token) != 0)
				continue;
			perr(p, key_line(s, "token"), s, "token", "the same "
			    "token as [key %s] (line %d): tokens must be "
			    "unique", c->keys[j].name, c->keys[j].line);
			break;
		}
	}
}

/* One prefix, one route: longest-prefix matching needs it. */
static void
validate_prefixes(struct parser *p)
{
	struct conf *c = p->conf;
	const struct sect *s, *o;
	int i, j, a, b;

	for (i = 0; i < c->nroute; i++) {
		s = sect_of(p, SD_ROUTE, c->routes[i].name);
		for (a = 0; a < c->routes[i].nprefix; a++) {
			for (j = 0; j < i; j++) {
				for (b = 0; b < c->routes[j].nprefix; b++)
					if (strcmp(c->routes[i].prefixes[a],
					    c->routes[j].prefixes[b]) == 0)
						break;
				if (b == c->routes[j].nprefix)
					continue;
				o = sect_of(p, SD_ROUTE, c->routes[j].name);
				perr(p, key_line(s, "prefix"), s, "prefix",
				    "%s is already in [route %s] (line %d)",
				    c->routes[i].prefixes[a],
				    c->routes[j].name, key_line(o, "prefix"));
				break;
			}
		}
	}
}

/* [shield]'s own rules: a send must be able to mature inside the
 * window, or no range could ever trip (not reported when window itself
 * was refused). */
static void
validate_shield(struct parser *p)
{
	const struct sect *s = find_single(p, SD_SHIELD);
	struct conf *c = p->conf;

	if (c->shield_window > 0 && c->shield_grace >= c->shield_window)
		perr(p, key_line(s, "grace"), s, "grace", "%d is not below "
		    "window %d: no send would count before it left the "
		    "window", c->shield_grace, c->shield_window);
}

/* 1 for an inbound address: "+" and 8..15 digits (E.164), or a short
 * code of 3..8 digits. */
static int
number_address_valid(const char *a)
{
	size_t n = strspn(a + (a[0] == '+'), "0123456789");

	if (a[0] == '+')
		return a[1] != '0' && n >= 8 && n <= 15 && a[1 + n] == '\0';
	return n >= 3 && n <= 8 && a[n] == '\0';
}

/* Each [number]'s rules: an address that is one, a key that exists, no
 * address twice. */
static void
validate_numbers(struct parser *p)
{
	struct conf *c = p->conf;
	const struct sect *s;
	int i, j;

	for (i = 0; i < c->nnumber; i++) {
		struct conf_number *n = &c->numbers[i];

		s = sect_of(p, SD_NUMBER, n->name);
		if (n->address != NULL && !number_address_valid(n->address))
			perr(p, key_line(s, "address"), s, "address", "'%s' "
			    "is neither E.164 (+ and 8 to 15 digits) nor a "
			    "short code (3 to 8 digits)", n->address);
		for (j = 0; n->key_name != NULL && j < c->nkey; j++)
			if (strcmp(c->keys[j].name, n->key_name) == 0)
				n->key = j;
		if (n->key_name != NULL && n->key < 0)
			perr(p, key_line(s, "key"), s, "key", "no [key %s] "
			    "section", n->key_name);
		for (j = 0; n->address != NULL && j < i; j++) {
			if (c->numbers[j].address == NULL ||
			    strcmp(c->numbers[j].address, n->address) != 0)
				continue;
			perr(p, key_line(s, "address"), s, "address", "%s is "
			    "already [number %s] (line %d)", n->address,
			    c->numbers[j].name, c->numbers[j].line);
			break;
		}
	}
}

/* No [route] at all: one implicit route "default", prefix "+", over
 * every SMSC in the order they are written, with the [route] defaults. */
static void
add_implicit_route(struct conf *c)
{
	struct conf_route *r;
	int i;

	free(c->routes);
	c->routes = xcalloc(1, sizeof(*c->routes));
	c->nroute = 1;
	r = &c->routes[0];
	r->name = xstrdup("default");
	r->line = 0;
	r->prefixes = xcalloc(1, sizeof(*r->prefixes));
	r->prefixes[0] = xstrdup("+");
	r->nprefix = 1;
	r->smsc = xcalloc((size_t)c->nsmsc, sizeof(*r->smsc));
	for (i = 0; i < c->nsmsc; i++)
		r->smsc[i] = i;
	r->nsmsc = c->nsmsc;
	r->floor = 20;
	r->window = 600;
	r->min_sample = 20;
	r->probe = 5;
	r->grace = 120;
}

/* HTTPS needs both halves of the pair (the files themselves are read by
 * tls.c: smsverifyd -t and the start check them). */
static void
validate_tls(struct parser *p)
{
	const struct sect *s = find_single(p, SD_SERVER);
	struct conf *c = p->conf;

	if (c->tls_cert != NULL && c->tls_key == NULL)
		perr(p, key_line(s, "tls_cert"), s, "tls_key", "required "
		    "when tls_cert is set (the certificate's private key)");
	else if (c->tls_key != NULL && c->tls_cert == NULL)
		perr(p, key_line(s, "tls_key"), s, "tls_cert", "required "
		    "when tls_key is set (the key's certificate)");
}

/* The store on Redis needs its address (or its sentinels and master)
 * and this node's name. */
static void
validate_store(struct parser *p)
{
	const struct sect *s = find_single(p, SD_STORE);
	struct conf *c = p->conf;
	struct redis_addr a, sa[REDIS_SENTINELS_MAX];
	char err[160];
	int n;

	if (c->store_backend != CONF_BACKEND_REDIS)
		return;
	/* A key given but refused has its own error already. */
	if (c->redis_sentinel != NULL) {
		if (redis_sentinels_parse(c->redis_sentinel, sa, &n, err,
		    sizeof(err)) != 0)
			perr(p, key_line(s, "redis_sentinel"), s,
			    "redis_sentinel", "%s", err);
		if (c->redis_master == NULL && key_line(s, "redis_master") ==
		    key_line(s, ""))
			perr(p, key_line(s, "redis_sentinel"), s,
			    "redis_master", "required with redis_sentinel: the "
			    "name the sentinels know the master by");
		else if (c->redis_master != NULL && redis_master_name_check(
		    c->redis_master, err, sizeof(err)) != 0)
			perr(p, key_line(s, "redis_master"), s, "redis_master",
			    "%s", err);
	} else if (c->redis_addr == NULL && key_line(s, "redis") ==
	    key_line(s, "")) {
		perr(p, key_line(s, "backend"), s, "redis", "required with "
		    "backend = redis (host:port or unix:/path), unless "
		    "redis_sentinel is set");
	} else if (c->redis_addr != NULL &&
	    redis_addr_parse(c->redis_addr, &a, err, sizeof(err)) != 0) {
		perr(p, key_line(s, "redis"), s, "redis", "%s", err);
	}
	if (c->node == NULL && key_line(s, "node") == key_line(s, ""))
		perr(p, key_line(s, "backend"), s, "node", "required with "
		    "backend = redis: this gateway's name, unique among those "
		    "sharing the Redis");
}

/* Whole-file rules, after every section is converted; then the implicit
 * route when the file has none. */
static void
validate(struct parser *p)
{
	struct conf *c = p->conf;
	int eof = p->lines > 0 ? p->lines : 1;

	if (c->nsmsc == 0)
		perr(p, eof, NULL, NULL, "at least one [smsc NAME] section "
		    "is required");
	if (c->nkey == 0)
		perr(p, eof, NULL, NULL, "at least one [key NAME] section "
		    "is required (API clients need a token)");
	validate_smscs(p);
	validate_keys(p);
	validate_prefixes(p);
	validate_shield(p);
	validate_numbers(p);
	validate_tls(p);
	validate_store(p);
	if (c->nroute == 0 && c->nsmsc > 0)
		add_implicit_route(c);
}

/* qsort() order of errors: by line, then as found. */
static int
err_cmp(const void *a, const void *b)
{
	const struct err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The collected errors as one text, sorted by line, at most
 * CONF_MAX_ERRORS lines. */
static char *
errors_text(struct parser *p)
{
	size_t len = 1, o = 0;
	char *out, more[128] = "";
	int i, n = p->nerr < CONF_MAX_ERRORS ? p->nerr : CONF_MAX_ERRORS;

	qsort(p->errs, (size_t)p->nerr, sizeof(*p->errs), err_cmp);
	for (i = 0; i < n; i++)
		len += strlen(p->errs[i].text) + 1;
	if (p->nerr > n)
		snprintf(more, sizeof(more), "%s: %d more errors not shown\n",
		    p->file, p->nerr - n);
	len += strlen(more);
	out = xmalloc(len);
	for (i = 0; i < n; i++) {
		size_t l = strlen(p->errs[i].text);

		memcpy(out + o, p->errs[i].text, l);
		o += l;
		out[o++] = '\n';
	}
	memcpy(out + o, more, strlen(more) + 1);
	return out;
}

/* Free what the parser owns; the conf is not its. */
static void
parser_free(struct parser *p)
{
	int i;
	size_t k;

	for (i = 0; i < p->nsect; i++) {
		for (k = 0; k < p->sects[i].def->nkeys; k++)
			free(p->sects[i].raw[k]);
		free(p->sects[i].raw);
		free(p->sects[i].lines);
		free(p->sects[i].name);
	}
	free(p->sects);
	for (i = 0; i < p->nerr; i++)
		free(p->errs[i].text);
	free(p->errs);
}

/* Parse text of len octets named name. */
static struct conf *
load(const char *text, size_t len, const char *name, char **errors)
{
	struct parser p;
	struct conf *c;
	int rc;

	memset(&p, 0, sizeof(p));
	p.file = name;
	p.text = text;
	p.len = len;
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(name);
	p.conf = c;

	rc = ini_parse_stream(reader, &p, handler, &p);
	if (rc > 0 && !has_error_at(&p, rc))
		perr(&p, rc, NULL, NULL, "syntax error");
	else if (rc < 0)
		perr(&p, 0, NULL, NULL, "could not be parsed (out of memory)");
	apply_all(&p);
	validate(&p);

	if (p.nerr > 0) {
		if (errors != NULL)
			*errors = errors_text(&p);
		conf_free(c);
		c = NULL;
	} else if (errors != NULL) {
		*errors = NULL;
	}
	parser_free(&p);
	return c;
}

/*
 * Load and validate the configuration in text; name stands for the file
 * in error messages.  Returns the config, or NULL with *errors malloc'd
 * (one line per problem, sorted by line).
 */
struct conf *
conf_load_string(const char *text, const char *name, char **errors)
{
	return load(text, strlen(text), name, errors);
}

/* *errors, unless errors is NULL: a malloc'd text printed from fmt. */
static void
errors_printf(char **errors, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
errors_printf(char **errors, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (errors == NULL)
		return;
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	*errors = xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(*errors, (size_t)len + 1, fmt, ap);
	va_end(ap);
}

/*
 * Load and validate the file at path.  Returns the config, or NULL with
 * *errors malloc'd: the file's problems, or why it could not be read.
 */
struct conf *
conf_load(const char *path, char **errors)
{
	FILE *f;
	char *buf;
	size_t n;
	struct conf *c;

	if (errors != NULL)
		*errors = NULL;
	f = fopen(path, "r");
	if (f == NULL) {
		errors_printf(errors, "%s: cannot open: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	buf = xmalloc(CONF_MAX_FILE + 1);
	n = fread(buf, 1, CONF_MAX_FILE + 1, f);
	if (ferror(f) || n > CONF_MAX_FILE || memchr(buf, '\0', n) != NULL) {
		const char *why = ferror(f) ? "read error" : n > CONF_MAX_FILE
		    ? "larger than 1 MiB" : "contains a NUL octet (not text)";

		fclose(f);
		free(buf);
		errors_printf(errors, "%s: %s\n", path, why);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	c = load(buf, n, path, errors);
	free(buf);
	return c;
}

/* Free n strings of list, and list. */
static void
free_list(char **list, int n)
{
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Free a config and everything it owns.  NULL is allowed. */
void
conf_free(struct conf *c)
{
	int i, j;

	if (c == NULL)
		return;
	free(c->path);
	free(c->listen_host);
	free(c->secret_file);
	free(c->webhook_ca_file);
	free(c->log_level);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->store_path);
	free(c->redis_addr);
	free(c->redis_password_file);
	free(c->redis_prefix);
	free(c->node);
	free(c->redis_sentinel);
	free(c->redis_master);
	free(c->redis_sentinel_password_file);
	free(c->sender);
	free(c->default_country);
	for (i = 0; i < c->nsmsc; i++) {
		struct conf_smsc *m = &c->smscs[i];

		free(m->name);
		free(m->host);
		free(m->system_id);
		free(m->password);
		free(m->system_type);
		free(m->tls_ca_file);
		free(m->tls_server_name);
	}
	free(c->smscs);
	for (i = 0; i < c->nroute; i++) {
		struct conf_route *r = &c->routes[i];

		free(r->name);
		for (j = 0; j < r->nprefix; j++)
			free(r->prefixes[j]);
		free(r->prefixes);
		free(r->smsc);
	}
	free(c->routes);
	for (i = 0; i < c->nkey; i++) {
		struct conf_key *k = &c->keys[i];

		free(k->name);
		free(k->token);
		free_list(k->countries, k->ncountry);
		free(k->webhook);
		free(k->webhook_secret);
		free(k->language);
		free(k->country);
		free(k->tmpl);
	}
	free(c->keys);
	for (i = 0; i < c->ntemplate; i++) {
		free(c->templates[i].name);
		free(c->templates[i].text);
	}
	free(c->templates);
	for (i = 0; i < c->ntest; i++) {
		free(c->tests[i].name);
		free(c->tests[i].ranges);
		free(c->tests[i].code);
	}
	free(c->tests);
	for (i = 0; i < c->nnumber; i++) {
		free(c->numbers[i].name);
		free(c->numbers[i].address);
		free(c->numbers[i].key_name);
	}
	free(c->numbers);
	free_list(c->shield_countries, c->nshield_country);
	free(c);
}
