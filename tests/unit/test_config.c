/*
 * Tests for server/config.c: defaults, every setting, and the exact FILE:LINE:COL problems of
 * bad values and unknown keys (pools, host, durations), and the host's capacity.
 */
#include <errno.h>
#include <unistd.h>

#include "base/util.h"
#include "server/config.h"
#include "test.h"

/* Load `text` as a config file; returns load's result and the problems, one "L:C: msg" line
 * each (malloc'd, "" when none). */
static int load(struct config *c, const char *text, char **ret_problems)
{
	char path[] = "/tmp/gust-config-XXXXXX";
	int fd = mkstemp(path);
	ASSERT(fd >= 0);
	ASSERT_INT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	struct diag_list d;
	diag_list_init(&d, path);
	int r = config_load(c, path, &d);
	unlink(path);
	diag_sort(&d);
	char *out = xstrdup("");
	for (size_t i = 0; i < d.n; i++) {
		char *next = xasprintf("%s%u:%u: %s\n", out, d.items[i].line, d.items[i].col,
				       d.items[i].msg);
		free(out);
		out = next;
	}
	diag_list_free(&d);
	*ret_problems = out;
	return r;
}

/* The problems of a config that must fail to load. */
static void expect_problems(const char *text, const char *want)
{
	struct config c;
	config_defaults(&c);
	char *got = NULL;
	ASSERT_INT_EQ(load(&c, text, &got), -EINVAL);
	ASSERT_STR_EQ(got, want);
	free(got);
	config_free(&c);
}

TEST(config_defaults_and_missing_file)
{
	struct config c;
	config_defaults(&c);
	ASSERT_INT_EQ(c.parallelism, 32);
	ASSERT_INT_EQ(c.retention_ms, 30LL * 24 * 3600 * 1000);
	ASSERT(c.dags_dir == NULL && c.pools == NULL);
	ASSERT_INT_EQ(c.n_pools, 0);
	ASSERT_INT_EQ(c.host_cpu_milli, 0);
	ASSERT_INT_EQ(c.host_memory, 0);
	ASSERT_INT_EQ(c.priority_ageing_ms, 30000);
	ASSERT_INT_EQ(c.reserve_after_ms, 600000);
	ASSERT_INT_EQ(c.durability, STORE_DURABILITY_NORMAL);
	struct diag_list d;
	diag_list_init(&d, "x");
	ASSERT_INT_EQ(config_load(&c, "/nonexistent-gust/config.yaml", &d), 0);
	ASSERT_INT_EQ(d.n, 0);
	diag_list_free(&d);
	char *problems;
	ASSERT_INT_EQ(load(&c, "", &problems), 0);
	ASSERT_STR_EQ(problems, "");
	free(problems);
	ASSERT_INT_EQ(c.parallelism, 32);
	config_free(&c);
	config_free(&c); /* twice is fine */
}

