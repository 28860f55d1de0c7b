/*
 * conf.h - the configuration: INI (read by libinih) into struct conf, then
 * one validation pass.  Every error names file, line and key.
 *
 * The keys are those of SPEC.md plus the ones documented in
 * conf/smsverifyd.conf.  A struct conf is immutable once loaded; SIGHUP
 * builds a new one and swaps it in only when it validates.
 */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>
#include <stdint.h>

enum conf_bind { CONF_BIND_TRANSCEIVER = 0, CONF_BIND_TRANSMITTER = 1 };

/* What a [key] may do (SPEC "Roles"): client, the default, uses the API;
 * admin also the operator endpoints; test never reaches an SMSC. */
enum conf_role { CONF_ROLE_CLIENT = 0, CONF_ROLE_ADMIN, CONF_ROLE_TEST };
enum conf_backend { CONF_BACKEND_LMDB = 0, CONF_BACKEND_REDIS };

/* How an SMSC writes message ids in submit_sm_resp and in receipts. */
enum conf_msgid {
	CONF_MSGID_AUTO = 0,      /* try as written, then hex<->decimal */
	CONF_MSGID_STRING,        /* the same string in both */
	CONF_MSGID_HEX_DEC,       /* hex in submit_sm_resp, decimal in receipts */
	CONF_MSGID_DEC_HEX,       /* decimal in submit_sm_resp, hex in receipts */
};

struct conf_smsc {
	char *name;
	int line;                 /* line of the [smsc NAME] header */
	char *host;
	int port;
	char *system_id;
	char *password;           /* never logged */
	char *system_type;
	enum conf_bind bind;
	int sessions;             /* parallel binds, 1..64 */
	int window;               /* 1..1000 */
	int throughput;           /* submits/s, 0 = no cap */
	int enquire_link;         /* seconds */
	int response_timeout;     /* seconds */
	int reconnect_min_ms, reconnect_max_ms;
	int latin1_default;       /* data_coding 0 means Latin-1 on this SMSC */
	int msgid_mode;           /* enum conf_msgid: how ids are matched */
	int long_payload;         /* long text: 1 message_payload, 0 UDH parts */
	int source_ton;           /* -1: from the sender (alphanumeric 5, else 1) */
	int source_npi;           /* -1: from the sender (alphanumeric 0, else 1) */
	int tls;                  /* 1: TLS to the SMSC */
	char *tls_ca_file;        /* NULL: the system's CA store */
	char *tls_server_name;    /* NULL: host */
	int cancel;               /* 1: withdraw superseded messages with
	                             cancel_sm (cancel.h) */
};

struct conf_route {
	char *name;
	int line;
	char **prefixes;          /* "+44", "+" */
	int nprefix;
	int *smsc;                /* indexes into conf.smscs, in order */
	int nsmsc;
	/* health (score.h): an SMSC whose score over window seconds falls
	 * under floor percent, once min_sample sends are grace seconds old,
	 * loses its place to the next; probe percent of sends still try it */
	int floor, window, min_sample, probe, grace;
};

/* "N/PERIOD" (SPEC "Limits"): at most n in any period seconds; n 0: off. */
struct conf_rate {
	int n;
	int period;               /* seconds, 1..CONF_RATE_PERIOD_MAX */
};
#define CONF_RATE_PERIOD_MAX (30 * 86400)

/* The [limits] section, and each key's copy of it with its overrides. */
struct conf_limits {
	int resend_interval;      /* seconds between sends to one number */
	struct conf_rate sends_per_phone, sends_per_key, sends_per_ip,
	    sends_per_range;
	int range_digits;         /* a range: the first digits of E.164 */
	struct conf_rate failed_checks_per_phone;
};

struct conf_key {
	char *name;
	int line;
	char *token;              /* never logged */
	char **countries;         /* allow-list (ISO alpha-2) within [shield]
	                           * countries; NULL: [shield]'s alone */
	int ncountry;
	int role;                 /* enum conf_role */
	char *webhook;            /* may be NULL */
	char *webhook_secret;     /* may be NULL */
	char *language;           /* default template language, may be NULL */
	char *country;            /* region of national numbers, may be NULL */
	char *tmpl;               /* [template NAME] of this key, may be NULL;
	                           * never a language's name */
	struct conf_limits limits; /* [limits] with this key's overrides */
};

/* [test NAME] delivery: the scripted receipt a captured send gets. */
enum conf_test_delivery { CONF_TEST_DELIVERED = 0, CONF_TEST_UNDELIVERABLE,
    CONF_TEST_EXPIRED, CONF_TEST_NONE };

/* One number or range of a [test NAME] section: E.164 numbers of one
 * length, lo <= hi (a single number has lo == hi). */
struct conf_test_range {
	char lo[17], hi[17];
};

/* A [test NAME] section (SPEC "Test mode and test numbers"): numbers whose
 * sends are captured instead of sent, whatever the key. */
struct conf_test {
	char *name;
	int line;
	struct conf_test_range *ranges;
	int nrange;
	char *code;               /* a fixed code (4..12 digits), or NULL */
	int delivery;             /* enum conf_test_delivery */
	int delay;                /* seconds before the scripted receipt */
	uint32_t refuse;          /* an SMPP command_status the send fails
	                           * with; 0: none */
};

/* A [template NAME] section.  NAME is a built-in language (de en es fr it
 * pt ru), whose text it replaces for every key, or a name of its own that
 * keys choose with "template = NAME". */
struct conf_template {
	char *name;
	int line;
	char *text;               /* UTF-8 with {code} or ##code## */
};

/* A [number NAME] section (SPEC "Inbound SMS"): an address the SMSCs
 * deliver inbound messages for, and the key whose webhook and inbox get
 * them. */
