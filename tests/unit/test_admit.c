/* Unit tests for engine/admit.c: a fake clock and a fake host. */
#include <errno.h>

#include "base/buf.h"
#include "base/util.h"
#include "base/diag.h"
#include "dag/dag_load.h"
#include "engine/admit.h"
#include "engine/conflicts.h"
#include "test.h"

#define G (1024ULL * 1024 * 1024)

struct fake {
	uint64_t free[3], total[3]; /* per fake filesystem: /a, /b, /c */
	uint64_t invalid;	    /* an id the caller no longer waits for */
};

static int fake_disk(void *ctx, const char *path, struct admit_disk *ret)
{
	struct fake *f = ctx;
	if (path[0] != '/' || path[1] < 'a' || path[1] > 'c')
		return -ENOENT;
	int i = path[1] - 'a';
	*ret = (struct admit_disk){f->free[i], f->total[i], (uint64_t)i + 1};
	return 0;
}

static bool fake_valid(void *ctx, uint64_t id)
{
	return ((struct fake *)ctx)->invalid != id;
}

static struct fake fk;

static struct admit *mk(int parallelism, int64_t cpu_milli, uint64_t memory)
{
	memset(&fk, 0, sizeof(fk));
	for (int i = 0; i < 3; i++) {
		fk.free[i] = 100 * G;
		fk.total[i] = 200 * G;
	}
	struct admit_config cfg = {.parallelism = parallelism,
				   .ageing_ms = 1000,
				   .reserve_after_ms = 60000,
				   .disk_recheck_ms = 2000};
	struct admit_host host = {cpu_milli, memory, fake_disk, fake_valid, &fk};
	return admit_new(&cfg, &host);
}

static struct admit_need need(uint32_t dag, uint32_t pool, int32_t slots)
{
	return (struct admit_need){.dag = dag, .pool = pool, .slots = slots};
}

/* The next id admit_next starts, 0 for none; fails on NEVER. */
static uint64_t next(struct admit *a, int64_t now)
{
	struct admit_pick p;
	enum admit_verdict v = admit_next(a, now, &p);
	if (v == ADMIT_NEVER)
		test_fail(__FILE__, __LINE__, "unexpected NEVER for %" PRIu64 ": %s", p.id, p.why);
	return v == ADMIT_START ? p.id : 0;
}

static char *explain(struct admit *a, uint64_t id)
{
	static char s[512];
	struct buf b = {0};
	admit_explain(a, id, 0, &b);
	snprintf(s, sizeof(s), "%s", b.len ? buf_str(&b) : "");
	buf_free(&b);
	return s;
}

TEST(admit_parallelism_caps_starts)
{
	struct admit *a = mk(2, 8000, 16 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "default_pool");
	admit_pool_set(a, p, 128);
	for (uint64_t id = 1; id <= 5; id++) {
		struct admit_need n = need(d, p, 1);
		ASSERT(admit_add(a, id, &n, 1, 0, 0));
	}
	ASSERT_INT_EQ(next(a, 0), 1);
	ASSERT_INT_EQ(next(a, 0), 2);
	ASSERT_INT_EQ(next(a, 0), 0);
	ASSERT_STR_CONTAINS(explain(a, 3), "parallelism: 2 of 2 in use");
	ASSERT(admit_release(a, 1, 1));
	ASSERT(!admit_release(a, 1, 1));
	ASSERT_INT_EQ(next(a, 1), 3);
	ASSERT_INT_EQ(next(a, 1), 0);
	admit_free(a);
}

TEST(admit_pool_slots_and_pool_slots_per_task)
{
	struct admit *a = mk(100, 8000, 16 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "indexers");
	admit_pool_set(a, p, 6);
	struct admit_need two = need(d, p, 2);
	for (uint64_t id = 1; id <= 5; id++)
		admit_add(a, id, &two, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 1);
	ASSERT_INT_EQ(next(a, 0), 2);
	ASSERT_INT_EQ(next(a, 0), 3);
	ASSERT_INT_EQ(next(a, 0), 0);
	ASSERT_INT_EQ(admit_pool_used(a, p), 6);
	ASSERT_STR_CONTAINS(explain(a, 4), "pool 'indexers': 6 of 6 slots used");
	admit_release(a, 2, 5);
	ASSERT_INT_EQ(next(a, 5), 4);
	ASSERT_INT_EQ(next(a, 5), 0);
	admit_free(a);
}

