#!/usr/bin/env bash
# Runs INSIDE the image build container of 30-station-dgxos (never on the machine itself):
# installs what DGX OS 7 ships, from Debian and from the local repository of test doubles.
set -euo pipefail
if [ ! -f /.dockerenv ] || [ ! -d /opt/dgx-station-test-repo ]; then
  echo "provision-inside.sh only runs inside the image build container" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
arch="$(dpkg --print-architecture)"
chmod -R a+rX /opt/dgx-station-test-repo /opt/dgx-station-sim

# NVIDIA's repository stays configured on DGX OS; here it is the signed local repository.
install -d -m 0755 /etc/apt/keyrings
install -m 0644 /opt/dgx-station-test-repo/gpgkey.asc /etc/apt/keyrings/nvidia-container-toolkit.asc
printf '%s\n' \
  'X-Repolib-Name: nvidia-container-toolkit' \
  'Types: deb' \
  "URIs: file:/opt/dgx-station-test-repo/stable/deb/${arch}" \
  'Suites: /' \
  'Signed-By: /etc/apt/keyrings/nvidia-container-toolkit.asc' \
  > /etc/apt/sources.list.d/nvidia-container-toolkit.sources

apt-get update -qq
apt-get install -y -qq docker.io nvidia-container-toolkit nvidia-utils-standin

# Site settings a DGX OS host may carry, then the nvidia runtime the way NVIDIA's tool adds it.
install -d -m 0755 /etc/docker
printf '%s\n' '{' \
  '    "default-shm-size": "1G",' \
  '    "log-driver": "json-file",' \
  '    "log-opts": {' \
  '        "max-size": "50m"' \
  '    }' \
  '}' > /etc/docker/daemon.json
nvidia-ctk runtime configure --runtime=docker

# The Station's first user, already able to use Docker.
useradd --create-home --shell /bin/bash --groups docker station

test -L /etc/systemd/system/multi-user.target.wants/docker.service
command -v nvidia-smi nvidia-ctk nvidia-container-runtime-hook
if python3 -m venv /tmp/venv-probe >/dev/null 2>&1; then
  echo "python3-venv must be absent, as on DGX OS" >&2
  exit 1
fi
rm -rf /tmp/venv-probe
apt-get clean
rm -rf /var/lib/apt/lists/*
