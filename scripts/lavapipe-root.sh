#!/usr/bin/env bash
# Makes (once) a small Debian root whose Mesa lavapipe (Vulkan on the CPU) can run burn's SPIR-V
# kernels, and prints its path. The check runs tests/backends.rs inside it
# (scripts/lavapipe-run is cargo's runner there).
#
# Why a separate root: with the `vulkan` feature compiled in, burn compiles its kernels for a
# Vulkan device to SPIR-V (`--backend wgpu` too), and lavapipe segfaults inside
# vkCreateComputePipelines on cubek-matmul's register-tile matmul kernel in Debian 12's Mesa
# 22.3.6 (LLVM 15), in its backports' 25.0.7 (LLVM 15) and in Debian 13's 25.0.7 (LLVM 19).
# Mesa 26.2.6 (LLVM 22.1.8, Debian unstable) runs every test of tests/backends.rs. It needs a
# newer C library than Debian 12's, so it lives in a root of its own: Debian 13 (minbase), with
# mesa-vulkan-drivers from unstable. About 600 MB, a minute or two to make.
#
#   bash scripts/lavapipe-root.sh        # DDPM_LAVAPIPE_ROOT, default ~/.cache/ddpm-lavapipe-root
#
# Needs root, or sudo: debootstrap and chroot (debootstrap is installed with apt if missing).
set -euo pipefail
root="${DDPM_LAVAPIPE_ROOT:-$HOME/.cache/ddpm-lavapipe-root}"
min_major=26
mirror=http://deb.debian.org/debian
if [ -f "$root/.ddpm-lavapipe-ready" ]; then echo "$root"; exit 0; fi

sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "installing debootstrap (to make the lavapipe root)" >&2
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq debootstrap >&2
fi
tmp="$root.partial"
$sudo rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
echo "making the lavapipe root in $root (Debian 13 with Mesa from unstable; once)" >&2
$sudo debootstrap --variant=minbase --include=libvulkan1 trixie "$tmp" "$mirror" >&2
echo "deb $mirror sid main" | $sudo tee "$tmp/etc/apt/sources.list.d/sid.list" >/dev/null
# The mirror's unstable index may be past its Valid-Until date (a frozen snapshot of the
# archive); its signature is still checked.
$sudo chroot "$tmp" apt-get -qq -o Acquire::Check-Valid-Until=false update >&2
$sudo chroot "$tmp" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq -o Acquire::Check-Valid-Until=false -t sid mesa-vulkan-drivers >&2
$sudo chroot "$tmp" apt-get clean
version=$($sudo chroot "$tmp" dpkg-query -W -f '${Version}' mesa-vulkan-drivers)
if [ "${version%%.*}" -lt "$min_major" ]; then
    echo "the lavapipe root got Mesa $version; tests/backends.rs needs $min_major or newer" >&2
    exit 1
fi
echo "$version" | $sudo tee "$tmp/.ddpm-lavapipe-ready" >/dev/null
$sudo mv "$tmp" "$root"
echo "lavapipe root ready: Mesa $version" >&2
echo "$root"
