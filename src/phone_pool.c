/*
 * phone_pool.c - libphonenumber off the loop thread (phone_pool.h).
 *
 * A send reads a number the daemon has usually never seen, and parsing
 * and validating it is the most expensive step of a send: a quarter of
 * the loop's time under load.  The loop looks in phone.cc's cache first
 * and answers a hit at once; a miss becomes a job on the todo list, which
 * the worker threads take in order, parse with phone_normalise() (which
 * fills the cache) and put on the done list.  The first job on an empty
 * done list writes one octet to a pipe; the loop's read event empties
 * the pipe and the done list and calls the callbacks.  One mutex guards
 * both lists; nothing else is shared (a job belongs to whoever holds it).
 *
 * The loop never blocks on the workers: phone_pool_lookup() only appends
 * under the mutex.  Only phone_pool_free() waits, for the workers to
 * finish the job they hold.
 */
#define _GNU_SOURCE             /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "phone_pool.h"
#include "util.h"

#define POOL_MAX_THREADS 8

struct job {
	struct job *next;
	phone_done_cb cb;
	void *arg;
	enum phone_result r;
	enum phone_type type;
	char e164[20];
	char region[8];
	char number[72];        /* phone.cc refuses over 64 octets */
};

struct jobq {
	struct job *head, **tail;
};

struct phone_pool {
	struct event_base *base;
	pthread_mutex_t lock;
	pthread_cond_t wake;            /* todo not empty, or stop */
	struct jobq todo, done;         /* under lock */
	int stop;                       /* under lock */
	int idle;                       /* workers in cond_wait, under lock */
	pthread_t threads[POOL_MAX_THREADS];
	int nthreads;
	int pending;                    /* loop thread only */
	int pipefd[2];                  /* workers -> loop */
	struct event *ev;
};

static void
q_init(struct jobq *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

static void
q_push(struct jobq *q, struct job *j)
{
	j->next = NULL;
	*q->tail = j;
	q->tail = &j->next;
}

/* Take the whole queue. */
static struct job *
q_take(struct jobq *q)
{
	struct job *j = q->head;

	q_init(q);
	return j;
}

static void
job_run(struct job *j)
{
	j->r = phone_normalise(j->number, j->region[0] ? j->region : NULL,
	    j->e164, sizeof(j->e164), &j->type);
}

static void
job_answer(struct job *j)
{
	j->cb(j->arg, j->r, j->r == PHONE_OK ? j->e164 : NULL, j->type);
	free(j);
}

static void *
worker(void *arg)
{
	struct phone_pool *p = arg;
	struct job *j;
	int was_empty;
	char c = 1;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->todo.head == NULL) {
			p->idle++;
			pthread_cond_wait(&p->wake, &p->lock);
			p->idle--;
		}
		if (p->stop)
			break;
		j = p->todo.head;
		p->todo.head = j->next;
		if (p->todo.head == NULL)
			p->todo.tail = &p->todo.head;
		pthread_mutex_unlock(&p->lock);

		job_run(j);

		pthread_mutex_lock(&p->lock);
		was_empty = p->done.head == NULL;
		q_push(&p->done, j);
		if (was_empty) {
			/* The loop drains the pipe before it takes the list,
			 * so one octet per empty -> non-empty is enough.  A
			 * full pipe already holds a wake-up. */
			while (write(p->pipefd[1], &c, 1) < 0 && errno == EINTR)
				;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct phone_pool *p = arg;
	struct job *j, *next;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&p->lock);
	j = q_take(&p->done);
	pthread_mutex_unlock(&p->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		p->pending--;
		job_answer(j);
	}
}

struct phone_pool *
phone_pool_new(struct event_base *base, int nthreads)
{
	struct phone_pool *p = xcalloc(1, sizeof(*p));
	int i, rc;

	p->base = base;
	p->pipefd[0] = p->pipefd[1] = -1;
	q_init(&p->todo);
	q_init(&p->done);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (nthreads > POOL_MAX_THREADS)
		nthreads = POOL_MAX_THREADS;
	if (nthreads <= 0)
		return p;
	if (pipe2(p->pipefd, O_NONBLOCK | O_CLOEXEC) != 0)
		goto fail;
	p->ev = event_new(base, p->pipefd[0], EV_READ | EV_PERSIST, on_done,
	    p);
	if (p->ev == NULL || event_add(p->ev, NULL) != 0)
		goto fail;
	for (i = 0; i < nthreads; i++) {
		rc = pthread_create(&p->threads[i], NULL, worker, p);
		if (rc != 0) {
			errno = rc;
			goto fail;
		}
		p->nthreads++;
	}
	return p;
fail:
	rc = errno;
	phone_pool_free(p);
	errno = rc;
	return NULL;
}

void
phone_pool_lookup(struct phone_pool *p, const char *number,
    const char *region, phone_done_cb cb, void *arg)
{
	struct job *j;
	enum phone_result r;
	enum phone_type type = PHONE_UNKNOWN;
	char e164[20];
	size_t nl = number ? strlen(number) : 0;

	if (number == NULL || nl >= sizeof(j->number) ||
	    (region != NULL && strlen(region) >= sizeof(j->region))) {
		cb(arg, PHONE_UNPARSABLE, NULL, PHONE_UNKNOWN);
		return;
	}
	if (p->nthreads == 0) {
		r = phone_normalise(number, region, e164, sizeof(e164), &type);
		cb(arg, r, r == PHONE_OK ? e164 : NULL, type);
		return;
	}
	if (phone_cached(number, region, e164, sizeof(e164), &type, &r)) {
		cb(arg, r, r == PHONE_OK ? e164 : NULL, type);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->cb = cb;
	j->arg = arg;
	memcpy(j->number, number, nl + 1);
	if (region != NULL)
		util_strlcpy(j->region, region, sizeof(j->region));
	p->pending++;
	pthread_mutex_lock(&p->lock);
	q_push(&p->todo, j);
	/* A busy worker looks at the list before it waits: wake one only
	 * when one waits (each wake-up is a system call). */
	if (p->idle > 0)
		pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

int
phone_pool_pending(const struct phone_pool *p)
{
	return p ? p->pending : 0;
}

void
phone_pool_free(struct phone_pool *p)
{
	struct job *j, *next, *todo;
	int i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* Answer in the order asked: what the workers finished, then what
	 * they never took (parsed here). */
	j = q_take(&p->done);
	todo = q_take(&p->todo);
	for (; j != NULL; j = next) {
		next = j->next;
		job_answer(j);
	}
	for (j = todo; j != NULL; j = next) {
		next = j->next;
		job_run(j);
		job_answer(j);
	}
	if (p->ev != NULL)
		event_free(p->ev);
	for (i = 0; i < 2; i++)
		if (p->pipefd[i] >= 0)
			close(p->pipefd[i]);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
