/* Guest userlands for `pvgpu run --guest`: a Debian root whose Venus driver and programs run
 * chrooted, seeing the host's vtest socket folder as their /tmp, the caller's working folder
 * and the folders named with --bind at their own paths, and the host's /proc, /dev and /sys.
 * Everything else is the root's own: its C library, Vulkan loader and driver. */
#define _GNU_SOURCE
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pv_cli.h"

/* The ICD JSONs a Debian root's mesa-vulkan-drivers installs for Venus. */
#define ROOT_ICD_PATTERN "/usr/share/vulkan/icd.d/virtio_icd*.json"

char *pv_guest_root_icd(const char *root)
{
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof(pattern), "%s%s", root, ROOT_ICD_PATTERN);
    glob_t found;
    if (glob(pattern, 0, NULL, &found) != 0)
        return NULL;
    char *icd = found.gl_pathc ? strdup(found.gl_pathv[0] + strlen(root)) : NULL;
    globfree(&found);
    return icd;
}

/* mkdir -p of path inside the root (a mount point for a bind mount). */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Binds source (a host path) at the same path inside the root, or at target when given. */
static int bind_into(const char *root, const char *source, const char *target, bool recursive)
{
    char inside[PATH_MAX];
    if (snprintf(inside, sizeof(inside), "%s%s", root, target ? target : source) >=
        (int)sizeof(inside)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (make_dirs(inside) != 0)
        return -1;
    return mount(source, inside, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL);
}

int pv_guest_root_enter(const char *root, const char *socket_dir, char *const *binds,
                        size_t bind_count)
{
    if (pv_enter_mount_namespace() != 0)
        return -1;
    static const char *const system_dirs[] = { "/proc", "/dev", "/sys" };
    for (size_t i = 0; i < sizeof(system_dirs) / sizeof(*system_dirs); i++) {
        if (bind_into(root, system_dirs[i], NULL, true) != 0) {
            fprintf(stderr, "pvgpu run: cannot bind %s into %s: %s\n", system_dirs[i], root,
                    strerror(errno));
            return -1;
        }
    }
    if (bind_into(root, socket_dir, "/tmp", false) != 0) {
        fprintf(stderr, "pvgpu run: cannot bind the socket folder into %s: %s\n", root,
                strerror(errno));
        return -1;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd))) {
        fprintf(stderr, "pvgpu run: getcwd: %s\n", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i <= bind_count; i++) {
        const char *dir = i < bind_count ? binds[i] : cwd;
        /* All of the host would hide the root from itself. */
        if (!strcmp(dir, "/"))
            continue;
        if (bind_into(root, dir, NULL, true) != 0) {
            fprintf(stderr, "pvgpu run: cannot bind %s into %s: %s\n", dir, root,
                    strerror(errno));
            return -1;
        }
    }
    if (chroot(root) != 0 || chdir(cwd) != 0) {
        fprintf(stderr, "pvgpu run: cannot enter %s at %s: %s\n", root, cwd, strerror(errno));
        return -1;
    }
    /* The caller's loader settings name host paths; inside the root they mean nothing. */
    unsetenv("LD_LIBRARY_PATH");
    unsetenv("LD_PRELOAD");
    return 0;
}
