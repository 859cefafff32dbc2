/*
 * fuzz_ops_request.c - libFuzzer target for write requests (src/ops/request.c): the JSON of a
 * stored command row or an API body, and a stored command's result.
 *
 * Any input: ops_req_parse either refuses it with OPS_BAD_REQUEST and a message, or accepts a
 * request whose every required field is set; its JSON (ops_req_json) parses back to the same
 * JSON. ops_result_parse accepts only an outcome or an error with a kind. Nothing leaks
 * (LeakSanitizer), nothing crashes.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const json_t *o)
{
	struct ops_req rq;
	struct ops_err err = {0};
	if (ops_req_parse(NULL, o, &rq, &err) < 0) {
		if (err.kind != OPS_BAD_REQUEST || !err.msg || !*err.msg)
			abort();
		ops_err_free(&err);
		return;
	}
	bool ok = rq.map_index >= -1 && rq.slots >= 0;
	switch (rq.op) {
	case OPS_CANCEL:
		ok &= rq.run_id != NULL;
		break;
	case OPS_CLEAR:
	case OPS_MARK:
		ok &= rq.run_id && rq.task_id;
		break;
	case OPS_PAUSE:
		ok &= rq.dag_id != NULL;
		break;
	case OPS_POOL_SET:
	case OPS_POOL_DELETE:
		ok &= rq.pool != NULL;
		break;
	}
	if (!ok)
		abort();
	json_t *j = ops_req_json(&rq);
	struct ops_req back;
	if (ops_req_parse(NULL, j, &back, &err) < 0)
		abort();
	json_t *j2 = ops_req_json(&back);
	if (!json_equal(j, j2))
		abort();
	json_decref(j);
	json_decref(j2);
	ops_req_free(&back);
	ops_req_free(&rq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	json_error_t jerr;
	json_t *o = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	if (o)
		check_request(o);
	json_decref(o);

	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct ops_answer ans;
	struct ops_err err = {0};
	if (ops_result_parse(text, &ans, &err) == 0) {
		if (!json_is_object(ans.body))
			abort();
		ops_answer_free(&ans);
	} else {
		if (err.kind == OPS_OK || !err.msg)
			abort();
		ops_err_free(&err);
	}
	free(text);
	return 0;
}
