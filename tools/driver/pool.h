/* A small pthreads pool with the parallel-for that NAME_run_parallel takes
   (docs/generated-code.md): an example for callers, used by
   tools/driver/parallel_driver.c, bench/net_driver.c and the tests.

       q8_pool *pool = q8_pool_new(2);     (the caller's thread + 1 worker)
       NAME_run_parallel(in, out, arena, q8_pool_for, pool);
       q8_pool_free(pool);

   q8_pool_for hands out the n tasks of one call one index at a time to the
   calling thread and the workers, and returns when all n are done.  The
   calling thread never waits for a worker to wake up: it takes whatever
   tasks are left itself.  So that a late worker can never take a task of
   a finished call, the task counter carries the call's number in its high
   32 bits and the call's fields are read under a sequence count.  Workers
   spin briefly for the next call (a model's layers follow each other
   within microseconds), then sleep on a condition variable.
   Header-only; C11 <stdatomic.h> and pthreads. */
#ifndef Q8_POOL_H
#define Q8_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct q8_pool {
	int nthreads;
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint seq;             /* odd while main writes the fields below */
	_Atomic(void (*)(void *, size_t)) task;
	_Atomic(void *) arg;
	atomic_size_t n;
	atomic_uint_fast64_t next;   /* call number << 32 | next task index */
	atomic_size_t done;          /* tasks of the current call finished */
	atomic_int quit;
} q8_pool;

/* claims and runs tasks of call number gen while there are any */
static void q8_pool_work(q8_pool *p, uint32_t gen, void (*task)(void *, size_t), void *arg, size_t n)
{
	uint64_t v = atomic_load(&p->next);
	for (;;) {
		if ((uint32_t)(v >> 32) != gen || (size_t)(uint32_t)v >= n)
			return;
		if (atomic_compare_exchange_weak(&p->next, &v, v + 1)) {
			task(arg, (size_t)(uint32_t)v);
			atomic_fetch_add(&p->done, 1);
			v = atomic_load(&p->next);
		}
	}
}

static void *q8_pool_main(void *vp)
{
	q8_pool *p = vp;
	unsigned seen = 0;
	int idle = 0;
	while (!atomic_load(&p->quit)) {
		unsigned s1 = atomic_load(&p->seq);
		if ((s1 & 1) || s1 == seen) {
			if (++idle < 4000)
				continue;
			if (idle < 8000) {
				sched_yield();
				continue;
			}
			pthread_mutex_lock(&p->mu);
			while (atomic_load(&p->seq) == seen && !atomic_load(&p->quit))
				pthread_cond_wait(&p->cv, &p->mu);
			pthread_mutex_unlock(&p->mu);
			continue;
		}
		void (*task)(void *, size_t) = atomic_load(&p->task);
		void *arg = atomic_load(&p->arg);
		size_t n = atomic_load(&p->n);
		if (atomic_load(&p->seq) != s1)
			continue;   /* main rewrote the fields meanwhile */
		seen = s1, idle = 0;
		q8_pool_work(p, s1 / 2, task, arg, n);
	}
	return NULL;
}

/* the parallel_for of NAME_run_parallel; ctx is the pool */
static inline void q8_pool_for(void *ctx, void (*task)(void *arg, size_t i), void *arg, size_t n)
{
	q8_pool *p = ctx;
	if (p->nthreads <= 1 || n <= 1) {
		for (size_t i = 0; i < n; i++)
			task(arg, i);
		return;
	}
	unsigned s = atomic_load(&p->seq) + 1;   /* odd: writing */
	atomic_store(&p->seq, s);
	atomic_store(&p->task, task);
	atomic_store(&p->arg, arg);
	atomic_store(&p->n, n);
	atomic_store(&p->done, 0);
	atomic_store(&p->next, (uint64_t)((s + 1) / 2) << 32);
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->seq, s + 1);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	q8_pool_work(p, (s + 1) / 2, task, arg, n);
	for (int spin = 0; atomic_load(&p->done) < n; spin++)
		if (spin > 1000)
			sched_yield();
}

static inline q8_pool *q8_pool_new(int nthreads)
{
	q8_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->nthreads = nthreads < 1 ? 1 : nthreads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->th = calloc((size_t)p->nthreads, sizeof *p->th);
	for (int i = 1; i < p->nthreads; i++)
		if (pthread_create(&p->th[i], NULL, q8_pool_main, p) != 0)
			abort();
	return p;
}

static inline void q8_pool_free(q8_pool *p)
{
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->quit, 1);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->th);
	free(p);
}

#endif
