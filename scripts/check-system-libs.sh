#!/usr/bin/env bash
# Checks that the shared libraries Qt needs are installed, and installs the missing ones.
#
#   scripts/check-system-libs.sh offscreen   # what the headless test suite needs
#   scripts/check-system-libs.sh x11         # ...plus what a real X11 window needs
#   scripts/check-system-libs.sh smoke       # ...plus Xvfb and xdotool, for scripts/gui-smoke.sh
#
# Libraries are looked up by their shared-object name in the dynamic linker cache
# (`ldconfig -p`), which works the same on every distribution and is not fooled by renamed
# packages (Ubuntu 24.04 ships libglib2.0-0 as libglib2.0-0t64). Missing ones are installed
# with apt-get when we are root; otherwise the exact `sudo apt-get install` line is printed
# and the script fails. When everything is present it prints nothing.
set -euo pipefail

platform="${1:-offscreen}"
case "$platform" in
    offscreen|x11|smoke) ;;
    *) echo "usage: $0 [offscreen|x11|smoke]" >&2; exit 2 ;;
esac

# shared object  Debian/Ubuntu package(s); alternatives separated by "|", newest name first
base_libs=(
    "libEGL.so.1            libegl1"
    "libGL.so.1             libgl1"
    "libX11.so.6            libx11-6"
    "libdbus-1.so.3         libdbus-1-3"
    "libfontconfig.so.1     libfontconfig1"
    "libfreetype.so.6       libfreetype6"
    "libglib-2.0.so.0       libglib2.0-0t64|libglib2.0-0"
    "libxkbcommon.so.0      libxkbcommon0"
)
x11_libs=(
    "libxkbcommon-x11.so.0  libxkbcommon-x11-0"
    "libxcb-cursor.so.0     libxcb-cursor0"
    "libxcb-icccm.so.4      libxcb-icccm4"
    "libxcb-image.so.0      libxcb-image0"
    "libxcb-keysyms.so.1    libxcb-keysyms1"
    "libxcb-render-util.so.0 libxcb-render-util0"
    "libxcb-shape.so.0      libxcb-shape0"
    "libxcb-xkb.so.1        libxcb-xkb1"
    "libxcb-randr.so.0      libxcb-randr0"
    "libxcb-xfixes.so.0     libxcb-xfixes0"
    # Qt's xcb plugin links these too; they normally arrive as dependencies of the above.
    "libxcb.so.1            libxcb1"
    "libX11-xcb.so.1        libx11-xcb1"
    "libxcb-render.so.0     libxcb-render0"
    "libxcb-shm.so.0        libxcb-shm0"
    "libxcb-sync.so.1       libxcb-sync1"
    "libxcb-util.so.1       libxcb-util1"
)
# program        Debian/Ubuntu package: what the X11 smoke test drives the app with
smoke_programs=(
    "Xvfb           xvfb"
    "xdotool        xdotool"
)
wanted=("${base_libs[@]}")
programs=()
if [ "$platform" = x11 ] || [ "$platform" = smoke ]; then
    wanted+=("${x11_libs[@]}")
fi
if [ "$platform" = smoke ]; then
    programs+=("${smoke_programs[@]}")
fi

# ldconfig lives in /sbin, which is often not on an ordinary user's PATH.
ldconfig_bin="$(PATH="$PATH:/sbin:/usr/sbin" command -v ldconfig || true)"
if [ -z "$ldconfig_bin" ]; then
    echo "check-system-libs: ldconfig not found; cannot check Qt's system libraries, going on." >&2
    exit 0
fi

# Fills missing_libs (what is absent, for people) and missing_pkgs (the packages to install).
find_missing() {
    local sonames row soname packages
    sonames="$("$ldconfig_bin" -p 2>/dev/null | awk 'NR > 1 {print $1}')"
    missing_libs=()
    missing_pkgs=()
    for row in "${wanted[@]}"; do
        read -r soname packages <<<"$row"
        if ! grep -qxF "$soname" <<<"$sonames"; then
            missing_libs+=("$soname")
            missing_pkgs+=("$packages")
        fi
    done
    for row in ${programs[@]+"${programs[@]}"}; do
        read -r soname packages <<<"$row"
        if ! command -v "$soname" >/dev/null 2>&1; then
            missing_libs+=("$soname (program)")
            missing_pkgs+=("$packages")
        fi
    done
    # Qt draws text through fontconfig; with no font at all every label renders as boxes.
    if ! find /usr/share/fonts /usr/local/share/fonts "${HOME:-/nonexistent}/.local/share/fonts" \
            \( -name '*.ttf' -o -name '*.otf' -o -name '*.ttc' -o -name '*.pfb' \) -print -quit 2>/dev/null \
            | grep -q .; then
        missing_libs+=("a font (none under /usr/share/fonts)")
        missing_pkgs+=("fonts-dejavu-core")
    fi
}

find_missing
[ "${#missing_libs[@]}" -eq 0 ] && exit 0

# The first alternative that apt knows as a real (not purely virtual) package.
resolve() {
    local alternatives="$1" name
    IFS='|' read -r -a names <<<"$alternatives"
    if command -v apt-cache >/dev/null 2>&1; then
        for name in "${names[@]}"; do
            if apt-cache show --no-all-versions "$name" >/dev/null 2>&1; then
                echo "$name"
                return
            fi
        done
    fi
    echo "${names[-1]}"
}

echo "Qt ($platform) needs system libraries that are missing: ${missing_libs[*]}" >&2

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    echo "Installing them with apt-get..." >&2
    if ! apt-get update -qq >"$log" 2>&1; then
        cat "$log" >&2
        echo "apt-get update failed." >&2
        exit 1
    fi
    packages=()
    for alternatives in "${missing_pkgs[@]}"; do
        packages+=("$(resolve "$alternatives")")
    done
    if ! apt-get install -y -qq --no-install-recommends "${packages[@]}" >"$log" 2>&1; then
        cat "$log" >&2
        echo "apt-get install ${packages[*]} failed." >&2
        exit 1
    fi
    find_missing
    if [ "${#missing_libs[@]}" -eq 0 ]; then
        echo "Installed: ${packages[*]}" >&2
        exit 0
    fi
    echo "Still missing after apt-get install: ${missing_libs[*]}" >&2
    exit 1
fi

packages=()
for alternatives in "${missing_pkgs[@]}"; do
    packages+=("$(resolve "$alternatives")")
done
{
    echo "Install them with:"
    echo
    echo "    sudo apt-get install -y --no-install-recommends ${packages[*]}"
    echo
    echo "(on other distributions, install the packages that provide these files)."
} >&2
exit 1
