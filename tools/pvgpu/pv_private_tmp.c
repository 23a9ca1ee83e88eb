/* A private /tmp for `pvgpu run`. Mesa's vtest backend always connects to /tmp/.virgl_test, so
 * the only way to give one guest its own host beside another server is its own /tmp. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pv_cli.h"

#define X11_SOCKET_DIR "/tmp/.X11-unix"

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int saved = errno;
    close(fd);
    if (n != (ssize_t)len) {
        errno = n < 0 ? saved : EIO;
        return -1;
    }
    return 0;
}

/* Without root, a user namespace grants the capabilities mount needs. The caller's ids map to
 * themselves rather than to root: CMD keeps running as the user it was started as (some programs
 * refuse to run as root), and execve drops the namespace capabilities for it. */
static int enter_user_namespace(void)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        fprintf(stderr, "pvgpu run: cannot create a user namespace for the private /tmp: %s\n"
                        "  (unprivileged user namespaces may be disabled; run as root instead)\n",
                strerror(errno));
        return -1;
    }
    char map[64];
    if (write_file("/proc/self/setgroups", "deny") != 0 && errno != ENOENT)
        goto fail;
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) != 0)
        goto fail;
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "pvgpu run: cannot map ids in the user namespace: %s\n", strerror(errno));
    return -1;
}

int pv_private_tmp(void)
{
    /* Root may still lack CAP_SYS_ADMIN (a container); a user namespace gives it then. */
    bool entered = geteuid() == 0 && unshare(CLONE_NEWNS) == 0;
    if (!entered && enter_user_namespace() != 0)
        return -1;

    /* Without this, the tmpfs below could propagate back into the caller's namespace. */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
        fprintf(stderr, "pvgpu run: cannot make mounts private: %s\n", strerror(errno));
        return -1;
    }

    /* The X11 sockets must stay reachable for windowed guests. Hold the folder open while the
     * tmpfs hides it; it is opened in the new namespace, because bind mounts only take sources
     * from the caller's own namespace. */
    int x11 = open(X11_SOCKET_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);

    if (mount("pvgpu-tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
        fprintf(stderr, "pvgpu run: cannot mount a tmpfs on /tmp: %s\n", strerror(errno));
        if (x11 >= 0)
            close(x11);
        return -1;
    }

    if (x11 >= 0) {
        char source[64];
        snprintf(source, sizeof(source), "/proc/self/fd/%d", x11);
        if (mkdir(X11_SOCKET_DIR, 01777) != 0 ||
            mount(source, X11_SOCKET_DIR, NULL, MS_BIND | MS_REC, NULL) != 0)
            /* Not fatal: only windowed guests need it. */
            fprintf(stderr, "pvgpu run: warning: cannot keep %s in the private /tmp: %s\n",
                    X11_SOCKET_DIR, strerror(errno));
        close(x11);
    }
    return 0;
}
