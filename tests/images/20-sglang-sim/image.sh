#!/usr/bin/env bash
# SGLang simulator image: the Station base with tests/sim installed as the `sglang` package, so the
# production command line (`sglang serve --model-path ...` or `python3 -m sglang.launch_server ...`)
# runs unchanged without a GPU, and `hf download ...` (the stand-in Hugging Face CLI) fills the cache.
# The collection's model presets are copied in at build time.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

HERE="$IMAGES_DIR/20-sglang-sim"
SIM_PKG="$REPO_ROOT/tests/sim/sglang"
PRESETS="$REPO_ROOT/plugins/module_utils/model_presets.py"

station_image() { grep -s '^STATION_IMAGE=' "$IMAGES_ENV" | tail -1 | cut -d= -f2-; }
BASE="$(station_image || true)"
if [ -z "$BASE" ] || ! image_exists "$BASE"; then
  log "station base image missing, building it first"
  bash "$IMAGES_DIR/10-station/image.sh" >/dev/null
  BASE="$(station_image)"
fi

HASH="$( { recipe_hash "$HERE/image.sh" "$SIM_PKG" "$PRESETS"; echo "$BASE"; } | sha256sum | cut -c1-12)"
TAG="dgx-station-sim/sglang-sim:$HASH"

if image_exists "$TAG"; then
  log "sglang simulator image $TAG is cached, reusing it"
else
  CONTEXT="$(mktemp -d "$BUILD_DIR/sglang-sim-context.XXXXXX")"
  trap 'rm -rf "$CONTEXT"' EXIT
  mkdir -p "$CONTEXT/sglang"
  (cd "$SIM_PKG" && find . -type f -name '*.py' -print0 | LC_ALL=C sort -z |
     xargs -0 -I{} install -D -m 0644 {} "$CONTEXT/sglang/{}")
  install -D -m 0644 "$PRESETS" "$CONTEXT/sglang/_presets/model_presets.py"
  cat > "$CONTEXT/sglang-entry" <<'PY'
#!/usr/bin/python3
import sys

from sglang.cli.main import main

sys.exit(main())
PY
  # The Hugging Face CLI of the real image (huggingface_hub 2.x ships `hf` only, no `huggingface-cli`).
  cat > "$CONTEXT/hf-entry" <<'PY'
#!/usr/bin/python3
import sys

from sglang.sim.hf_cli import main

sys.exit(main())
PY
  cat > "$CONTEXT/Dockerfile" <<DOCKERFILE
FROM $BASE
COPY sglang /opt/sglang-sim/sglang
COPY sglang-entry /usr/local/bin/sglang
COPY hf-entry /usr/local/bin/hf
RUN chmod 0755 /usr/local/bin/sglang /usr/local/bin/hf \\
 && python3 -c "import os, site; d = site.getsitepackages()[0]; os.makedirs(d, exist_ok=True); open(os.path.join(d, 'sglang-sim.pth'), 'w').write('/opt/sglang-sim\\\\n')" \\
 && python3 -c "import sglang.launch_server, sglang.sim.main as m; m.load_presets()" \\
 && sglang version && HF_HUB_DISABLE_UPDATE_CHECK=1 hf --version
ENV PYTHONUNBUFFERED=1
EXPOSE 30000
CMD ["/bin/bash"]
DOCKERFILE
  log "building sglang simulator image $TAG"
  docker build -q -t "$TAG" "$CONTEXT" >"$BUILD_DIR/sglang-sim-build.log" 2>&1 \
    || { tail -30 "$BUILD_DIR/sglang-sim-build.log" >&2; exit 1; }
fi
record SGLANG_SIM_IMAGE "$TAG"
echo "$TAG"
