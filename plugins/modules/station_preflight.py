#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: station_preflight
short_description: Say before a first deploy whether a host is ready to become an SGLang Station
version_added: 0.3.0
description:
  - Reads, and changes nothing, what a first deploy needs - the OS and release (C(/etc/os-release), DGX OS'
    C(/etc/dgx-release)) and the CPU architecture; the NVIDIA driver and every GPU (C(nvidia-smi), MIG and a
    workstation GPU included) and whether one matches O(gpu_name_pattern); Docker and the NVIDIA Container Toolkit,
    or what provisioning would install instead; the free disk under the Hugging Face cache for the model's weights
    (the model preset's download size) and under Docker's data root for the image; whether the server port is
    free; the system Python, C(ensurepip) (C(python3-venv)) and C(packaging), and the collection's venv.
  - Returns one verdict - C(READY), C(READY AFTER PROVISIONING) (what is missing is what C(playbooks/provision.yml)
    installs) or C(NOT READY) - with each problem's evidence, cause and fix, taken from the failure catalog where
    it has an entry.
  - Works on a host without Docker or without the venv, with the system Python (standard library only).
author:
  - DGX Station inference maintainers (@dgx-station)
extends_documentation_fragment:
  - dgx_station.inference.attributes.FACTS
options:
  model:
    description: The model the first deploy will serve (C(sglang_server_model)); its preset gives the download size.
    type: str
    default: Qwen/Qwen3-8B
  hf_cache_dir:
    description:
      - The Hugging Face cache the server will mount. Free space is measured on it, or on its nearest existing parent.
    type: path
    required: true
  host_port:
    description: The server's host port (C(sglang_server_host_port)), which must be free.
    type: int
    default: 30000
  gpu_name_pattern:
    description: Python regular expression the GPU SGLang gets must match (C(sglang_server_gpu_name_pattern)).
    type: str
    default: GB300
  image:
    description: The SGLang image (C(sglang_server_image)); when Docker answers and it is missing, space for it is checked.
    type: str
  image_space_gb:
    description: GB the image needs on Docker's data root when it is not on the host yet.
    type: float
    default: 40
  container_name:
    description: Name of the server container (an existing one means this is not a first deploy).
    type: str
    default: sglang-server
  nvidia_smi_path:
    description: Path of C(nvidia-smi); default is the one on E(PATH).
    type: path
  docker_bin:
    description: The docker CLI; default is the one on E(PATH).
    type: path
  daemon_json_path:
    description: Docker's daemon configuration, read for its C(runtimes).
    type: path
    default: /etc/docker/daemon.json
  python:
    description: The interpreter that will create the venv (C(python_venv_python)).
    type: path
    default: /usr/bin/python3
  venv_path:
    description: The collection's venv (C(python_venv_path)).
    type: path
    default: /opt/dgx-station/venv
  provisioning:
    description:
      - What provisioning would install, for the notes (the playbook takes them from the roles' settings).
    type: dict
    default: {}
    suboptions:
      docker_packages:
        description: Packages the C(docker) role installs when no engine is present.
        type: list
        elements: str
      docker_source:
        description: Where they come from (C(docker_install_source)).
        type: str
      toolkit_packages:
        description: Packages of the C(container_toolkit) role.
        type: list
        elements: str
      venv_packages:
        description: Python packages of the C(python_venv) role.
        type: list
        elements: str
notes:
  - C(READY AFTER PROVISIONING) is the normal verdict of a fresh DGX OS 7 Station (no C(python3-venv), no venv).
  - Problems with a catalog id carry that entry's cause and fix; C(unsupported_os) and C(python_missing) are the
    preflight's own.
seealso:
  - module: dgx_station.inference.sglang_diagnose
  - module: dgx_station.inference.gpu_info
"""

EXAMPLES = r"""
- name: Is this host ready for a first deploy of Qwen3-8B?
  dgx_station.inference.station_preflight:
    model: Qwen/Qwen3-8B
    hf_cache_dir: /home/alice/.cache/huggingface/hub
  register: preflight

- name: Say so
  ansible.builtin.debug:
    msg: "{{ preflight.msg }}"
"""

RETURN = r"""
verdict:
  description: C(READY), C(READY AFTER PROVISIONING) or C(NOT READY).
  returned: always
  type: str
  sample: READY AFTER PROVISIONING
ready:
  description: False when a problem of severity error blocks a deploy (after provisioning).
  returned: always
  type: bool
problems:
  description: What must be fixed (errors) or looked at (warnings), each with C(id), C(severity), C(evidence), C(cause), C(fix).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "gpu_not_found", "severity": "error", "evidence": ["GPUs matching 'GB300': none (GPUs seen: 0: NVIDIA H200, GPU-...)"],
            "cause": "The host is not a DGX Station ...", "fix": "Run on a Station with a GB300, or set sglang_server_gpu_name_pattern ..."}]
notes:
  description: What provisioning would do, and what was found in place.
  returned: always
  type: list
  elements: str
lines:
  description: One line per problem (severity, C([id]), the evidence, then C(Fix) and the fix) and one per note (C(note) and the text).
  returned: always
  type: list
  elements: str
evidence:
  description: The raw evidence (C(host), C(docker), C(gpus), C(python), C(port), C(hf_cache), C(image), C(container), C(host_facts)).
  returned: always
  type: dict
msg:
  description: The verdict in one line with the problems' fixes.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dgx_station.inference.plugins.module_utils.station_doctor import Station, preflight


def main():
    module = AnsibleModule(
        argument_spec=dict(
            model=dict(type="str", default="Qwen/Qwen3-8B"),
            hf_cache_dir=dict(type="path", required=True),
            host_port=dict(type="int", default=30000),
            gpu_name_pattern=dict(type="str", default="GB300"),
            image=dict(type="str"),
            image_space_gb=dict(type="float", default=40),
            container_name=dict(type="str", default="sglang-server"),
            nvidia_smi_path=dict(type="path"),
            docker_bin=dict(type="path"),
            daemon_json_path=dict(type="path", default="/etc/docker/daemon.json"),
            python=dict(type="path", default="/usr/bin/python3"),
            venv_path=dict(type="path", default="/opt/dgx-station/venv"),
            provisioning=dict(type="dict", default={}, options=dict(
                docker_packages=dict(type="list", elements="str"),
                docker_source=dict(type="str"),
                toolkit_packages=dict(type="list", elements="str"),
                venv_packages=dict(type="list", elements="str"),
            )),
        ),
        supports_check_mode=True,
    )
    result = preflight(Station(module.run_command, module.get_bin_path), module.params)
    fixes = " ".join("[%s] %s" % (p["id"], p["fix"]) for p in result["problems"] if p["severity"] == "error")
    result["msg"] = result["verdict"] + (": " + fixes if fixes else "")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
