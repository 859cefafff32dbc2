/*
 * bench_admit.c - the cost of one admission step (engine/admit.c) as the queue grows.
 *
 *   make bench                                   builds build/bench-admit
 *   build/bench-admit [-s STEPS] [-t MS] [-w WARMUP] [-k K] [-p P] [-r] [N...]
 *
 * For each N (default 1000 10000 100000): N waiting task instances over 1,000 DAGs (N / 1,000
 * each; every 10th DAG has max_active_tasks 4) and 20 pools of 8..64 slots, parallelism 256.
 * A DAG's instances use P of the pools (default 3; 70% its first), a tenth take 2 pool
 * slots, weights are 1..10, and a few declare cpu and memory (5%) or disk (1%) against a
 * fake host. After filling the queue and starting what fits, one step is what a server's
 * loop does when K attempts end (default 64):
 * admit_release() for K running instances picked at random, admit_next() until ADMIT_NONE,
 * then admit_add() of one new instance of the same DAG per instance started, so N instances
 * wait again before the next step. Each step is timed with CLOCK_MONOTONIC; the simulated
 * clock moves 100 ms per step.
 *
 * At least STEPS steps (default 2,000) and at least MS milliseconds (default 500) are
 * measured, after WARMUP unmeasured steps (default 200) that let the set-aside lists reach
 * their steady size. The table gives the median and p99 of a step, the median of a step's
 * time divided by the instances it started, and admit_add's cost while filling.
 *
 * -r prints one line per N instead, for bench/run.sh:
 *   N STEPS STARTED FILL_NS_PER_ADD STEP_MEDIAN_NS STEP_P99_NS NS_PER_START SET_ASIDE
 * Instruction counts: run under valgrind --tool=callgrind --toggle-collect=measured_step
 * with -t 0, one N per run; the total Ir divided by STARTED is the cost per started task.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/admit.h"

#define G (1024ULL * 1024 * 1024)
#define N_DAGS 1000
#define N_POOLS 20
#define PARALLELISM 256
#define STEP_MS 100
/* An id carries its DAG in its low bits, so a started instance's replacement needs no table. */
#define DAG_BITS 10

struct bench {
	struct admit *a;
	uint32_t dag[N_DAGS], pool[N_POOLS];
	uint64_t seq; /* ids are (seq << DAG_BITS) | DAG */
	uint64_t *running;
	size_t n_running, cap_running;
	int64_t now;
	uint64_t rng;
	int k;			/* released per step */
	uint32_t pools_per_dag; /* how many of the pools one DAG's tasks use */
};

