/*
 * template.c - message texts: one built-in template per supported language
 * and the substitution of the placeholders.
 *
 * Placeholders: {code} (native and seed 003 APIs) and ##code## (seed 002)
 * stand for the code, {minutes} for the validity in whole minutes.  Each
 * built-in text puts the code early, so it shows in a phone's notification
 * preview, and fits one SMS part with a 12-digit code and "60" minutes:
 * de, en, fr and it use only GSM 03.38 characters (160 per part); es, pt
 * (ó, ã, ç) and ru fall back to UCS-2 and stay within 70.  Russian writes
 * "мин." so the number needs no grammatical agreement.
 *
 * Pure: no I/O, no state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "util.h"

static const struct {
	const char *lang;
	const char *text;
} builtin[] = {
	{ "de", "Ihr Bestätigungscode lautet {code}. Er ist {minutes} "
	    "Minuten gültig." },
	{ "en", "Your verification code is {code}. It expires in {minutes} "
	    "minutes." },
	{ "es", "Tu código de verificación es {code}. Caduca en {minutes} "
	    "minutos." },
	{ "fr", "Votre code de vérification est {code}. Il expire dans "
	    "{minutes} minutes." },
	{ "it", "Il tuo codice di verifica è {code}. Scade tra {minutes} "
	    "minuti." },
	{ "pt", "O seu código de verificação é {code}. Expira em {minutes} "
	    "minutos." },
	{ "ru", "Ваш код подтверждения: {code}. Он действителен {minutes} "
	    "мин." },
};

#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

/* The static built-in text for lang, or NULL. */
const char *
template_builtin(const char *lang)
{
	size_t i;

	if (lang == NULL)
		return NULL;
	for (i = 0; i < NBUILTIN; i++)
		if (strcmp(lang, builtin[i].lang) == 0)
			return builtin[i].text;
	return NULL;
}

/* 1 when lang has a built-in template. */
int
template_lang_valid(const char *lang)
{
	return template_builtin(lang) != NULL;
}

/* 1 when tmpl holds {code} or ##code##. */
int
template_has_code(const char *tmpl)
{
	return tmpl != NULL && (strstr(tmpl, "{code}") != NULL ||
	    strstr(tmpl, "##code##") != NULL);
}

/*
 * tmpl with its placeholders replaced, malloc'd; NULL when tmpl or code is
 * NULL or tmpl has no code placeholder.  Substituted text is not searched
 * again, so a code can never expand into a placeholder.
 */
char *
template_render(const char *tmpl, const char *code, int minutes)
{
	static const char *const ph[] = { "{code}", "##code##", "{minutes}" };
	char mins[16];
	const char *val[3], *p;
	size_t len = 0, o = 0, i;
	char *out;
	int pass;

	if (tmpl == NULL || code == NULL || !template_has_code(tmpl))
		return NULL;
	snprintf(mins, sizeof(mins), "%d", minutes);
	val[0] = val[1] = code;
	val[2] = mins;
	/* pass 0 measures, pass 1 writes */
	out = NULL;
	for (pass = 0; pass < 2; pass++) {
		p = tmpl;
		while (*p != '\0') {
			i = 3;
			if (*p == '{' || *p == '#')
				for (i = 0; i < 3; i++)
					if (strncmp(p, ph[i], strlen(ph[i])) == 0)
						break;
			if (i < 3) {
				size_t vl = strlen(val[i]);

				if (pass == 1)
					memcpy(out + o, val[i], vl);
				o += vl;
				p += strlen(ph[i]);
			} else {
				if (pass == 1)
					out[o] = *p;
				o++;
				p++;
			}
		}
		if (pass == 0) {
			len = o;
			out = xmalloc(len + 1);
			o = 0;
		}
	}
	out[len] = '\0';
	return out;
}
