/* nosync.c — a diagnostic shim, never for production: makes fsync() and fdatasync() no-ops, so a
 * benchmark run shows what durability costs (docs/performance.md, "Where the time goes").
 *   cc -shared -fPIC -O2 -o /tmp/nosync.so bench/sched/nosync.c
 *   bash bench/sched/run.sh --daemon-env LD_PRELOAD=/tmp/nosync.so
 * (the table's "daemon:" line then names the shim). A crash or power cut during such a run can
 * lose committed data; that is the point of the measurement, not a configuration. */
#include <unistd.h>

int fsync(int fd)
{
  (void)fd;
  return 0;
}

int fdatasync(int fd)
{
  (void)fd;
  return 0;
}
