/* The mount namespaces of `pvgpu run`. A 2022-generation guest always connects to
 * /tmp/.virgl_test, so the only way to give it its own host beside another server is its own
 * /tmp; a guest userland (a Debian root) runs chrooted with the host's socket as its /tmp. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

int pv_enter_mount_namespace(void)
{
    /* Root may still lack CAP_SYS_ADMIN (a container); a user namespace gives it then. */
    bool entered = geteuid() == 0 && unshare(CLONE_NEWNS) == 0;
    if (!entered && enter_user_namespace() != 0)
        return -1;
    /* Without this, mounts made here could propagate back into the caller's namespace. */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
        fprintf(stderr, "pvgpu run: cannot make mounts private: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* The first component of a path under /tmp ("/tmp/a/b" gives "a"), in name (NAME_MAX + 1);
 * false for paths elsewhere. */
static bool tmp_component(const char *path, char *name)
{
    if (!path || strncmp(path, "/tmp/", 5) != 0)
        return false;
    const char *start = path + 5;
    size_t n = strcspn(start, "/");
    if (n == 0 || n > NAME_MAX)
        return false;
    memcpy(name, start, n);
    name[n] = '\0';
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static int make_file(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    return fd < 0 ? -1 : close(fd);
}

struct carried {
    char name[NAME_MAX + 1];
    int fd;       /* O_PATH to the original, opened before the tmpfs hides it */
    bool directory;
};

int pv_private_tmp(const char *const *keep, size_t keep_count)
{
    if (pv_enter_mount_namespace() != 0)
        return -1;

    /* What must stay reachable under the new /tmp: the X11 sockets for windowed guests, and
     * whatever the run needs that lives under /tmp (a checkout there, its guest driver, the
     * command, its folder). Held open while the tmpfs hides them; opened in the new namespace,
     * because bind mounts only take sources from the caller's own namespace. */
    struct carried *carried = calloc(keep_count + 1, sizeof(*carried));
    if (!carried) {
        fprintf(stderr, "pvgpu run: out of memory\n");
        return -1;
    }
    size_t count = 0;
    for (size_t i = 0; i <= keep_count; i++) {
        char name[NAME_MAX + 1];
        const char *path = i < keep_count ? keep[i] : X11_SOCKET_DIR;
        if (!tmp_component(path, name) || !strcmp(name, ".virgl_test"))
            continue;
        bool seen = false;
        for (size_t j = 0; j < count && !seen; j++)
            seen = !strcmp(carried[j].name, name);
        char original[PATH_MAX];
        snprintf(original, sizeof(original), "/tmp/%s", name);
        struct stat st;
        int fd = seen ? -1 : open(original, O_PATH | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (fstat(fd, &st) != 0) {
            close(fd);
            continue;
        }
        snprintf(carried[count].name, sizeof(carried[count].name), "%s", name);
        carried[count].fd = fd;
        carried[count].directory = S_ISDIR(st.st_mode);
        count++;
    }

    int rc = 0;
    if (mount("pvgpu-tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
        fprintf(stderr, "pvgpu run: cannot mount a tmpfs on /tmp: %s\n", strerror(errno));
        rc = -1;
    }
    for (size_t i = 0; i < count; i++) {
        char source[64], target[PATH_MAX];
        snprintf(source, sizeof(source), "/proc/self/fd/%d", carried[i].fd);
        snprintf(target, sizeof(target), "/tmp/%s", carried[i].name);
        int made = carried[i].directory ? mkdir(target, 01777) : make_file(target);
        if (rc == 0 && (made != 0 || mount(source, target, NULL, MS_BIND | MS_REC, NULL) != 0))
            /* Not fatal: the run may not need it after all; a missing path fails loudly. */
            fprintf(stderr, "pvgpu run: warning: cannot keep %s in the private /tmp: %s\n",
                    target, strerror(errno));
        close(carried[i].fd);
    }
    free(carried);
    return rc;
}