struct conf_number {
	char *name;
	int line;
	char *address;            /* "+447700900123" (E.164) or "84433" */
	char *key_name;           /* as written */
	int key;                  /* index into conf.keys */
};

struct conf {
	char *path;
	/* [server] */
	char *listen_host;
	int listen_port;
	char *secret_file;
	int max_connections;      /* open HTTP connections; 0: as many as
	                           * the descriptor limit allows */
	int request_timeout;      /* seconds for a request's headers and body */
	int submit_wait_ms;       /* how long a send waits for submit_sm_resp */
	int webhook_retry;        /* seconds an undelivered event is retried */
	char *webhook_ca_file;    /* NULL: the system's CA store */
	char *log_level;
	char *tls_cert;           /* PEM chain: HTTPS only; NULL: HTTP */
	char *tls_key;            /* PEM private key of tls_cert */
	int idem_inflight;        /* sends with an Idempotency-Key in flight,
	                           * retries waiting included */
	/* [store] */
	char *store_path;
	uint64_t map_size;        /* octets */
	int sweep_interval;       /* seconds */
	int sweep_batch;          /* records per sweep run */
	int retention;            /* seconds a finished record is kept */
	int stats_retention;      /* seconds the statistics' rows are kept */
	int store_backend;        /* enum conf_backend */
	char *redis_addr;         /* backend redis: host:port or unix:/path */
	char *redis_password_file;
	int redis_db;
	char *redis_prefix;       /* the keys' prefix in Redis */
	char *node;               /* this gateway's name among the nodes */
	int node_lease;           /* seconds a dead node's work waits */
	int redis_wait_replicas;  /* WAIT for so many replicas; 0: none */
	int redis_wait_ms;        /* how long WAIT waits */
	char *redis_sentinel;     /* "host:port,..." : ask them for the master */
	char *redis_master;       /* the master's name at the sentinels */
	char *redis_sentinel_password_file;
	/* [verify] */
	int code_length;
	int expiry;
	int max_check_attempts;
	int repeat_window;
	char *sender;
	char *default_country;
	int refuse_types;         /* bit 1 << enum phone_type: not sent to */
	int min_useful;           /* seconds a code needs left to be sent */
	int queue_max;            /* waiting messages held in memory */
	/* [limits]: the defaults; each key's own are in conf_key */
	struct conf_limits limits;
	/* repeating sections */
	struct conf_smsc *smscs;
	int nsmsc;
	struct conf_route *routes;
	int nroute;
	struct conf_key *keys;
	int nkey;
	struct conf_template *templates;
	int ntemplate;
	struct conf_test *tests;
	int ntest;
	struct conf_number *numbers;
	int nnumber;
	/* [shield]: the allow-list and the per-range circuit breaker
	 * (shield.h).  A range is "+" and [limits] range_digits digits of
	 * E.164 (the global value: a range is the same for every key). */
	char **shield_countries;  /* ISO alpha-2; NULL: every country */
	int nshield_country;
	int shield_floor;         /* percent approved; 0: the breaker is off */
	int shield_window;        /* seconds of sends the ratio looks at */
	int shield_min_sample;    /* mature sends before a range can trip */
	int shield_cooldown;      /* seconds a tripped range stays blocked */
	int shield_grace;         /* seconds before a send counts (typing) */
	int shield_max_ranges;    /* ranges tracked at once (memory bound) */
};

/* Load and validate path (at most 1 MiB of text, no NUL octet).
 * Returns the config, which the caller frees with conf_free(), and sets
 * *errors to NULL; or NULL with *errors set to a malloc'd text of one
 * "file:line: [section] key: message" line per problem, sorted by line,
 * or one "path: why" line when the file cannot be read (the caller frees
 * it).  errors may be NULL.  Values of passwords and tokens never appear
 * in the text. */
struct conf *conf_load(const char *path, char **errors);
/* The same from text in memory, a NUL-terminated string; name stands for
 * the file in messages and in conf->path.  Neither is kept. */
struct conf *conf_load_string(const char *text, const char *name,
    char **errors);
/* Free a config and every string and array it owns.  NULL is allowed.
 * Pointers into it (conf_template_text()'s answers) die with it. */
void conf_free(struct conf *);

/* The region a key's national numbers are read in: its [key] country,
 * else [verify] default_country. */
const char *conf_key_country(const struct conf *, int key);

/* 1 when a send of key to a number of region (ISO alpha-2, or "001" for
 * non-geographic numbers) passes the allow-lists: [shield] countries
 * (empty: all) and the key's own countries (empty: no further limit). */
int conf_country_allowed(const struct conf *, int key, const char *region);

/* Index of the [number] whose address is addr, or -1.  addr as an SMSC
 * writes a destination: "447700900123", "+447700900123" or a short code;
 * a leading '+' on either side is ignored. */
int conf_number_find(const struct conf *, const char *addr);

/* Index of the SMSC called name, or -1. */
int conf_smsc_index(const struct conf *, const char *name);
/* The [test NAME] section whose numbers hold e164, or NULL (the first in
 * file order when several do). */
const struct conf_test *conf_test_find(const struct conf *,
    const char *e164);

/* The text of the template a send uses when the request names no
 * template of its own: lang (a request's language, may be NULL) picks
 * that language's text ([template LANG] or the built-in); without
 * lang, the key's template, else the key's language, else "en".
 * NULL when lang is not a language with a built-in template.
 * key is an index into conf->keys, or -1 for none.  The string belongs
 * to the config (or is static) and lives as long as it. */
const char *conf_template_text(const struct conf *, int key, const char *lang);

#endif
