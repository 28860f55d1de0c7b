/*
 * keys.h - the key table: which [key] section a request's token names.
 *
 * The API files see the keys through this table only.  Tokens are
 * compared as SHA-256 digests in constant time; a key is named by its
 * index in the current configuration's [key] sections, which holds until
 * the next reload (keys_set()).  Loop thread only.
 */
#ifndef KEYS_H
#define KEYS_H

struct conf;
struct conf_key;
struct keys;

/* The table of conf's keys (conf is borrowed: it must outlive the table
 * or the next keys_set()). */
struct keys *keys_new(const struct conf *);
/* Take the keys of a new configuration (a reload): digests recomputed. */
void keys_set(struct keys *, const struct conf *);
void keys_free(struct keys *);

/* The index of the key whose token this is, or -1 (token NULL or
 * unknown).  Costs the same whichever key matches, if any. */
int keys_by_token(const struct keys *, const char *token);
/* The index of the key called name, or -1. */
int keys_by_name(const struct keys *, const char *name);
/* Key i's section (NULL when i is out of range); it belongs to the
 * configuration. */
const struct conf_key *keys_get(const struct keys *, int i);
/* Key i's role (enum conf_role); CONF_ROLE_CLIENT when out of range. */
int keys_role(const struct keys *, int i);
/* Key i's name ("" when out of range). */
const char *keys_name(const struct keys *, int i);
/* The region key i's national numbers are read in: its [key] country,
 * else [verify] default_country (conf_key_country()). */
const char *keys_country(const struct keys *, int i);

#endif
