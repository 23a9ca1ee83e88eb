/* pvgpu: the PearVisor GPU command line. Picks the subcommand; the subcommands live in their
 * own files (pv_serve.c, pv_run.c). */
#include <stdio.h>
#include <string.h>

#include "pv_cli.h"
#include "pv_renderer.h"

void pv_cli_print_usage(FILE *out)
{
    fputs("usage: pvgpu <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve [--socket PATH] [--socket-mode MODE] [--protocol current|2022] [--validate]\n"
          "        [--max-message-bytes N] [--record DIR] [limits]\n"
          "      Serve Venus guests over vtest on PATH (default /tmp/.virgl_test) until SIGINT or\n"
          "      SIGTERM. Each guest connection gets its own context worker process.\n"
          "  run [--guest NAME|ROOT | --guest-icd JSON] [--protocol current|2022] [--bind DIR]...\n"
          "      [--host-icd JSON] [--validate] [--max-message-bytes N] [--record DIR]\n"
          "      [limits] -- CMD [ARGS...]\n"
          "      Run CMD on a Venus guest driver against a private pvgpu host and exit with CMD's\n"
          "      status. Another server may own /tmp/.virgl_test meanwhile.\n"
          "  commands\n"
          "      List every Venus command type and whether this host implements it.\n"
          "\n"
          "options:\n"
          "  --socket PATH            where serve listens\n"
          "  --socket-mode MODE       the socket's permissions, in octal (default 0600: only its\n"
          "                           owner's processes may connect; 0660 lets its group in)\n"
          "  --protocol current|2022  the Venus protocol generation served: current (wire format 1,\n"
          "                           Mesa 25 and 26 as Debian ships them; the default) or 2022\n"
          "                           (wire format 0, Mesa 22.x). A guest of the other generation\n"
          "                           rejects the capset; the host logs that when it happens\n"
          "  --guest NAME|ROOT        run CMD on this guest (default: $PVGPU_GUEST, else trixie):\n"
          "                           trixie or sid, Debian roots with their own Mesa (25.0.7,\n"
          "                           26.2.6) in guest-roots/ next to pvgpu, made by\n"
          "                           scripts/setup-guest-roots.sh; ROOT, any such root; CMD then\n"
          "                           runs chrooted there, seeing the working folder and each\n"
          "                           --bind DIR at their own paths. bookworm: Mesa 22.3.6 built\n"
          "                           from Debian's source (guest-driver/ next to pvgpu), served\n"
          "                           the 2022 protocol, CMD on the host in a private /tmp\n"
          "  --bind DIR               also show DIR (at its own path) to a guest userland\n"
          "  --validate               run the host's Vulkan calls under the Khronos validation layer\n"
          "                           and log every message it reports (\"validation:\" lines); an\n"
          "                           error when the host has no such layer\n"
          "  --max-objects N          per guest context: live objects (default 1M; past it the\n"
          "                           context is fatal)\n"
          "  --max-memory BYTES       per guest context: device memory at once (default 64G; past it\n"
          "                           vkAllocateMemory returns VK_ERROR_OUT_OF_DEVICE_MEMORY)\n"
          "  --max-blobs N            per guest context: live blob resources (default 65536)\n"
          "  --max-rings N            per guest context: live rings (default 64)\n"
          "  --max-message-bytes N    refuse vtest messages larger than N bytes (K, M, G suffixes;\n"
          "                           default 256M)\n"
          "  --record DIR             write what each guest connection N sends to DIR/ctx-N.vtest and\n"
          "                           every Venus command batch it runs to DIR/ctx-N-batch-K.venus\n"
          "                           (replaces earlier files of the same names; for replays and fuzz\n"
          "                           corpora)\n"
          "  --host-icd JSON          the host Vulkan driver the server uses (VK_ICD_FILENAMES and\n"
          "                           VK_DRIVER_FILES for the server only)\n"
          "  --guest-icd JSON         a Venus guest driver of the host system for CMD, instead of\n"
          "                           --guest (serve it the right --protocol)\n"
          "  -h, --help               this text\n"
          "  --version                the version\n"
          "\n"
          "Set PVGPU_DEBUG=1 for verbose host logs.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return pv_cli_usage_error("no command given");

    const char *command = argv[1];
    if (!strcmp(command, "-h") || !strcmp(command, "--help") || !strcmp(command, "help")) {
        pv_cli_print_usage(stdout);
        return 0;
    }
    if (!strcmp(command, "--version")) {
        printf("pvgpu %s\n", pv_cli_version);
        return 0;
    }
    if (!strcmp(command, "serve"))
        return pv_cli_serve(argc - 1, argv + 1);
    if (!strcmp(command, "run"))
        return pv_cli_run(argc - 1, argv + 1);
    if (!strcmp(command, "commands")) {
        if (argc > 2)
            return pv_cli_usage_error("'commands' takes no arguments");
        pv_renderer_print_commands(stdout);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    }
    if (command[0] == '-')
        return pv_cli_usage_error("unknown option '%s'", command);
    return pv_cli_usage_error("unknown command '%s'", command);
}