TEST(admit_missing_pool_waits_until_created)
{
	struct admit *a = mk(10, 8000, 16 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "later");
	struct admit_need n = need(d, p, 1);
	admit_add(a, 7, &n, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 0);
	ASSERT_STR_CONTAINS(explain(a, 7), "pool 'later' does not exist");
	admit_pool_set(a, p, 0); /* a pool of 0 slots holds its tasks back */
	ASSERT_INT_EQ(next(a, 0), 0);
	admit_pool_set(a, p, 1);
	ASSERT_INT_EQ(next(a, 0), 7);
	admit_free(a);
}

TEST(admit_higher_weight_first_then_oldest)
{
	struct admit *a = mk(1, 8000, 16 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "default_pool");
	admit_pool_set(a, p, 128);
	struct admit_need n = need(d, p, 1);
	admit_add(a, 1, &n, 1, 0, 0);
	admit_add(a, 2, &n, 5, 0, 0);
	admit_add(a, 3, &n, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 2);
	admit_release(a, 2, 0);
	ASSERT_INT_EQ(next(a, 0), 1);
	admit_release(a, 1, 0);
	ASSERT_INT_EQ(next(a, 0), 3);
	admit_free(a);
}

/* ageing_ms is 1 s: one point of weight per second of waiting. */
TEST(admit_ageing_bounds_how_long_low_weight_waits)
{
	struct admit *a = mk(1, 8000, 16 * G);
	uint32_t lo = admit_dag(a, "lo", 0), hi = admit_dag(a, "hi", 0);
	uint32_t p = admit_pool(a, "default_pool");
	admit_pool_set(a, p, 128);
	struct admit_need nl = need(lo, p, 1), nh = need(hi, p, 1);
	admit_add(a, 1, &nl, 1, 0, 0); /* weight 1, waiting since 0 */
	admit_add(a, 100, &nh, 11, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 100);
	/* "hi" keeps adding weight-11 tasks; "lo" gets its turn once it waited 10 s longer. */
	uint64_t id = 100, got = 0;
	int64_t t;
	for (t = 1000; t <= 20000 && !got; t += 1000) {
		admit_release(a, id, t);
		admit_add(a, ++id, &nh, 11, t, t);
		uint64_t s = next(a, t);
		if (s == 1)
			got = (uint64_t)t;
		else
			ASSERT_INT_EQ(s, id);
	}
	ASSERT(got >= 10000 && got <= 12000);
	admit_free(a);
}

/* A DAG that fans out many instances does not hold the pool against a DAG that comes later. */
TEST(admit_round_robin_between_dags)
{
	struct admit *a = mk(100, 8000, 16 * G);
	uint32_t fan = admit_dag(a, "fan", 0), one = admit_dag(a, "one", 0);
	uint32_t p = admit_pool(a, "p");
	admit_pool_set(a, p, 1);
	struct admit_need nf = need(fan, p, 1), no = need(one, p, 1);
	for (uint64_t id = 1; id <= 1000; id++)
		admit_add(a, id, &nf, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 1);
	admit_add(a, 5000, &no, 1, 10, 10);
	admit_release(a, 1, 20);
	ASSERT_INT_EQ(next(a, 20), 5000); /* not after 999 others */
	admit_release(a, 5000, 30);
	ASSERT_INT_EQ(next(a, 30), 2);
	admit_free(a);
}

TEST(admit_max_active_tasks_does_not_block_other_dags)
{
	struct admit *a = mk(100, 8000, 16 * G);
	uint32_t x = admit_dag(a, "x", 2), y = admit_dag(a, "y", 0);
	uint32_t p = admit_pool(a, "p");
	admit_pool_set(a, p, 10);
	struct admit_need nx = need(x, p, 1), ny = need(y, p, 1);
	for (uint64_t id = 1; id <= 5; id++)
		admit_add(a, id, &nx, 10, 0, 0); /* ahead of y by weight */
	admit_add(a, 10, &ny, 1, 0, 0);
	admit_add(a, 11, &ny, 1, 0, 0);
	uint64_t got[4];
	for (int i = 0; i < 4; i++)
		got[i] = next(a, 0);
	ASSERT_INT_EQ(got[0], 1);
	ASSERT_INT_EQ(got[1], 2);
	ASSERT_INT_EQ(got[2], 10);
	ASSERT_INT_EQ(got[3], 11);
	ASSERT_INT_EQ(next(a, 0), 0);
	ASSERT_INT_EQ(admit_dag_active(a, x), 2);
	ASSERT_STR_CONTAINS(explain(a, 3), "max_active_tasks 2 reached for DAG x");
	admit_release(a, 1, 1);
	ASSERT_INT_EQ(next(a, 1), 3);
	ASSERT_INT_EQ(next(a, 1), 0);
	/* A new version raising the limit lets more start at once. */
	admit_dag(a, "x", 4);
	ASSERT_INT_EQ(next(a, 1), 4);
	ASSERT_INT_EQ(next(a, 1), 5);
	admit_free(a);
}

