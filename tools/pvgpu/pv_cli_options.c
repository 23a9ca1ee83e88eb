/* Helpers the pvgpu subcommands share for reading their command lines. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pv_cli.h"
#include "pv_renderer.h"

int pv_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pvgpu: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'pvgpu --help'.\n", stderr);
    va_end(ap);
    return PV_CLI_EXIT_USAGE;
}

bool pv_cli_parse_bytes(const char *text, size_t *out)
{
    if (!text || *text < '0' || *text > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text)
        return false;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default:
        return false;
    }
    if (*end != '\0' || value == 0 || value > (SIZE_MAX >> shift))
        return false;
    *out = (size_t)value << shift;
    return true;
}

char *pv_cli_record_dir(const char *dir)
{
    if (!dir || !*dir) {
        pv_cli_usage_error("--record needs a folder");
        return NULL;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "pvgpu: cannot create the recording folder %s: %s\n", dir,
                strerror(errno));
        return NULL;
    }
    char *path = realpath(dir, NULL);
    struct stat st;
    if (!path || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "pvgpu: the recording folder %s is not a usable folder\n", dir);
        free(path);
        return NULL;
    }
    return path;
}

bool pv_cli_parse_limit(int option, const char *value, struct pv_renderer_options *renderer)
{
    size_t n = 0;
    if (!pv_cli_parse_bytes(value, &n) || n == 0) {
        pv_cli_usage_error("limits need a positive number (K, M, G suffixes), not '%s'", value);
        return false;
    }
    switch (option) {
    case 'O':
        renderer->max_objects = n;
        return true;
    case 'M':
        renderer->max_memory_bytes = n;
        return true;
    case 'B':
    case 'R':
        if (n > UINT32_MAX) {
            pv_cli_usage_error("'%s' is too large a count", value);
            return false;
        }
        if (option == 'B')
            renderer->max_blobs = (uint32_t)n;
        else
            renderer->max_rings = (uint32_t)n;
        return true;
    default:
        return false;
    }
}

bool pv_cli_parse_protocol(const char *value, struct pv_renderer_options *renderer)
{
    if (value && !strcmp(value, "current")) {
        renderer->generation = PV_VENUS_CURRENT;
        return true;
    }
    if (value && !strcmp(value, "2022")) {
        renderer->generation = PV_VENUS_2022;
        return true;
    }
    pv_cli_usage_error("--protocol is 'current' (Venus wire format 1) or '2022' (wire format 0, "
                       "Mesa 22.x guests), not '%s'", value ? value : "");
    return false;
}

bool pv_cli_check_validation(void)
{
    /* Asked in a child process: the host process itself stays clear of the Vulkan loader,
     * which only its context workers load. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(pv_renderer_has_validation_layer() ? 0 : 1);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "pvgpu: --validate: the host's Vulkan loader has no "
                        "VK_LAYER_KHRONOS_validation (Debian: vulkan-validationlayers)\n");
        return false;
    }
    return true;
}
