#!/usr/bin/env bash
# Build (or reuse) every test image, in recipe order; tags land in .build/images.env.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
for recipe in "$IMAGES_DIR"/*/image.sh; do
  start=$(date +%s)
  bash "$recipe" >/dev/null
  log "$(basename "$(dirname "$recipe")") ready in $(( $(date +%s) - start )) s"
done
cat "$IMAGES_ENV"