/* A task wanting 3 slots of a pool with 2 free is set aside; small ones go on; after
 * reserve_after it holds the pool and starts as soon as 3 slots are free. */
TEST(admit_no_head_of_line_blocking_then_reservation)
{
	struct admit *a = mk(100, 8000, 16 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "p");
	admit_pool_set(a, p, 4);
	struct admit_need small = need(d, p, 1), big = need(d, p, 3);
	admit_add(a, 1, &small, 1, 0, 0);
	admit_add(a, 2, &small, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 1);
	ASSERT_INT_EQ(next(a, 0), 2);
	admit_add(a, 1000, &big, 5, 0, 0); /* highest weight, but does not fit */
	admit_add(a, 3, &small, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 3);
	ASSERT_STR_CONTAINS(explain(a, 1000), "needs 3 slots of pool 'p': 3 of 4 in use");
	struct admit_stats st;
	admit_stats(a, &st);
	ASSERT_INT_EQ(st.set_aside, 1);
	/* Small tasks keep the pool busy: each release lets another small one in. */
	uint64_t id = 3, running[3] = {1, 2, 3};
	int k = 0;
	int64_t t;
	for (t = 1000; t < 60000; t += 1000) {
		admit_release(a, running[k], t);
		admit_add(a, ++id, &small, 1, t, t);
		running[k] = next(a, t);
		ASSERT_INT_EQ(running[k], id);
		k = (k + 1) % 3;
	}
	ASSERT_INT_EQ(admit_next_wakeup(a), 60000);
	/* Overdue: the big one reserves the pool; small ones wait now. */
	admit_release(a, running[k], t);
	admit_add(a, ++id, &small, 1, t, t);
	ASSERT_INT_EQ(next(a, t), 0);
	ASSERT_STR_CONTAINS(explain(a, 1000), "holds a reservation");
	ASSERT_STR_CONTAINS(explain(a, id), "reserved for a task waiting longer (id 1000)");
	struct buf b = {0};
	admit_reservations(a, &b);
	ASSERT_STR_CONTAINS(buf_str(&b), "1000\tpool 'p'");
	buf_free(&b);
	admit_release(a, running[(k + 1) % 3], t + 1);
	ASSERT_INT_EQ(next(a, t + 1), 1000);
	ASSERT_INT_EQ(admit_pool_used(a, p), 4);
	ASSERT_INT_EQ(next(a, t + 1), 0);
	admit_free(a);
}

TEST(admit_declared_resources_wait_and_say_why)
{
	struct admit *a = mk(100, 4000, 8 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "p");
	admit_pool_set(a, p, 100);
	struct admit_need c3 = need(d, p, 1), c2 = need(d, p, 1), plain = need(d, p, 1);
	c3.cpu_milli = 3000;
	c2.cpu_milli = 2000;
	c2.memory = 2 * G;
	admit_add(a, 1, &c3, 1, 0, 0);
	admit_add(a, 2, &c2, 1, 0, 0);
	admit_add(a, 3, &plain, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 1);
	ASSERT_INT_EQ(next(a, 0), 3); /* 2 does not fit: no head-of-line blocking */
	ASSERT_INT_EQ(next(a, 0), 0);
	ASSERT_STR_CONTAINS(explain(a, 2), "needs cpu 2, 1 of 4 free");
	admit_release(a, 1, 5);
	ASSERT_INT_EQ(next(a, 5), 2);
	admit_free(a);
}

