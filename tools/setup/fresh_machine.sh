#!/usr/bin/env bash
# The README's commands on a machine that has nothing: a fresh Debian 12 root made with debootstrap
# under the build tree, a clone of this repository's HEAD copied into it, and there, under chroot:
#   1. `bash tools/demo.sh` (the README's first command), which must print its summary line;
#   2. oneDNN (libdnnl-dev) removed, with the OpenCL headers (ocl-icd-opencl-dev) never installed:
#      configure, build and `bash tools/test.sh` (the README's test command) with the optional packages
#      left out (EEGPT_OPTIONAL_PACKAGES=no), so an optional dependency cannot be what makes it pass.
#      EEGPT_FRESH_STEPS=demo stops after step 1.
#
#   tools/setup/fresh_machine.sh [WORKDIR]      (default build-fresh; needs root, debootstrap, network)
#
# The root as it is right after step 1's package installation is cached in EEGPT_FRESH_CACHE (default
# /var/cache/eegpt-fresh-root), keyed on the SHA-256 of tools/setup/install_deps.sh: the same script on
# the same fresh base installs the same packages, so a later run on this machine starts from that root
# (a minute instead of several) and still runs every step. EEGPT_FRESH_CACHE=none disables the cache.
# Nothing of the host is visible inside but /proc, the network settings and the clone; the environment is emptied
# except for the variables a machine of this kind sets for its processor (OPENBLAS_*) and CI.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mkdir -p "${1:-$src/build-fresh}" && cd "${1:-$src/build-fresh}" && pwd)
root=$work/root
cache_dir=${EEGPT_FRESH_CACHE:-/var/cache/eegpt-fresh-root}
steps=${EEGPT_FRESH_STEPS:-all}
mirror=${EEGPT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
key=$(sha256sum "$src/tools/setup/install_deps.sh" | cut -c1-16)
cached=$cache_dir/root-bookworm-$key.tar

say() { echo "fresh machine: $*"; }
die() { echo "fresh machine: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
case "$steps" in all|demo) ;; *) die "EEGPT_FRESH_STEPS is all or demo, got '$steps'" ;; esac

mounted=()
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
    mounted=()
}
trap unmount_all EXIT
# /dev is a tmpfs of the root's own with the few device nodes a build needs, not the host's /dev:
# removing the root can then never remove anything of the host.
mount_into_root() {
    mount -t proc proc "$root/proc" && mounted+=("$root/proc")
    mount -t tmpfs -o mode=755,size=2g eegpt-dev "$root/dev" && mounted+=("$root/dev")
    local spec
    for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
        IFS=: read -r name major minor <<< "$spec"
        mknod -m 666 "$root/dev/$name" c "$major" "$minor"
    done
    mkdir -m 1777 "$root/dev/shm"
    mkdir "$root/dev/pts"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts" && mounted+=("$root/dev/pts")
    ln -s pts/ptmx "$root/dev/ptmx"
    ln -s /proc/self/fd "$root/dev/fd"
    ln -s /proc/self/fd/0 "$root/dev/stdin"
    ln -s /proc/self/fd/1 "$root/dev/stdout"
    ln -s /proc/self/fd/2 "$root/dev/stderr"
}
# Refuses to go on while anything is still mounted below the root.
check_unmounted() {
    ! awk '{print $2}' /proc/mounts | grep -q "^$root/" || die "still mounted below $root"
}
in_root() {
    local keep=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
                DEBIAN_FRONTEND=noninteractive)
    local v
    for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE CI; do
        [ -n "${!v:-}" ] && keep+=("$v=${!v}")
    done
    chroot "$root" /usr/bin/env -i "${keep[@]}" /bin/bash -c "$1"
}

t0=$(date +%s)
if [ -d "$root" ]; then
    unmount_all
    for m in proc dev; do ! mountpoint -q "$root/$m" || umount -l "$root/$m"; done
    check_unmounted
    rm -rf "$root"
fi
if [ "$cache_dir" != none ] && [ -f "$cached" ]; then
    mkdir -p "$root"
    tar -C "$root" -xf "$cached"
    say "root from the cache ($cached) in $(( $(date +%s) - t0 )) s"
else
    command -v debootstrap >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    } || die "debootstrap is missing and could not be installed"
    debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 ||
        { tail -5 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }
    # The package sources of a default Debian 12 installation; no service starts inside the root.
    cat > "$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
    printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    say "debootstrap bookworm in $(( $(date +%s) - t0 )) s"
fi
# What a machine of this kind is given with its network: name resolution, the certificate authorities
# its package registries are reached through, pip's settings.
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/etc/ssl/certs" "$root/usr/local/share/ca-certificates"
[ ! -f /etc/ssl/certs/ca-certificates.crt ] || cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
[ ! -f /etc/pip.conf ] || cp /etc/pip.conf "$root/etc/pip.conf"
mkdir -p "$root/work"
git clone -q "$src" "$root/work/eegpt"
say "clone of $(git -C "$src" rev-parse --short HEAD) in the root; nothing beside it: $(ls "$root/work")"
mount_into_root

# Step 1: the README's first command.
t1=$(date +%s)
if ! in_root "cd /work/eegpt && bash tools/demo.sh" > "$work/demo.log" 2>&1; then
    tail -20 "$work/demo.log" >&2
    die "step 1: bash tools/demo.sh failed in the fresh root (log: $work/demo.log)"
fi
summary=$(grep -E -- "-> eegpt_demo_features\.h5: .* windows in " "$work/demo.log" || true)
[ -n "$summary" ] || { tail -20 "$work/demo.log" >&2; die "step 1: the demo printed no summary line"; }
say "step 1, bash tools/demo.sh: passed in $(( $(date +%s) - t1 )) s: $summary"
if [ "$cache_dir" != none ] && [ ! -f "$cached" ]; then
    mkdir -p "$cache_dir"
    rm -f "$cache_dir"/root-bookworm-*.tar
    unmount_all
    check_unmounted
    tar -C "$root" --exclude=./work --exclude=./proc/* --exclude=./dev/* -cf "$cached.partial" . &&
        mv "$cached.partial" "$cached" && say "cached the root as $cached"
    mount_into_root
fi
[ "$steps" = demo ] && exit 0

# Step 2: without the optional packages, the whole test command.
in_root "apt-get purge -y -qq libdnnl-dev >/dev/null && apt-get autoremove -y -qq >/dev/null"
for p in libdnnl-dev ocl-icd-opencl-dev; do
    ! in_root "dpkg-query -W -f='\${Status}' $p 2>/dev/null | grep -q 'install ok installed'" ||
        die "step 2: $p is still installed in the root"
done
in_root "cd /work/eegpt && rm -rf build build-*"
t2=$(date +%s)
if ! in_root "cd /work/eegpt && EEGPT_OPTIONAL_PACKAGES=no bash tools/test.sh" > "$work/test.log" 2>&1; then
    tail -40 "$work/test.log" >&2
    die "step 2: bash tools/test.sh failed in the fresh root without oneDNN and OpenCL (log: $work/test.log)"
fi
grep -q "oneDNN OFF" "$work/test.log" || die "step 2: the configure did not report oneDNN OFF"
say "step 2, bash tools/test.sh without libdnnl-dev and ocl-icd-opencl-dev: passed in $(( $(date +%s) - t2 )) s"
grep -E "tests passed|passed|failed" "$work/test.log" | grep -vE "^\s*[0-9]+/[0-9]+ Test" | tail -8 | sed 's/^/  /'
say "all steps passed in $(( $(date +%s) - t0 )) s"
