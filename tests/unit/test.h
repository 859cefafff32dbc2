/*
 * test.h - a minimal unit-test framework in the libuv manner.
 *
 * TEST(name) { ... } defines and registers a test. The runner (tests/unit/main.c) runs each test
 * in its own forked child with a deadline, so a crash or a hang fails that test only. Assertions
 * print both values and the location, then end the child with a failure.
 *
 *   build/unit-tests            run all
 *   build/unit-tests FILTER     run tests whose name contains FILTER
 *   build/unit-tests -l         list names
 */
#ifndef GUST_TEST_H
#define GUST_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn, const char *file);
_Noreturn void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	__attribute__((constructor)) static void test_register_##name(void)                       \
	{                                                                                          \
		test_register(#name, test_##name, __FILE__);                                       \
	}                                                                                          \
	static void test_##name(void)

#define ASSERT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			test_fail(__FILE__, __LINE__, "assertion failed: %s", #cond);              \
	} while (0)

#define ASSERT_INT_EQ(a, b)                                                                        \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);   \
	} while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                             \
			test_fail(__FILE__, __LINE__, "%s == %s:\n  got:  \"%s\"\n  want: \"%s\"", #a, \
				  #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                     \
	} while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                                           \
	do {                                                                                       \
		const char *h_ = (hay), *n_ = (needle);                                            \
		if (!h_ || !strstr(h_, n_))                                                        \
			test_fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #hay, n_,      \
				  h_ ? h_ : "(null)");                                             \
	} while (0)

#endif
