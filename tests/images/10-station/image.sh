#!/usr/bin/env bash
# Simulated DGX Station base: Debian 12 with systemd and python3, built with
# debootstrap and `docker import` (no registry is reachable from CI).
# Ubuntu 24.04 (DGX OS 7) is not reachable either; Debian 12 is the closest
# systemd + apt host we can build here.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

HERE="$IMAGES_DIR/10-station"
PACKAGES="python3,python3-apt,systemd,systemd-sysv,dbus,sudo,ca-certificates,curl,procps,iproute2,gpg"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
TAG="dgx-station-sim/station:$(printf '%s\n' "$PACKAGES" | cat - "$HERE/image.sh" | sha256sum | cut -c1-12)"

if image_exists "$TAG"; then
  log "station image $TAG is cached, reusing it"
else
  command -v debootstrap >/dev/null || { log "debootstrap missing: apt-get install debootstrap"; exit 1; }
  ROOTFS="$(mktemp -d "$BUILD_DIR/rootfs.XXXXXX")"
  trap 'rm -rf "$ROOTFS"' EXIT
  log "building station image $TAG with debootstrap (about 90 s)"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOTFS" "$MIRROR" >"$BUILD_DIR/debootstrap.log" 2>&1 \
    || { tail -20 "$BUILD_DIR/debootstrap.log" >&2; exit 1; }
  # Containers have no console or kernel to manage: mask the units that only fail there.
  for unit in getty@tty1.service systemd-remount-fs.service systemd-udevd.service \
              systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount \
              sys-kernel-debug.mount sys-kernel-tracing.mount; do
    ln -sf /dev/null "$ROOTFS/etc/systemd/system/$unit"
  done
  echo 'APT::Install-Recommends "false";' > "$ROOTFS/etc/apt/apt.conf.d/90no-recommends"
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  tar -C "$ROOTFS" -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' - "$TAG" >/dev/null
  # docker import takes no STOPSIGNAL: Station containers set stop_signal SIGRTMIN+3 when created.
fi
record STATION_IMAGE "$TAG"
echo "$TAG"