TEST(admit_disk_counts_running_reservations_per_filesystem)
{
	struct admit *a = mk(100, 4000, 8 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "p");
	admit_pool_set(a, p, 100);
	struct admit_need d60 = need(d, p, 1), d50 = need(d, p, 1), other = need(d, p, 1);
	d60.disk = 60 * G;
	d60.disk_path = "/a/scratch";
	d50.disk = 50 * G;
	d50.disk_path = "/a/data";
	other.disk = 50 * G;
	other.disk_path = "/b";
	admit_add(a, 1, &d60, 1, 0, 0);
	admit_add(a, 2, &d50, 1, 0, 0);
	admit_add(a, 3, &other, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 1);
	ASSERT_INT_EQ(next(a, 0), 3); /* another filesystem */
	ASSERT_INT_EQ(next(a, 0), 0);
	ASSERT_STR_CONTAINS(
	    explain(a, 2), "needs disk 50G on /a/data, 40G free after running tasks' reservations");
	/* Disk frees by itself (someone deleted files): looked at again after disk_recheck. */
	ASSERT_INT_EQ(admit_next_wakeup(a), 2000);
	fk.free[0] = 120 * G;
	ASSERT_INT_EQ(next(a, 1000), 0);
	ASSERT_INT_EQ(next(a, 2000), 2);
	admit_free(a);
}

TEST(admit_never_fits_fails_at_once)
{
	struct admit *a = mk(100, 8000, 16 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "p");
	admit_pool_set(a, p, 4);
	struct admit_need cpu = need(d, p, 1), mem = need(d, p, 1), disk = need(d, p, 1),
			  wide = need(d, p, 5), nodisk = need(d, p, 1);
	cpu.cpu_milli = 16000;
	mem.memory = 32 * G;
	disk.disk = 300 * G;
	disk.disk_path = "/c";
	nodisk.disk = 1;
	nodisk.disk_path = "relative";
	admit_add(a, 1, &cpu, 1, 0, 0);
	admit_add(a, 2, &mem, 1, 0, 0);
	admit_add(a, 3, &disk, 1, 0, 0);
	admit_add(a, 4, &wide, 1, 0, 0);
	admit_add(a, 5, &nodisk, 1, 0, 0);
	struct admit_pick pk;
	const char *want[] = {
	    "declares cpu 16 but the host has 8",
	    "declares memory 32G but the host has 16G",
	    "declares disk 300G on /c, a filesystem of 200G",
	    "needs 5 slots of pool 'p', which has 4: it can never start (gust pools set p 5",
	};
	for (int i = 0; i < 4; i++) {
		ASSERT_INT_EQ(admit_next(a, 0, &pk), ADMIT_NEVER);
		ASSERT_INT_EQ(pk.id, i + 1);
		ASSERT_STR_CONTAINS(pk.why, want[i]);
	}
	/* A path that cannot be examined waits and says so. */
	ASSERT_INT_EQ(admit_next(a, 0, &pk), ADMIT_NONE);
	ASSERT_STR_CONTAINS(explain(a, 5), "which cannot be examined");
	struct admit_stats st;
	admit_stats(a, &st);
	ASSERT_INT_EQ(st.waiting, 1);
	admit_free(a);
}

/* A task needing all 4 cores, with 1-core tasks arriving all the time: after reserve_after
 * no new cpu task starts, tasks that declare nothing still do, and the big one gets in. */
TEST(admit_resource_reservation)
{
	struct admit *a = mk(100, 4000, 8 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "p");
	admit_pool_set(a, p, 100);
	struct admit_need one = need(d, p, 1), all = need(d, p, 1), plain = need(d, p, 1);
	one.cpu_milli = 1000;
	all.cpu_milli = 4000;
	admit_add(a, 1, &one, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 1);
	admit_add(a, 99, &all, 1, 0, 0);
	uint64_t id = 1;
	for (int64_t t = 1000; t < 60000; t += 1000) {
		admit_add(a, ++id, &one, 1, t, t);
		ASSERT_INT_EQ(next(a, t), id);
		admit_release(a, id - 1, t);
	}
	/* 1 running (id), 99 set aside; now overdue. */
	admit_add(a, ++id, &one, 1, 60000, 60000);
	admit_add(a, 500, &plain, 1, 60000, 60000);
	ASSERT_INT_EQ(next(a, 60000), 500);
	ASSERT_INT_EQ(next(a, 60000), 0);
	ASSERT_STR_CONTAINS(explain(a, id), "reserved for a task waiting longer (id 99)");
	admit_release(a, id - 1, 61000);
	ASSERT_INT_EQ(next(a, 61000), 99);
	admit_release(a, 99, 62000);
	ASSERT_INT_EQ(next(a, 62000), id);
	admit_free(a);
}

