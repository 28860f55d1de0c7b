/*
 * phone_count.c - a count per phone number (phone_count.h): a fixed
 * table of chains, FNV-1a over the number (util_fnv1a).
 */
#include <stdlib.h>
#include <string.h>

#include "phone_count.h"
#include "util.h"

#define PC_BUCKETS 256

struct pc_entry {
	struct pc_entry *next;
	char phone[17];
	int n;
};

struct phone_count {
	struct pc_entry *b[PC_BUCKETS];
};

struct phone_count *
phone_count_new(void)
{
	return xcalloc(1, sizeof(struct phone_count));
}

void
phone_count_free(struct phone_count *pc)
{
	struct pc_entry *e;

	if (pc == NULL)
		return;
	for (int i = 0; i < PC_BUCKETS; i++)
		while ((e = pc->b[i]) != NULL) {
			pc->b[i] = e->next;
			free(e);
		}
	free(pc);
}

int
phone_count_add(struct phone_count *pc, const char *phone, int delta)
{
	struct pc_entry **pp = &pc->b[util_fnv1a(phone) % PC_BUCKETS], *e;
	int n;

	for (; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->phone, phone) == 0)
			break;
	if (e == NULL) {
		if (delta <= 0)
			return 0;
		e = xcalloc(1, sizeof(*e));
		util_strlcpy(e->phone, phone, sizeof(e->phone));
		*pp = e;
	}
	n = e->n += delta;
	if (n <= 0) {
		*pp = e->next;
		free(e);
	}
	return n > 0 ? n : 0;
}
