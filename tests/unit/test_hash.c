/* test_hash.c - FNV-1a 64: the published test vectors, and the hex form the store keeps. */
#include "test.h"

#include "base/hash.h"

TEST(hash_fnv1a64_vectors)
{
	ASSERT(hash_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	ASSERT(hash_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
	ASSERT(hash_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
}

TEST(hash_fnv1a64_hex_is_16_digits)
{
	char buf[17];
	ASSERT_STR_EQ(hash_fnv1a64_hex("", 0, buf), "cbf29ce484222325");
	ASSERT_STR_EQ(hash_fnv1a64_hex("a", 1, buf), "af63dc4c8601ec8c");
	/* Bytes above 0x7f hash as unsigned. */
	ASSERT(hash_fnv1a64("\xff", 1) == ((0xcbf29ce484222325ULL ^ 0xffULL) * 0x100000001b3ULL));
}