TEST(admit_stale_and_removed_entries_are_dropped)
{
	struct admit *a = mk(100, 8000, 16 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "p");
	admit_pool_set(a, p, 100);
	struct admit_need n = need(d, p, 1);
	admit_add(a, 1, &n, 1, 0, 0);
	admit_add(a, 2, &n, 1, 0, 0);
	admit_add(a, 3, &n, 1, 0, 0);
	ASSERT(!admit_add(a, 3, &n, 1, 0, 0));
	ASSERT(admit_remove(a, 2));
	ASSERT(!admit_remove(a, 2));
	fk.invalid = 1;
	ASSERT_INT_EQ(next(a, 0), 3);
	ASSERT_INT_EQ(next(a, 0), 0);
	ASSERT(!admit_remove(a, 3)); /* running: released, not removed */
	struct admit_stats st;
	admit_stats(a, &st);
	ASSERT_INT_EQ(st.waiting, 0);
	ASSERT_INT_EQ(st.running, 1);
	admit_free(a);
}

TEST(admit_held_attempts_count_against_limits)
{
	struct admit *a = mk(3, 4000, 8 * G);
	uint32_t d = admit_dag(a, "d", 2), p = admit_pool(a, "p");
	admit_pool_set(a, p, 5);
	struct admit_need h = need(d, p, 1);
	h.cpu_milli = 3000;
	ASSERT(admit_hold(a, 1, &h));
	ASSERT(!admit_hold(a, 1, &h));
	struct admit_need n = need(d, p, 1);
	n.cpu_milli = 2000;
	admit_add(a, 2, &n, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 0); /* cpu */
	admit_release(a, 1, 1);
	ASSERT_INT_EQ(next(a, 1), 2);
	admit_free(a);
}

static uint64_t rnd(uint64_t *seed)
{
	*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return *seed >> 33;
}

/* Random adds and releases over 3 DAGs, 3 pools and cpu: no limit is ever exceeded, and when
 * everything has been released every instance has started. */
TEST(admit_random_invariants)
{
	struct admit *a = mk(6, 4000, 8 * G);
	uint32_t dags[3] = {admit_dag(a, "a", 2), admit_dag(a, "b", 0), admit_dag(a, "c", 3)};
	uint32_t pools[3] = {admit_pool(a, "p0"), admit_pool(a, "p1"), admit_pool(a, "p2")};
	int32_t slots[3] = {3, 4, 2};
	for (int i = 0; i < 3; i++)
		admit_pool_set(a, pools[i], slots[i]);
	uint64_t seed = 42;
#define RND() rnd(&seed)
	struct {
		struct admit_need n;
		bool running, done;
	} e[400];
	memset(e, 0, sizeof(e));
	int added = 0, started = 0;
	uint64_t run[64];
	int n_run = 0;
	for (int64_t t = 0; started < 400; t += 100) {
		for (int k = (int)(RND() % 4); k > 0 && added < 400; k--) {
			struct admit_need *n = &e[added].n;
			*n = need(dags[RND() % 3], pools[RND() % 3], 1 + (int32_t)(RND() % 2));
			n->cpu_milli = (int64_t)(RND() % 3) * 1000;
			admit_add(a, (uint64_t)added + 1, n, (int64_t)(RND() % 5), t, t);
			added++;
		}
		if (n_run && RND() % 2) {
			int k = (int)(RND() % (uint64_t)n_run);
			ASSERT(admit_release(a, run[k], t));
			run[k] = run[--n_run];
		}
		uint64_t id;
		while ((id = next(a, t))) {
			ASSERT(!e[id - 1].running);
			e[id - 1].running = true;
			run[n_run++] = id;
			started++;
		}
		/* Check every limit. */
		int64_t used[3] = {0}, cpu = 0;
		int active[3] = {0};
		for (int i = 0; i < n_run; i++) {
			const struct admit_need *n = &e[run[i] - 1].n;
			for (int j = 0; j < 3; j++) {
				used[j] += n->pool == pools[j] ? n->slots : 0;
				active[j] += n->dag == dags[j];
			}
			cpu += n->cpu_milli;
		}
		ASSERT(n_run <= 6);
		ASSERT(cpu <= 4000);
		for (int j = 0; j < 3; j++)
			ASSERT(used[j] <= slots[j]);
		ASSERT(active[0] <= 2 && active[2] <= 3);
		if (added == 400 && n_run == 0 && started < 400)
			test_fail(__FILE__, __LINE__, "stuck at t=%" PRId64 " with %d started", t,
				  started);
	}
#undef RND
	admit_free(a);
}

