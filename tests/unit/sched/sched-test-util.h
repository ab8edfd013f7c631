/* sched-test-util.h — raw SQLite helpers shared by the scheduler's unit tests. */
#pragma once

#include <glib.h>
#include <sqlite3.h>

/* A raw read-write connection to the store's file (asserts on failure). */
sqlite3 *raw_open(const char *path);
/* The first column of the first row of `sql`. */
gint64 raw_int(const char *path, const char *sql);
/* Runs `sql` (asserts it succeeds). */
void raw_exec(const char *path, const char *sql);
/* Every row of every table, as text: two equal dumps mean nothing was written in between.
 * (transfer full) */
char *raw_dump(const char *path);
/* Removes a test's temporary folder and every file in it (asserts each removal). */
void remove_temp_dir(const char *dir);
