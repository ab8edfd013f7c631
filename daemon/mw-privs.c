/* mw-privs.c — see mw-privs.h. */
#include "mw-privs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* chown -R without following symbolic links. */
static gboolean chown_tree(const char *path, uid_t uid, gid_t gid, GError **error)
{
  GStatBuf st;
  if (g_lstat(path, &st) != 0)
    return TRUE; /* not there (yet): nothing to hand over */
  if (S_ISLNK(st.st_mode))
    return TRUE;
  if (lchown(path, uid, gid) != 0) {
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot give %s to uid %u: %s",
                path, (unsigned)uid, g_strerror(errno));
    return FALSE;
  }
  if (!S_ISDIR(st.st_mode))
    return TRUE;
  g_autoptr(GDir) dir = g_dir_open(path, 0, error);
  if (!dir)
    return FALSE;
  for (const char *name; (name = g_dir_read_name(dir));) {
    g_autofree char *child = g_build_filename(path, name, NULL);
    if (!chown_tree(child, uid, gid, error))
      return FALSE;
  }
  return TRUE;
}

gboolean mw_privs_drop(const char *user, const char *const *writable, guint *dropped_to,
                       GError **error)
{
  if (dropped_to)
    *dropped_to = (guint)geteuid();
  if (geteuid() != 0)
    return TRUE;
  if (!user || !*user)
    user = MW_PRIVS_DEFAULT_USER;
  if (strcmp(user, "root") == 0) {
    g_warning("[server] user = root: the server keeps running as root");
    return TRUE;
  }
  errno = 0;
  struct passwd *pw = getpwnam(user);
  if (!pw) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                "started as root, but the account \"%s\" to run as does not exist (create it: "
                "scripts/setup-debian.sh does; or set [server] user)",
                user);
    return FALSE;
  }
  if (pw->pw_uid == 0) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM, "[server] user \"%s\" is root", user);
    return FALSE;
  }
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  for (const char *const *p = writable; p && *p; p++)
    if (!chown_tree(*p, uid, gid, error))
      return FALSE;
  /* Order matters: groups and gid while still root, the uid last. */
  if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot become \"%s\": %s",
                user, g_strerror(errno));
    return FALSE;
  }
  if (setuid(0) == 0 || seteuid(0) == 0) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM, "root could be regained after the switch");
    return FALSE;
  }
  if (dropped_to)
    *dropped_to = (guint)uid;
  return TRUE;
}
