#!/usr/bin/env bash
# Make sure a Docker engine answers. On a machine that has one, touch nothing.
# Otherwise install docker.io (and debootstrap for the image recipes) and start
# dockerd: through systemd when it runs, in the background when it does not.
set -euo pipefail
need_pkgs=()
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || need_pkgs+=(docker.io)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "[docker] installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
if docker info >/dev/null 2>&1; then
  echo "[docker] engine answers: $(docker info --format '{{.ServerVersion}} {{.Driver}}')"
  exit 0
fi
if [ -d /run/systemd/system ]; then
  systemctl start docker
else
  echo "[docker] no systemd here: starting dockerd in the background (log: /var/log/dockerd.log)"
  # Its own session, so that the end of the job that started it (a killed process group) does not stop it.
  setsid nohup dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { echo "[docker] engine is up"; exit 0; }
  sleep 1
done
echo "[docker] dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
exit 1