TEST(config_every_setting)
{
	struct config c;
	config_defaults(&c);
	char *problems;
	ASSERT_INT_EQ(load(&c,
			   "parallelism: 4\n"
			   "retention: 7d\n"
			   "dags: /srv/dags\n"
			   "pools:\n"
			   "  indexers: 6\n"
			   "  warehouse: {slots: 3, description: \"the warehouse's connections\"}\n"
			   "  default_pool: 0\n"
			   "  quiet.pool-1:\n"
			   "    slots: 1000000\n"
			   "    description: ~\n"
			   "host: {cpu: 2.5, memory: 16G}\n"
			   "priority_ageing: 1m\n"
			   "reserve_after: 0\n"
			   "durability: full\n",
			   &problems),
		      0);
	ASSERT_STR_EQ(problems, "");
	free(problems);
	ASSERT_INT_EQ(c.parallelism, 4);
	ASSERT_INT_EQ(c.retention_ms, 7LL * 24 * 3600 * 1000);
	ASSERT_STR_EQ(c.dags_dir, "/srv/dags");
	ASSERT_INT_EQ(c.n_pools, 4);
	ASSERT_STR_EQ(c.pools[0].name, "indexers");
	ASSERT_INT_EQ(c.pools[0].slots, 6);
	ASSERT(c.pools[0].description == NULL);
	ASSERT_STR_EQ(c.pools[1].name, "warehouse");
	ASSERT_INT_EQ(c.pools[1].slots, 3);
	ASSERT_STR_EQ(c.pools[1].description, "the warehouse's connections");
	ASSERT_STR_EQ(c.pools[2].name, "default_pool");
	ASSERT_INT_EQ(c.pools[2].slots, 0);
	ASSERT_STR_EQ(c.pools[3].name, "quiet.pool-1");
	ASSERT_INT_EQ(c.pools[3].slots, 1000000);
	ASSERT(c.pools[3].description == NULL);
	ASSERT_INT_EQ(c.host_cpu_milli, 2500);
	ASSERT_INT_EQ(c.host_memory, 16ULL << 30);
	ASSERT_INT_EQ(c.priority_ageing_ms, 60000);
	ASSERT_INT_EQ(c.reserve_after_ms, 0);
	ASSERT_INT_EQ(c.durability, STORE_DURABILITY_FULL);

	/* Loading again replaces the pools; `pools:` with nothing declares none. */
	ASSERT_INT_EQ(load(&c, "pools: {a: 1}\nhost: {cpu: 0.0001}\n", &problems), 0);
	free(problems);
	ASSERT_INT_EQ(c.n_pools, 1);
	ASSERT_STR_EQ(c.pools[0].name, "a");
	ASSERT_INT_EQ(c.host_cpu_milli, 1); /* a sliver of a core is still some */
	ASSERT_INT_EQ(load(&c, "pools:\n", &problems), 0);
	free(problems);
	ASSERT_INT_EQ(c.n_pools, 0);
	ASSERT_INT_EQ(load(&c, "pools: {}\n", &problems), 0);
	free(problems);
	ASSERT_INT_EQ(c.n_pools, 0);
	ASSERT_INT_EQ(load(&c, "durability: \"normal\"\n", &problems), 0);
	free(problems);
	ASSERT_INT_EQ(c.durability, STORE_DURABILITY_NORMAL);
	config_free(&c);
	ASSERT(c.pools == NULL && c.dags_dir == NULL);
}

TEST(config_unknown_settings_have_hints)
{
	expect_problems("parallelizm: 4\n",
			"1:1: unknown setting 'parallelizm' (did you mean 'parallelism'?)\n");
	expect_problems("pool: {a: 1}\n", "1:1: unknown setting 'pool' (did you mean 'pools'?)\n");
	expect_problems("priority_aging: 1m\n",
			"1:1: unknown setting 'priority_aging' (did you mean "
			"'priority_ageing'?)\n");
	expect_problems("colour: red\n",
			"1:1: unknown setting 'colour' (use parallelism, retention, dags, pools, "
			"host, priority_ageing, reserve_after, durability, parse_timeout, "
			"parse_memory, listen, tls, health_stall or metrics)\n");
	expect_problems("durabilty: full\n",
			"1:1: unknown setting 'durabilty' (did you mean 'durability'?)\n");
}

TEST(config_bad_durability)
{
	expect_problems("durability: ful\n", "1:13: bad durability 'ful' (did you mean 'full'?)\n");
	expect_problems("durability: FULL\n", /* values are lower case, as everywhere */
			"1:13: bad durability 'FULL': use normal (a commit survives a crash of "
			"the server) or full (and a power loss: every commit is synced to the "
			"disk)\n");
	expect_problems("durability: fsync\n",
			"1:13: bad durability 'fsync': use normal (a commit survives a crash of "
			"the server) or full (and a power loss: every commit is synced to the "
			"disk)\n");
	expect_problems("durability: recorded\n",
			"1:13: bad durability 'recorded': use normal (a commit survives a crash "
			"of the server) or full (and a power loss: every commit is synced to the "
			"disk)\n");
	expect_problems("durability: [full]\n",
			"1:13: 'durability' must be normal or full, got a list\n");
	expect_problems("durability: {level: full}\n",
			"1:13: 'durability' must be normal or full, got a mapping\n");
	/* A bad value leaves the setting as it was. */
	struct config c;
	config_defaults(&c);
	char *got = NULL;
	ASSERT_INT_EQ(load(&c, "durability:\n", &got), -EINVAL);
	ASSERT_STR_CONTAINS(got, ": 'durability' must be normal or full, got nothing (null)\n");
	free(got);
	ASSERT_INT_EQ(c.durability, STORE_DURABILITY_NORMAL);
	c.durability = STORE_DURABILITY_FULL;
	ASSERT_INT_EQ(load(&c, "durability: off\n", &got), -EINVAL);
	ASSERT_INT_EQ(c.durability, STORE_DURABILITY_FULL);
	free(got);
	config_free(&c);
}