/* splitmix64: a fixed seed, so every run sees the same workload. */
static uint64_t rnd(struct bench *b)
{
	uint64_t z = (b->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t below(struct bench *b, uint32_t n)
{
	return (uint32_t)(rnd(b) % n);
}

static int64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *xmalloc_or_die(size_t size)
{
	void *p = malloc(size);
	if (!p) {
		fprintf(stderr, "bench-admit: out of memory\n");
		exit(1);
	}
	return p;
}

/* Two filesystems whose free space does not move: admission subtracts what running tasks
 * declared, which is the part this benchmark exercises. */
static int fake_disk(void *ctx, const char *path, struct admit_disk *ret)
{
	(void)ctx;
	if (path[0] != '/' || (path[1] != 'a' && path[1] != 'b'))
		return -ENOENT;
	if (path[1] == 'a')
		*ret = (struct admit_disk){200 * G, 1000 * G, 1};
	else
		*ret = (struct admit_disk){50 * G, 500 * G, 2};
	return 0;
}

/* The server asks its store whether an id still waits; here every id does. Kept so the
 * indirect call is part of the measured cost. */
static bool fake_valid(void *ctx, uint64_t id)
{
	(void)ctx;
	return id != 0;
}

static void bench_init(struct bench *b, int k, uint32_t pools_per_dag)
{
	memset(b, 0, sizeof(*b));
	b->rng = 0x5eed;
	b->k = k;
	b->pools_per_dag = pools_per_dag;
	/* The server's defaults (priority_ageing 30s, reserve_after 10m). */
	struct admit_config cfg = {.parallelism = PARALLELISM,
				   .ageing_ms = 30 * 1000,
				   .reserve_after_ms = 10 * 60 * 1000,
				   .disk_recheck_ms = 2000};
	/* 64 cores and 256G, about twice what the 5% of 256 running tasks that declare cpu
	 * and memory hold on average: short now and then, so a few instances are set aside
	 * and put back, without the set-aside list growing step after step. */
	struct admit_host host = {64000, 256 * G, fake_disk, fake_valid, NULL};
	b->a = admit_new(&cfg, &host);
	char name[32];
	for (uint32_t i = 0; i < N_DAGS; i++) {
		snprintf(name, sizeof(name), "dag_%04u", i);
		b->dag[i] = admit_dag(b->a, name, i % 10 == 0 ? 4 : 0);
	}
	for (uint32_t i = 0; i < N_POOLS; i++) {
		snprintf(name, sizeof(name), "pool_%02u", i);
		b->pool[i] = admit_pool(b->a, name);
		admit_pool_set(b->a, b->pool[i], (int32_t)(8 + 56 * i / (N_POOLS - 1)));
	}
}

/* A new waiting instance of DAG `dag`, ready at `ready_at`. */
static void add_one(struct bench *b, uint32_t dag, int64_t ready_at)
{
	struct admit_need n = {.dag = b->dag[dag], .slots = 1};
	/* 70% of a DAG's tasks use its home pool, the others one of its pools_per_dag - 1
	 * other pools. A lane is a (pool, DAG) pair, so there are at most 1,000 x pools_per_dag
	 * lanes whatever N: with the default 3 the queue grows deeper, not wider. 7 is coprime
	 * with 20, so the pools of a DAG differ. */
	uint32_t r = below(b, 100), j = 0;
	if (b->pools_per_dag > 1 && r >= 70)
		j = 1 + below(b, b->pools_per_dag - 1);
	n.pool = b->pool[(dag + 7 * j) % N_POOLS];
	r = below(b, 100);
	if (r < 10)
		n.slots = 2;
	if (r >= 90 && r < 95) {
		n.cpu_milli = 500 * (1 + below(b, 8));
		n.memory = (1 + below(b, 16)) * G;
	} else if (r == 95) {
		n.disk = (1 + below(b, 20)) * G;
		n.disk_path = below(b, 2) ? "/a/scratch" : "/b/data";
	}
	int64_t weight = 1 + below(b, 10);
	uint64_t id = (++b->seq << DAG_BITS) | dag;
	if (!admit_add(b->a, id, &n, weight, ready_at, b->now)) {
		fprintf(stderr, "bench-admit: admit_add refused id %" PRIu64 "\n", id);
		exit(1);
	}
}

static uint32_t dag_of(uint64_t id)
{
	return (uint32_t)(id & ((1u << DAG_BITS) - 1));
}

/* admit_next until ADMIT_NONE; the ids started go to the end of the running set. Returns how
 * many started. */
static size_t admit_all(struct bench *b)
{
	struct admit_pick pick;
	enum admit_verdict v;
	size_t from = b->n_running, n = from;
	while ((v = admit_next(b->a, b->now, &pick)) != ADMIT_NONE) {
		if (v == ADMIT_NEVER) {
			/* No instance here is too big: this would be a bug in admit.c. */
			fprintf(stderr, "bench-admit: unexpected NEVER for %" PRIu64 ": %s\n",
				pick.id, pick.why);
			exit(1);
		}
		if (n == b->cap_running) {
			b->cap_running = b->cap_running ? 2 * b->cap_running : 512;
			b->running = realloc(b->running, b->cap_running * sizeof(*b->running));
			if (!b->running) {
				fprintf(stderr, "bench-admit: out of memory\n");
				exit(1);
			}
		}
		b->running[n++] = pick.id;
	}
	b->n_running = n;
	return n - from;
}

/* One admission step; returns the number started. */
static size_t admission_step(struct bench *b)
{
	b->now += STEP_MS;
	for (int i = 0; i < b->k && b->n_running; i++) {
		size_t j = below(b, (uint32_t)b->n_running);
		uint64_t id = b->running[j];
		b->running[j] = b->running[--b->n_running];
		if (!admit_release(b->a, id, b->now)) {
			fprintf(stderr, "bench-admit: release of %" PRIu64 " refused\n", id);
			exit(1);
		}
	}
	size_t from = b->n_running;
	size_t started = admit_all(b);
	for (size_t i = from; i < b->n_running; i++)
		add_one(b, dag_of(b->running[i]), b->now);
	return started;
}

/* The measured steps go through here, so callgrind can count them alone
 * (--toggle-collect=measured_step). */
__attribute__((noinline)) static size_t measured_step(struct bench *b)
{
	return admission_step(b);
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t p = *(const int64_t *)x, q = *(const int64_t *)y;
	return (p > q) - (p < q);
}

/* The q-quantile (nearest rank) of v[0..n), which it sorts. */
static int64_t quantile(int64_t *v, size_t n, double q)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	size_t r = (size_t)(q * (double)n + 0.999999);
	return v[r ? r - 1 : 0];
}

struct result {
	size_t n, steps, started, set_aside;
	double fill_ns; /* per admit_add */
	int64_t step_med, step_p99, per_start_med;
};

static void run(size_t n, size_t min_steps, int64_t min_ns, size_t warmup, int k,
		uint32_t pools_per_dag, struct result *res)
{
	struct bench b;
	bench_init(&b, k, pools_per_dag);
	/* Fill: ready at some point in the last minute, so ages differ. */
	int64_t t0 = clock_ns();
	for (size_t i = 0; i < n; i++)
		add_one(&b, (uint32_t)(i % N_DAGS), -(int64_t)below(&b, 60000));
	int64_t t1 = clock_ns();
	size_t first = admit_all(&b);
	for (size_t i = 0; i < first; i++)
		add_one(&b, dag_of(b.running[i]), b.now);
	for (size_t i = 0; i < warmup; i++)
		admission_step(&b);

	size_t cap = min_steps > 1024 ? min_steps : 1024, steps = 0, started = 0;
	int64_t *step_ns = xmalloc_or_die(cap * sizeof(*step_ns));
	int64_t *per_start = xmalloc_or_die(cap * sizeof(*per_start));
	size_t n_per = 0;
	int64_t begin = clock_ns(), end = begin;
	while (steps < min_steps || end - begin < min_ns) {
		if (steps == cap) {
			cap *= 2;
			step_ns = realloc(step_ns, cap * sizeof(*step_ns));
			per_start = realloc(per_start, cap * sizeof(*per_start));
			if (!step_ns || !per_start) {
				fprintf(stderr, "bench-admit: out of memory\n");
				exit(1);
			}
		}
		int64_t s = clock_ns();
		size_t got = measured_step(&b);
		end = clock_ns();
		step_ns[steps++] = end - s;
		started += got;
		if (got)
			per_start[n_per++] = (end - s) / (int64_t)got;
		if (steps >= 10000000)
			break;
	}

	/* Sanity: the queue really stayed at N and parallelism was respected. */
	struct admit_stats st;
	admit_stats(b.a, &st);
	if (st.waiting != n || st.running != b.n_running || st.running > PARALLELISM) {
		fprintf(stderr,
			"bench-admit: N=%zu: %zu waiting, %zu running (expected %zu, %zu)\n", n,
			st.waiting, st.running, n, b.n_running);
		exit(1);
	}
	*res = (struct result){.n = n,
			       .steps = steps,
			       .started = started,
			       .set_aside = st.set_aside + st.reservations,
			       .fill_ns = (double)(t1 - t0) / (double)n,
			       .step_med = quantile(step_ns, steps, 0.5),
			       .step_p99 = quantile(step_ns, steps, 0.99),
			       .per_start_med = quantile(per_start, n_per, 0.5)};
	free(step_ns);
	free(per_start);
	free(b.running);
	admit_free(b.a);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-admit [-s STEPS] [-t MS] [-w WARMUP] [-k K] [-p P] [-r] [N...]\n");
	exit(2);
}

static long num_arg(const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	size_t min_steps = 2000, warmup = 200;
	int64_t min_ms = 500;
	int k = 64, c;
	uint32_t pools_per_dag = 3;
	bool raw = false;
	while ((c = getopt(argc, argv, "s:t:w:k:p:r")) != -1) {
		switch (c) {
		case 's':
			min_steps = (size_t)num_arg(optarg, 1, 10000000);
			break;
		case 't':
			min_ms = num_arg(optarg, 0, 3600 * 1000);
			break;
		case 'w':
			warmup = (size_t)num_arg(optarg, 0, 10000000);
			break;
		case 'k':
			k = (int)num_arg(optarg, 1, PARALLELISM);
			break;
		case 'p':
			pools_per_dag = (uint32_t)num_arg(optarg, 1, N_POOLS);
			break;
		case 'r':
			raw = true;
			break;
		default:
			usage();
		}
	}
	size_t sizes[16] = {1000, 10000, 100000}, n_sizes = 3;
	if (optind < argc) {
		n_sizes = 0;
		for (int i = optind; i < argc && n_sizes < 16; i++)
			sizes[n_sizes++] = (size_t)num_arg(argv[i], N_DAGS, 100000000);
	}
	if (!raw) {
		printf("| waiting | steps | started per step | fill ns per add | step median us "
		       "| step p99 us | ns per started task (median) | set aside at end |\n");
		printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	}
	for (size_t i = 0; i < n_sizes; i++) {
		struct result r;
		run(sizes[i], min_steps, min_ms * 1000000, warmup, k, pools_per_dag, &r);
		if (raw) {
			printf("%zu %zu %zu %.0f %" PRId64 " %" PRId64 " %" PRId64 " %zu\n", r.n,
			       r.steps, r.started, r.fill_ns, r.step_med, r.step_p99,
			       r.per_start_med, r.set_aside);
		} else {
			printf("| %zu | %zu | %.1f | %.0f | %.1f | %.1f | %" PRId64 " | %zu |\n",
			       r.n, r.steps, (double)r.started / (double)r.steps, r.fill_ns,
			       (double)r.step_med / 1000.0, (double)r.step_p99 / 1000.0,
			       r.per_start_med, r.set_aside);
		}
		fflush(stdout);
	}
	return 0;
}
