#!/usr/bin/env bash
# Runs apt-get against a private configuration for one Debian suite, so the build can fetch source
# and binary packages of any release without touching the machine's own apt setup.
# Usage: scripts/debian-apt.sh SUITE APT-GET-ARGS...   (e.g. trixie source --download-only mesa)
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 SUITE APT-GET-ARGS..." >&2
    exit 2
fi
suite=$1
shift

top=$(cd "$(dirname "$0")/.." && pwd)
build=${PVGPU_BUILD_DIR:-$top/build}
state="$build/apt/$suite"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$state/sources.list.d" "$state/preferences.d" "$state/lists/partial" \
    "$state/cache/archives/partial"
cat > "$state/sources.list" <<EOF
deb [signed-by=$keyring] http://deb.debian.org/debian $suite main
deb-src [signed-by=$keyring] http://deb.debian.org/debian $suite main
EOF
# An empty status file: the host's installed packages must not satisfy or pin anything here.
[ -f "$state/status" ] || : > "$state/status"

# The machine's apt.conf.d is still read (it may carry proxy or transport settings); everything
# that selects sources, pins, lists, caches or the installed set is redirected.
apt=(apt-get
    -o "Dir::Etc::SourceList=$state/sources.list"
    -o "Dir::Etc::SourceParts=$state/sources.list.d"
    -o "Dir::Etc::Preferences=$state/preferences"
    -o "Dir::Etc::PreferencesParts=$state/preferences.d"
    -o "Dir::State=$state"
    -o "Dir::State::Lists=$state/lists"
    -o "Dir::State::status=$state/status"
    -o "Dir::State::extended_states=$state/extended_states"
    -o "Dir::Cache=$state/cache"
    -o "Dir::Cache::archives=$state/cache/archives"
    -o APT::Architecture=amd64
    -o APT::Architectures=amd64
    -o APT::Sandbox::User=root
)

# The command is the first argument that is neither an option nor an option's value.
command=
skip=0
for a in "$@"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case "$a" in
        -o|-c|-t|--option|--config-file|--target-release) skip=1 ;;
        -*) ;;
        *) command=$a; break ;;
    esac
done

updated="$state/updated"
if [ "$command" = update ]; then
    "${apt[@]}" "$@"
    touch "$updated"
    exit 0
fi

# Lists are refreshed once a day; the stamp sits outside lists/ because update cleans that dir.
if [ ! -f "$updated" ] || [ -n "$(find "$updated" -mmin +1440)" ]; then
    if "${apt[@]}" -qq update; then
        touch "$updated"
    elif [ -f "$updated" ]; then
        echo "debian-apt: updating $suite failed; using the lists from $(date -r "$updated")" >&2
    else
        echo "debian-apt: updating $suite failed" >&2
        exit 1
    fi
fi

exec "${apt[@]}" "$@"
