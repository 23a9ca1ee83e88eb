/* The pvgpu command line: the subcommands' entry points and the small helpers they share. */
#ifndef PV_CLI_H
#define PV_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* sysexits.h's EX_USAGE: the command line was wrong. */
#define PV_CLI_EXIT_USAGE 64

extern const char pv_cli_version[];

/* Each takes the arguments after "pvgpu" (argv[0] is the subcommand) and returns the exit code. */
int pv_cli_serve(int argc, char **argv);
int pv_cli_run(int argc, char **argv);

void pv_cli_print_usage(FILE *out);

/* Prints "pvgpu: <message>" and a hint to stderr; returns PV_CLI_EXIT_USAGE. */
int pv_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a byte count such as 4096, 64K, 256M or 1G (powers of 1024). Returns false if the text
 * is not one or the value is 0 or does not fit. */
bool pv_cli_parse_bytes(const char *text, size_t *out);

/* For --record DIR: creates DIR if it does not exist and returns its absolute path (malloc'd),
 * or NULL after printing why. */
char *pv_cli_record_dir(const char *dir);

/* Enters a new mount namespace (and a user namespace when not root) whose mounts do not
 * propagate back. Returns 0, or -1 after printing why. */
int pv_enter_mount_namespace(void);
/* Sets up a private /tmp for `pvgpu run`: a new mount namespace, a fresh tmpfs on /tmp, and
 * bound back into it the caller's X11 socket folder and the top /tmp entry of each keep path
 * (what the run needs that lives under /tmp). Returns 0, or -1 after printing why. */
int pv_private_tmp(const char *const *keep, size_t keep_count);

/* The Venus ICD JSON of a Debian guest root, as a path inside the root (malloc'd), or NULL. */
char *pv_guest_root_icd(const char *root);
/* In the guest's process: a new mount namespace where root sees socket_dir as /tmp, the host's
 * /proc, /dev and /sys, the working folder and each of binds at their own paths; then chroot
 * into root, staying in the working folder. Returns 0, or -1 after printing why. */
int pv_guest_root_enter(const char *root, const char *socket_dir, char *const *binds,
                        size_t bind_count);

/* The per-context limits of --max-objects (O), --max-memory (M), --max-blobs (B) and
 * --max-rings (R); false after a usage message. */
struct pv_renderer_options;
bool pv_cli_parse_limit(int option, const char *value, struct pv_renderer_options *renderer);
/* For --validate: whether the host has the Khronos validation layer; false after saying it
 * does not. */
bool pv_cli_check_validation(void);
/* --protocol current|2022: the Venus generation served; false after a usage message. */
bool pv_cli_parse_protocol(const char *value, struct pv_renderer_options *renderer);

#endif
