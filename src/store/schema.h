/*
 * schema.h - the SQLite backend's migrations (schema.c), used by store_sqlite.c only.
 *
 * Migration i (0-based) takes the database from schema version i to i + 1; the version lives in
 * PRAGMA user_version (0 in a new file). Migrations are forward-only: never edit one that has
 * shipped, append a new one.
 */
#ifndef GUST_STORE_SCHEMA_H
#define GUST_STORE_SCHEMA_H

#include <stddef.h>

extern const char *const store_sqlite_migrations[];
extern const size_t store_sqlite_n_migrations;

#endif
