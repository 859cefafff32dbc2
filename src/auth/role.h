/*
 * role.h - the four roles of issue 10, each allowed everything the ones below it are:
 *
 *   viewer    read everything but secrets
 *   operator  trigger, cancel, clear, mark, pause
 *   editor    deploy and delete DAGs; pools, variables
 *   admin     users, other people's tokens, connections, secrets
 *
 * A route declares the least role it needs and asks auth_role_allows(caller, needed). The
 * zero value AUTH_ROLE_NONE (no credentials, or a user whose stored role this version does not
 * know) is allowed nothing, so a zeroed struct or a failed parse can never grant access.
 */
#ifndef GUST_AUTH_ROLE_H
#define GUST_AUTH_ROLE_H

#include <stdbool.h>

enum auth_role {
	AUTH_ROLE_NONE = 0,
	AUTH_ROLE_VIEWER,
	AUTH_ROLE_OPERATOR,
	AUTH_ROLE_EDITOR,
	AUTH_ROLE_ADMIN,
};

/* "viewer" ... "admin"; "none" for AUTH_ROLE_NONE and for a value out of range. */
const char *auth_role_name(enum auth_role r);
/* The role named exactly `s` (lower case, as stored and printed). 0, or -EINVAL with *ret
 * untouched; "none" is not a role anyone can be given. */
int auth_role_parse(const char *s, enum auth_role *ret);
/* Whether a caller with role `have` may do what needs `need`. Never true when either is
 * AUTH_ROLE_NONE or out of range. */
bool auth_role_allows(enum auth_role have, enum auth_role need);

/* The names, lowest first, for listings and "did you mean" hints (closest_word). */
extern const char *const auth_role_names[4];

#endif
