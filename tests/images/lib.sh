#!/usr/bin/env bash
# Shared helpers for the image recipes under tests/images/*/image.sh.
# Every test image is built locally (no registry is reachable) and tagged by a
# hash of its recipe, so it is built once per machine and rebuilt when the
# recipe changes.
set -euo pipefail

IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$IMAGES_DIR/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO_ROOT/.build}"
IMAGES_ENV="$BUILD_DIR/images.env"
mkdir -p "$BUILD_DIR"

# recipe_hash FILE_OR_DIR... -> 12 hex digits over the content of every file given
recipe_hash() {
  local path
  for path in "$@"; do
    if [ -d "$path" ]; then
      (cd "$path" && find . -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    else
      sha256sum "$path"
    fi
  done | sha256sum | cut -c1-12
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# record VAR IMAGE: publish an image tag to the other recipes and to make/molecule
record() {
  touch "$IMAGES_ENV"
  grep -v "^$1=" "$IMAGES_ENV" > "$IMAGES_ENV.tmp" || true
  echo "$1=$2" >> "$IMAGES_ENV.tmp"
  mv "$IMAGES_ENV.tmp" "$IMAGES_ENV"
}

log() { printf '[images] %s\n' "$*" >&2; }
