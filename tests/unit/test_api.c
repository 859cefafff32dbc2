/* Unit tests of the API's pure parts (src/api). */
#include "api/api.h"
#include "test.h"

TEST(api_health_json_by_loop_age)
{
	int status = 0;
	/* Starting: no turn yet. */
	json_t *j = api_health_json(5000, 0, 1000, 30000, &status);
	ASSERT_INT_EQ(status, 503);
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "status")), "starting");
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "loop_turn_age_ms")), 4000);
	json_decref(j);
	/* Turned 200 ms ago. */
	j = api_health_json(5000, 4800, 1000, 30000, &status);
	ASSERT_INT_EQ(status, 200);
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "status")), "ok");
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "uptime_ms")), 4000);
	json_decref(j);
	/* Exactly health_stall without a turn: stalled. */
	j = api_health_json(40000, 10000, 1000, 30000, &status);
	ASSERT_INT_EQ(status, 503);
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "status")), "stalled");
	json_decref(j);
	j = api_health_json(39999, 10000, 1000, 30000, &status);
	ASSERT_INT_EQ(status, 200);
	json_decref(j);
}
