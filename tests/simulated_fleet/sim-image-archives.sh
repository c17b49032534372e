#!/usr/bin/env bash
# Controller side of the air-gapped image path for the simulated fleet: `docker save` the SGLang
# simulator image to the tarball the sglang_server role ships with its `archive` image source
# (group_vars/stations.yml derives the file name from the image), and optionally a variant that dies
# at boot with an OOM (a "bad release" for the rollback test).
# Usage: sim-image-archives.sh ARCHIVE_DIR SIM_IMAGE [FAULT_IMAGE]
set -euo pipefail
dir="$1" sim="$2" fault="${3:-}"
mkdir -p "$dir"
archive_of() { printf '%s/%s.tar' "$dir" "$(printf '%s' "$1" | sed 's#[/:@]#_#g')"; }
save() {  # save IMAGE unless its archive already holds the same image id
  local file id
  file="$(archive_of "$1")"
  id="$(docker image inspect --format '{{.Id}}' "$1")"
  if [ -f "$file" ] && [ "$(cat "$file.id" 2>/dev/null)" = "$id" ]; then
    echo "cached $file"
  else
    docker save "$1" -o "$file.tmp" && mv "$file.tmp" "$file" && echo "$id" > "$file.id"
    echo "saved $file"
  fi
}
keep=("$(archive_of "$sim")")
save "$sim"
if [ -n "$fault" ]; then
  keep+=("$(archive_of "$fault")")
  # The simulator image with a boot fault baked in (docker build on the controller, no registry).
  printf 'FROM %s\nENV SGLANG_SIM_FAULT=oom_at_start\n' "$sim" | docker build -q -t "$fault" - >/dev/null
  save "$fault"
fi
# Drop archives of earlier simulator builds (about 200 MB each); this directory holds only these.
for file in "$dir"/*.tar; do
  [ -e "$file" ] || continue
  case " ${keep[*]} " in *" $file "*) ;; *) rm -f "$file" "$file.id"; echo "removed stale $file" ;; esac
done
