/*
 * fuzz_config.c - libFuzzer target for server/config (config.yaml).
 *
 * Any input: config_load_buffer either accepts it, and then every setting is inside its
 * documented range, or refuses it with at least one diagnostic, each with a line and column
 * inside the text. Nothing leaks (LeakSanitizer), nothing crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	struct config c;
	config_defaults(&c);
	struct diag_list diags;
	diag_list_init(&diags, "config.yaml");
	int rc = config_load_buffer(&c, (const char *)data, size, &diags);
	uint32_t lines = 1; /* an upper bound: \n, \r and NEL may each break a line */
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n' || data[i] == '\r' || data[i] == 0x85;
	if (rc == 0) {
		if (diags.n || c.parallelism < 1 || c.parallelism > 100000 || c.retention_ms < 0 ||
		    c.priority_ageing_ms <= 0 || c.reserve_after_ms < 0 || c.host_cpu_milli < 0 ||
		    c.health_stall_ms < 1000 || !c.tls_cert != !c.tls_key)
			abort();
		for (size_t i = 0; i < c.n_pools; i++)
			if (!c.pools[i].name || c.pools[i].slots < 0 || c.pools[i].slots > 1000000)
				abort();
	} else {
		if (!diags.n)
			abort();
		for (size_t i = 0; i < diags.n; i++)
			if (diags.items[i].line > lines + 1 || !diags.items[i].msg)
				abort();
	}
	diag_list_free(&diags);
	config_free(&c);
	return 0;
}
