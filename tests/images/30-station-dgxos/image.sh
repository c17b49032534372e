#!/usr/bin/env bash
# "DGX OS-like" simulated Station: the base Station image (10-station) plus what DGX OS 7
# ships: a Docker engine (docker.io here) installed and enabled, the NVIDIA Container Toolkit
# (the test double from tests/fixtures/apt-repo, installed from its signed apt repository,
# which stays configured as NVIDIA's is on DGX OS), /etc/docker/daemon.json with custom keys
# plus the nvidia runtime (written by nvidia-ctk), nvidia-smi (test double, default profile:
# RTX PRO 6000 Blackwell at index 0, GB300 at index 1, SYNTHESIZED), the GPU-probe image
# tarball, and a user `station` in the docker group. Like DGX OS it has no python3-venv.
# Built with `docker run` of the base + apt + `docker commit` (no systemd needed to install).
# Also used by `make demo` and the sglang_server tests.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

HERE="$IMAGES_DIR/30-station-dgxos"
FIXTURES="$REPO_ROOT/tests/fixtures"
STATION_IMAGE="$(sed -n 's/^STATION_IMAGE=//p' "$IMAGES_ENV" 2>/dev/null | tail -1)"
[ -n "$STATION_IMAGE" ] || { log "build tests/images/10-station first (no STATION_IMAGE in $IMAGES_ENV)"; exit 1; }

REPO_DIR="$(bash "$FIXTURES/apt-repo/build.sh")"
PROBE_TAR="$(bash "$FIXTURES/probe-image/build.sh")"
TAG="dgx-station-sim/station-dgxos:$(printf '%s\n' "$STATION_IMAGE" \
  | cat - "$HERE/image.sh" "$HERE/provision-inside.sh" "$REPO_DIR/.recipe-hash" "$FIXTURES/probe-image/build.sh" \
  | sha256sum | cut -c1-12)"

if image_exists "$TAG"; then
  log "DGX OS-like station image $TAG is cached, reusing it"
else
  log "building DGX OS-like station image $TAG (about 60 s)"
  BUILDER="dgx-station-dgxos-build-$$"
  trap 'docker rm -f "$BUILDER" >/dev/null 2>&1 || true' EXIT
  docker run -d --name "$BUILDER" "$STATION_IMAGE" sleep infinity >/dev/null
  docker exec "$BUILDER" mkdir -p /opt/dgx-station-test-repo /opt/dgx-station-sim
  docker cp "$REPO_DIR/." "$BUILDER:/opt/dgx-station-test-repo/"
  docker cp "$PROBE_TAR" "$BUILDER:/opt/dgx-station-sim/gpu-probe.tar"
  docker cp "$HERE/provision-inside.sh" "$BUILDER:/tmp/provision-inside.sh"
  docker exec "$BUILDER" bash /tmp/provision-inside.sh >"$BUILD_DIR/station-dgxos-build.log" 2>&1 \
    || { tail -30 "$BUILD_DIR/station-dgxos-build.log" >&2; exit 1; }
  docker exec "$BUILDER" rm -f /tmp/provision-inside.sh
  docker stop -t 1 "$BUILDER" >/dev/null
  docker commit \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' \
    "$BUILDER" "$TAG" >/dev/null
fi
record STATION_DGXOS_IMAGE "$TAG"
echo "$TAG"