/* ---- conflicts ------------------------------------------------------------------------------ */

static struct dag *cdag(const char *id, const char *conflicts)
{
	char *yaml = xasprintf("id: %s\n%s%s%stasks:\n  t: {run: 'true'}\n", id,
			       conflicts ? "conflicts: [" : "", conflicts ? conflicts : "",
			       conflicts ? "]\n" : "");
	struct dag *d = NULL;
	struct diag_list diags;
	diag_list_init(&diags, "c.yaml");
	if (dag_load_buffer("c.yaml", yaml, strlen(yaml), &d, &diags) < 0) {
		diag_print(&diags, stderr);
		test_fail(__FILE__, __LINE__, "DAG did not load");
	}
	diag_list_free(&diags);
	free(yaml);
	return d;
}

TEST(conflicts_by_id_both_ways_and_by_group)
{
	struct dag *img = cdag("image_data_refresh", NULL);
	struct dag *reidx = cdag("reindex", "image_data_refresh");
	struct dag *w1 = cdag("load_a", "warehouse"), *w2 = cdag("load_b", "warehouse");
	struct dag *free_ = cdag("other", NULL);
	struct conflicts c;
	const char *with = NULL;
	conflicts_init(&c);
	conflicts_add(&c, img);
	ASSERT(conflicts_block(&c, reidx, &with)); /* reindex lists the running one */
	ASSERT_STR_EQ(with, "image_data_refresh");
	ASSERT(!conflicts_block(&c, free_, &with));
	ASSERT(!conflicts_block(&c, w1, &with));
	conflicts_free(&c);

	conflicts_init(&c);
	conflicts_add(&c, reidx);
	ASSERT(conflicts_block(&c, img, &with)); /* the running one lists it */
	ASSERT_STR_EQ(with, "reindex");
	conflicts_add(&c, w1);
	ASSERT(conflicts_block(&c, w2, &with)); /* same group */
	ASSERT_STR_EQ(with, "load_a");
	ASSERT(!conflicts_block(&c, w1, &with)); /* itself: max_active_runs decides */
	ASSERT(!conflicts_block(&c, free_, &with));
	conflicts_add(&c, w2);
	ASSERT(conflicts_block(&c, w1, &with)); /* another DAG of the group runs now */
	conflicts_free(&c);

	ASSERT(conflicts_pair(img, reidx) && conflicts_pair(reidx, img));
	ASSERT(conflicts_pair(w1, w2));
	ASSERT(!conflicts_pair(w1, img) && !conflicts_pair(w1, w1));
	dag_free(img);
	dag_free(reidx);
	dag_free(w1);
	dag_free(w2);
	dag_free(free_);
}

TEST(admit_reserver_of_a_pool_that_shrank_never_fits)
{
	struct admit *a = mk(100, 8000, 16 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "p");
	admit_pool_set(a, p, 4);
	struct admit_need small = need(d, p, 1), big = need(d, p, 3);
	admit_add(a, 1, &small, 1, 0, 0);
	admit_add(a, 2, &small, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 1);
	ASSERT_INT_EQ(next(a, 0), 2);
	admit_add(a, 9, &big, 1, 0, 0);
	ASSERT_INT_EQ(next(a, 0), 0);
	ASSERT_INT_EQ(next(a, 60000), 0); /* overdue: it reserves the pool */
	admit_pool_set(a, p, 2);
	struct admit_pick pk;
	ASSERT_INT_EQ(admit_next(a, 60001, &pk), ADMIT_NEVER);
	ASSERT_INT_EQ(pk.id, 9);
	ASSERT_STR_CONTAINS(pk.why, "which has 2 now");
	admit_free(a);
}