TEST(config_bad_pools)
{
	expect_problems("pools: [a, b]\n",
			"1:8: 'pools' must be a mapping of pool names to slots, like {indexers: 6, "
			"warehouse: {slots: 3, description: \"...\"}}, got a list\n");
	expect_problems("pools:\n"
			"  ok: 1\n"
			"  bad name: 2\n"
			"  neg: -1\n"
			"  big: 1000001\n"
			"  text: many\n"
			"  quoted: \"4\"\n"
			"  list: [1]\n",
			"3:3: bad pool name 'bad name': use 1 to 100 letters, digits, '_', '-' and "
			"'.'\n"
			"4:8: the slots of pool 'neg' must be a whole number from 0 to 1000000, "
			"got -1\n"
			"5:8: the slots of pool 'big' must be a whole number from 0 to 1000000, "
			"got 1000001\n"
			"6:9: the slots of pool 'text' must be a whole number from 0 to 1000000, "
			"got many\n"
			"7:11: the slots of pool 'quoted' must be a whole number from 0 to "
			"1000000, got \"4\"\n"
			"8:9: the slots of pool 'list' must be a whole number from 0 to 1000000, "
			"got a list\n");
	expect_problems("pools:\n"
			"  a: {slot: 3}\n"
			"  b: {slots: 3, descripton: x}\n"
			"  c: {slots: 3, colour: red}\n"
			"  d: {slots: 3, description: [x]}\n"
			"  e: {description: x}\n",
			"2:7: unknown key 'slot' in pool 'a' (did you mean 'slots'?)\n"
			"3:17: unknown key 'descripton' in pool 'b' (did you mean 'description'?)\n"
			"4:17: unknown key 'colour' in pool 'c' (use slots or description)\n"
			"5:30: the description of pool 'd' must be text, got a list\n"
			"6:6: pool 'e' needs 'slots' (e.g. {slots: 4})\n");
	char *text = xasprintf("pools: {%0101d: 1}\n", 0);
	struct config c;
	config_defaults(&c);
	char *got;
	ASSERT_INT_EQ(load(&c, text, &got), -EINVAL);
	ASSERT_STR_CONTAINS(got, "1:9: bad pool name '000");
	free(got);
	free(text);
	/* Good pools beside bad ones are kept, but the load fails. */
	ASSERT_INT_EQ(c.n_pools, 0);
	config_free(&c);
	/* A duplicate is the YAML layer's error. */
	expect_problems("pools:\n  a: 1\n  a: 2\n", "3:3: duplicate key 'a' (first at line 2)\n");
}

TEST(config_api_settings)
{
	struct config c;
	config_defaults(&c);
	ASSERT(c.listen == NULL && c.tls_cert == NULL);
	ASSERT_INT_EQ(c.health_stall_ms, 30000);
	char *problems;
	ASSERT_INT_EQ(load(&c,
			   "listen: '[::1]:9090'\n"
			   "tls: {cert: /etc/gust/cert.pem, key: /etc/gust/key.pem}\n"
			   "health_stall: 1m\n",
			   &problems),
		      0);
	ASSERT_STR_EQ(problems, "");
	free(problems);
	ASSERT_STR_EQ(c.listen, "[::1]:9090");
	ASSERT_STR_EQ(c.tls_cert, "/etc/gust/cert.pem");
	ASSERT_STR_EQ(c.tls_key, "/etc/gust/key.pem");
	ASSERT_INT_EQ(c.health_stall_ms, 60000);
	config_free(&c);
	ASSERT(c.listen == NULL && c.tls_key == NULL);

	expect_problems("listen: 8080\n", "1:9: bad address '8080' for 'listen': missing ':PORT' "
					  "(use ADDR:PORT, e.g. 127.0.0.1:8080)\n");
	expect_problems("listen: [a]\n",
			"1:9: 'listen' must be an address and port like 127.0.0.1:8080, got a "
			"list\n");
	expect_problems("tls: {cert: a.pem}\n", "1:6: 'tls' needs both 'cert' and 'key'\n");
	expect_problems("tls: {cert: a.pem, key: b.pem, ca: c.pem}\n",
			"1:32: unknown key 'ca' in tls (use cert or key)\n");
	expect_problems("tls: on\n", "1:6: 'tls' must be a mapping like {cert: "
				     "/etc/gust/cert.pem, key: /etc/gust/key.pem}, got a string\n");
	expect_problems("health_stall: 10ms\n", "1:15: 'health_stall' must be at least 1s\n");
}

