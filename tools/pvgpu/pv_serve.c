/* `pvgpu serve`: the vtest host on a socket path, until SIGINT or SIGTERM. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pv_cli.h"
#include "pv_log.h"
#include "pv_vtest_protocol.h"
#include "pv_vtest_server.h"

int pv_cli_serve(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "socket", required_argument, NULL, 's' },
        { "socket-mode", required_argument, NULL, 'S' },
        { "test-hooks", no_argument, NULL, 'T' },
        { "protocol", required_argument, NULL, 'P' },
        { "validate", no_argument, NULL, 'V' },
        { "max-objects", required_argument, NULL, 'O' },
        { "max-memory", required_argument, NULL, 'M' },
        { "max-blobs", required_argument, NULL, 'B' },
        { "max-rings", required_argument, NULL, 'R' },
        { "max-message-bytes", required_argument, NULL, 'm' },
        { "record", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = PV_VTEST_DEFAULT_SOCKET_PATH;
    const char *record = NULL;
    struct pv_vtest_options opts = { 0 };
    mode_t socket_mode = PV_VTEST_DEFAULT_SOCKET_MODE;

    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "+:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 's':
            path = optarg;
            break;
        case 'S': {
            char *end;
            unsigned long mode = strtoul(optarg, &end, 8);
            if (!*optarg || *end || mode > 0777 || !(mode & 0600))
                return pv_cli_usage_error("serve: --socket-mode needs octal permissions that "
                                          "include the owner's read and write, not '%s'", optarg);
            socket_mode = (mode_t)mode;
            break;
        }
        case 'T':
            opts.test_hooks = true;
            break;
        case 'P':
            if (!pv_cli_parse_protocol(optarg, &opts.renderer))
                return PV_CLI_EXIT_USAGE;
            break;
        case 'V':
            opts.renderer.validate = true;
            break;
        case 'O':
        case 'M':
        case 'B':
        case 'R':
            if (!pv_cli_parse_limit(opt, optarg, &opts.renderer))
                return 64;
            break;
        case 'm':
            if (!pv_cli_parse_bytes(optarg, &opts.max_message_bytes))
                return pv_cli_usage_error("--max-message-bytes needs a positive byte count, not '%s'",
                                          optarg);
            break;
        case 'r':
            record = optarg;
            break;
        case 'h':
            pv_cli_print_usage(stdout);
            return 0;
        case ':':
            return pv_cli_usage_error("serve: %s needs a value", argv[optind - 1]);
        default:
            return pv_cli_usage_error("serve: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return pv_cli_usage_error("serve: unexpected argument '%s'", argv[optind]);
    if (!path || !*path)
        return pv_cli_usage_error("serve: --socket needs a path");
    if (opts.renderer.validate && !pv_cli_check_validation())
        return 1;

    char *record_dir = NULL;
    if (record) {
        record_dir = pv_cli_record_dir(record);
        if (!record_dir)
            return 1;
        opts.record_dir = record_dir;
    }

    int fd = pv_vtest_listen(path, socket_mode);
    if (fd < 0) {
        free(record_dir);
        return 1;
    }
    /* Remember which socket is ours, so that the clean-up cannot remove a successor's. */
    struct stat ours;
    bool have_ours = stat(path, &ours) == 0;

    pv_log("serving vtest on %s (mode %04o) to %s guests%s", path, (unsigned)socket_mode,
           pv_venus_generation_name(opts.renderer.generation),
           opts.test_hooks ? ", with test hooks" : "");
    int rc = pv_vtest_serve(fd, &opts);
    close(fd);

    struct stat now;
    if (have_ours && lstat(path, &now) == 0 && now.st_ino == ours.st_ino &&
        now.st_dev == ours.st_dev)
        unlink(path);
    pv_log("stopped serving %s", path);
    free(record_dir);
    return rc == 0 ? 0 : 1;
}