TEST(admit_counts_decisions_and_pool_waits)
{
	struct admit *a = mk(8, 1000, 16 * G);
	uint32_t d = admit_dag(a, "d", 0), p = admit_pool(a, "p"), q = admit_pool(a, "q");
	admit_pool_set(a, p, 2);
	admit_pool_set(a, q, 4);
	struct admit_need n = need(d, p, 1), wide = need(d, p, 2);
	admit_add(a, 1, &n, 0, 0, 0);
	/* Held (set aside): 2 slots, 1 free once 1 runs. A full pool is not looked at, so it
	 * holds nothing back here: its instances show as waiting. */
	admit_add(a, 2, &wide, 0, 0, 0);
	struct admit_need big = need(d, q, 1);
	big.cpu_milli = 2000; /* more than the host: never */
	admit_add(a, 3, &big, 0, 0, 0);
	struct admit_need cpu = need(d, q, 1);
	cpu.cpu_milli = 800;
	admit_add(a, 4, &cpu, 0, 100, 100);
	admit_add(a, 5, &cpu, 0, 100, 100); /* held: 800 + 800 > 1000 */
	struct admit_pick pk;
	int started = 0, nevers = 0;
	enum admit_verdict v;
	while ((v = admit_next(a, 1100, &pk)) != ADMIT_NONE)
		v == ADMIT_START ? started++ : nevers++;
	ASSERT_INT_EQ(started, 2);
	ASSERT_INT_EQ(nevers, 1);
	struct admit_counts c;
	admit_counts(a, &c);
	ASSERT_INT_EQ(c.started, 2);
	ASSERT_INT_EQ(c.never, 1);
	ASSERT_INT_EQ(c.held[ADMIT_HOLD_POOL], 1);
	ASSERT_INT_EQ(c.held[ADMIT_HOLD_CPU], 1);
	ASSERT_INT_EQ(c.held[ADMIT_HOLD_PARALLELISM] + c.held[ADMIT_HOLD_MAX_ACTIVE_TASKS] +
			  c.held[ADMIT_HOLD_MEMORY] + c.held[ADMIT_HOLD_DISK],
		      0);
	struct admit_pool_stats ps, qs;
	admit_pool_stats(a, p, &ps);
	admit_pool_stats(a, q, &qs);
	ASSERT_INT_EQ(ps.waiting, 1);
	ASSERT_INT_EQ(qs.waiting, 1);
	ASSERT_INT_EQ(ps.started, 1);
	ASSERT_INT_EQ(qs.started, 1);
	ASSERT_INT_EQ(ps.slots, 2);
	ASSERT_INT_EQ(ps.used, 1);
	/* Waits from ready to admitted: 1100 ms in p, 1000 in q. */
	ASSERT_INT_EQ(ps.waited_ms, 1100);
	ASSERT_INT_EQ(qs.waited_ms, 1000);
	admit_pool_stats(a, 99, &ps); /* no such pool: zeros */
	ASSERT_INT_EQ(ps.started + ps.waiting, 0);
	ASSERT_STR_EQ(admit_hold_name(ADMIT_HOLD_MAX_ACTIVE_TASKS), "max_active_tasks");
	admit_free(a);

	/* Parallelism: counted when it stops admit_next with instances waiting. */
	a = mk(1, 8000, 16 * G);
	d = admit_dag(a, "d", 0);
	p = admit_pool(a, "default_pool");
	admit_pool_set(a, p, 8);
	n = need(d, p, 1);
	ASSERT_INT_EQ(next(a, 0), 0); /* nothing waiting: not a hold */
	admit_add(a, 1, &n, 0, 0, 0);
	admit_add(a, 2, &n, 0, 0, 0);
	ASSERT(next(a, 0) != 0);
	ASSERT_INT_EQ(next(a, 0), 0);
	admit_counts(a, &c);
	ASSERT_INT_EQ(c.held[ADMIT_HOLD_PARALLELISM], 1);
	admit_free(a);
}

TEST(admit_counts_max_active_tasks_holds)
{
	struct admit *a = mk(8, 8000, 16 * G);
	uint32_t d = admit_dag(a, "d", 1), p = admit_pool(a, "default_pool");
	admit_pool_set(a, p, 8);
	struct admit_need n = need(d, p, 1);
	admit_add(a, 1, &n, 0, 0, 0);
	admit_add(a, 2, &n, 0, 0, 0);
	ASSERT(next(a, 0) != 0);
	ASSERT_INT_EQ(next(a, 0), 0);
	struct admit_counts c;
	admit_counts(a, &c);
	ASSERT_INT_EQ(c.started, 1);
	ASSERT_INT_EQ(c.held[ADMIT_HOLD_MAX_ACTIVE_TASKS], 1);
	ASSERT_INT_EQ(c.held[ADMIT_HOLD_PARALLELISM], 0);
	admit_free(a);
}