TEST(config_metrics)
{
	struct config c;
	config_defaults(&c);
	ASSERT(!c.metrics_public); /* secure by default: a viewer's token */
	char *problems;
	ASSERT_INT_EQ(load(&c, "metrics: {public: true}\n", &problems), 0);
	ASSERT_STR_EQ(problems, "");
	free(problems);
	ASSERT(c.metrics_public);
	ASSERT_INT_EQ(load(&c, "metrics: {public: false}\n", &problems), 0);
	free(problems);
	ASSERT(!c.metrics_public);
	config_free(&c);

	expect_problems("metrics: on\n",
			"1:10: 'metrics' must be a mapping like {public: true}, got a string\n");
	expect_problems("metrics: {public: maybe}\n",
			"1:19: 'public' in metrics must be true or false, got a string\n");
	expect_problems("metrics: {public: [true]}\n",
			"1:19: 'public' in metrics must be true or false, got a list\n");
	expect_problems("metrics: {publc: true}\n",
			"1:11: unknown key 'publc' in metrics (did you mean 'public'?)\n");
}

TEST(config_bad_host_and_durations)
{
	expect_problems("host: 8\n", "1:7: 'host' must be a mapping like {cpu: 8, memory: 16G}, "
				     "got a number\n");
	expect_problems("host:\n"
			"  cpu: 0\n"
			"  memory: 16Q\n"
			"  cpus: 2\n",
			"2:8: 'cpu' in host must be a positive number of cores (e.g. 8 or 2.5), "
			"got 0\n"
			"3:11: bad size '16Q' for 'memory' in host: unknown size unit (use K, M, G "
			"or T, e.g. 512M or 50G; units are powers of 1024)\n"
			"4:3: unknown key 'cpus' in host (did you mean 'cpu'?)\n");
	expect_problems("host: {cpu: many, memory: 0, disk: 1G}\n",
			"1:13: 'cpu' in host must be a positive number of cores (e.g. 8 or 2.5), "
			"got many\n"
			"1:27: 'memory' in host must be more than 0 (leave it out to use this "
			"machine's)\n"
			"1:30: unknown key 'disk' in host (use cpu or memory)\n");
	expect_problems("host: {memory: [1]}\n",
			"1:16: 'memory' in host must be a size like 16G, got a list\n");
	expect_problems("priority_ageing: 0\n"
			"reserve_after: soon\n"
			"retention: 3x\n"
			"priority_ageing: [1m]\n",
			"1:18: 'priority_ageing' must be longer than 0 (e.g. 30s)\n"
			"2:16: bad duration 'soon' for 'reserve_after': missing number before unit "
			"(write e.g. 5m)\n"
			"3:12: bad duration '3x' for 'retention': unknown unit 'x' (use ms, s, m, "
			"h, d or w)\n"
			"4:1: duplicate key 'priority_ageing' (first at line 1)\n");
	expect_problems("reserve_after:\n",
			"1:15: 'reserve_after' must be a duration like 10m, got nothing (null)\n");
}

TEST(config_host_capacity_configured_or_detected)
{
	struct config c;
	config_defaults(&c);
	int64_t cpu = 0;
	uint64_t mem = 0;
	config_host_capacity(&c, &cpu, &mem);
	ASSERT_INT_EQ(cpu, sysconf(_SC_NPROCESSORS_ONLN) * 1000);
	ASSERT_INT_EQ(mem, (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGE_SIZE));
	ASSERT(mem > 0);
	c.host_cpu_milli = 2500;
	c.host_memory = 1ULL << 30;
	config_host_capacity(&c, &cpu, &mem);
	ASSERT_INT_EQ(cpu, 2500);
	ASSERT_INT_EQ(mem, 1ULL << 30);
	config_host_capacity(&c, NULL, NULL);
	config_free(&c);
}

/* A NUL byte (libfyaml 0.7, our parser before libyaml, looped forever on one inside a directive:
 * found by fuzz_config) and bytes that are not UTF-8 are refused before parsing, with their
 * position. */
TEST(config_refuses_nul_and_bad_utf8)
{
	static const char nul[] = "parallelism: 4\n%YAML: 10\0\0b: {x";
	struct config c;
	config_defaults(&c);
	struct diag_list d;
	diag_list_init(&d, "config.yaml");
	ASSERT_INT_EQ(config_load_buffer(&c, nul, sizeof(nul) - 1, &d), -EINVAL);
	ASSERT_INT_EQ(d.n, 1);
	ASSERT_INT_EQ(d.items[0].line, 2);
	ASSERT_INT_EQ(d.items[0].col, 10);
	ASSERT_STR_CONTAINS(d.items[0].msg, "NUL byte");
	diag_list_free(&d);
	config_free(&c);
	expect_problems("parallelism: \xff\n",
			"1:14: the file is not valid UTF-8 (byte 0xff): save it as UTF-8\n");
}
