/*
 * conf_lookup.c - questions asked of a loaded configuration (conf.h): a
 * key's country and allowed countries, an SMSC by name, a [number] by
 * address, a template's text, a test range.  Pure; conf.c loads.
 */
#include <string.h>

#include "conf.h"
#include "conf_value.h"
#include "template.h"

/* The [template NAME] section called name, or NULL: conf_value.h. */
const struct conf_template *
conf_template_find(const struct conf *c, const char *name)
{
	int i;

	for (i = 0; i < c->ntemplate; i++)
		if (c->templates[i].name != NULL &&
		    strcmp(c->templates[i].name, name) == 0)
			return &c->templates[i];
	return NULL;
}

const char *
conf_key_country(const struct conf *c, int key)
{
	if (key >= 0 && key < c->nkey && c->keys[key].country != NULL)
		return c->keys[key].country;
	return c->default_country;
}

/* 1 when region is one of list's n countries. */
static int
in_list(char *const *list, int n, const char *region)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], region) == 0)
			return 1;
	return 0;
}

/* [shield] countries, then the key's own (key -1: the global list only). */
int
conf_country_allowed(const struct conf *c, int key, const char *region)
{
	const struct conf_key *k = key >= 0 && key < c->nkey ? &c->keys[key] :
	    NULL;

	if (region == NULL)
		return c->nshield_country == 0 && (k == NULL ||
		    k->ncountry == 0);
	if (c->nshield_country > 0 && !in_list(c->shield_countries,
	    c->nshield_country, region))
		return 0;
	return k == NULL || k->ncountry == 0 ||
	    in_list(k->countries, k->ncountry, region);
}

/* Index of the SMSC called name in c->smscs, or -1. */
int
conf_smsc_index(const struct conf *c, const char *name)
{
	int i;

	for (i = 0; i < c->nsmsc; i++)
		if (c->smscs[i].name != NULL &&
		    strcmp(c->smscs[i].name, name) == 0)
			return i;
	return -1;
}

int
conf_number_find(const struct conf *c, const char *addr)
{
	int i;

	if (addr == NULL)
		return -1;
	if (addr[0] == '+')
		addr++;
	for (i = 0; i < c->nnumber; i++) {
		const char *a = c->numbers[i].address;

		if (a == NULL)
			continue;
		if (a[0] == '+')
			a++;
		if (strcmp(a, addr) == 0)
			return i;
	}
	return -1;
}

/* lang's text: its [template LANG] section, else the built-in; NULL when
 * lang has no built-in (a named template is never a language's). */
static const char *
lang_text(const struct conf *c, const char *lang)
{
	const struct conf_template *t;

	if (!template_lang_valid(lang))
		return NULL;
	if ((t = conf_template_find(c, lang)) != NULL && t->text != NULL)
		return t->text;
	return template_builtin(lang);
}

/*
 * The text a send uses when its request brings no template: the request's
 * language, else the key's template, else the key's language, else "en";
 * each language's text is its [template LANG] or the built-in.  NULL when
 * lang is given but has no built-in template.
 */
const char *
conf_template_text(const struct conf *c, int key, const char *lang)
{
	const struct conf_template *t;
	const struct conf_key *k;

	if (lang != NULL)
		return lang_text(c, lang);
	if (key < 0 || key >= c->nkey)
		return lang_text(c, "en");
	k = &c->keys[key];
	if (k->tmpl != NULL && (t = conf_template_find(c, k->tmpl)) != NULL &&
	    t->text != NULL)
		return t->text;
	return lang_text(c, k->language != NULL ? k->language : "en");
}

/* 1 when e164 is within r: the same length as its ends, between them. */
static int
test_range_has(const struct conf_test_range *r, const char *e164)
{
	size_t n = strlen(e164);

	return n == strlen(r->lo) && strcmp(r->lo, e164) <= 0 &&
	    strcmp(e164, r->hi) <= 0;
}

const struct conf_test *
conf_test_find(const struct conf *c, const char *e164)
{
	int i, j;

	if (e164 == NULL)
		return NULL;
	for (i = 0; i < c->ntest; i++)
		for (j = 0; j < c->tests[i].nrange; j++)
			if (test_range_has(&c->tests[i].ranges[j], e164))
				return &c->tests[i];
	return NULL;
}
