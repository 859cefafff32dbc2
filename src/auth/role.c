/*
 * role.c - role names and their order (role.h). The order is the enum's: a role's value is
 * its rank.
 */
#include "auth/role.h"

#include <errno.h>
#include <string.h>

const char *const auth_role_names[4] = {"viewer", "operator", "editor", "admin"};

static bool role_valid(enum auth_role r)
{
	return r >= AUTH_ROLE_VIEWER && r <= AUTH_ROLE_ADMIN;
}

const char *auth_role_name(enum auth_role r)
{
	return role_valid(r) ? auth_role_names[r - AUTH_ROLE_VIEWER] : "none";
}

int auth_role_parse(const char *s, enum auth_role *ret)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, auth_role_names[i]) == 0) {
			*ret = (enum auth_role)(AUTH_ROLE_VIEWER + i);
			return 0;
		}
	}
	return -EINVAL;
}

bool auth_role_allows(enum auth_role have, enum auth_role need)
{
	return role_valid(have) && role_valid(need) && have >= need;
}
