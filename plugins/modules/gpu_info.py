#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_info
short_description: Find the GB300 (or another GPU by name) on a DGX Station and how to pass it to Docker
version_added: 0.1.0
description:
  - Runs C(nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,memory.total,compute_cap --format=csv,noheader,nounits)
    and returns every GPU of the host.
  - Selects the GPU whose name matches O(name_pattern) (by name, never by position; on a DGX Station the
    GB300 can be at index 0 or 1 next to an RTX PRO workstation GPU).
  - Returns the values to hand to C(community.docker.docker_container) (RV(device_ids), RV(device_requests))
    or to C(docker run --gpus) (RV(docker_gpus)).
  - Fails with the list of GPUs it saw when nothing or more than one GPU matches, when C(nvidia-smi) is
    missing, or when it reports an error.
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  name_pattern:
    description:
      - Python regular expression searched (C(re.search), case-sensitive) in each GPU's name.
    type: str
    default: GB300
  select_by:
    description:
      - How RV(device_ids) and RV(docker_gpus) identify the selected GPU.
      - V(uuid) (default) is stable across reboots, driver updates and a workstation GPU being added or
        removed; indexes follow enumeration order and shift when another GPU is present. Docker and
        C(community.docker.docker_container) C(device_requests[].device_ids) accept both.
      - V(index) gives the C(device=N) form the runbook uses.
    type: str
    choices: [index, uuid]
    default: uuid
  allow_multiple:
    description:
      - Accept several matching GPUs and select all of them.
      - When false, more than one match is an error (the pattern is ambiguous).
    type: bool
    default: false
  use_all_gpus:
    description:
      - Return V(all) in RV(docker_gpus) (and a C(count=-1) request in RV(device_requests)) instead of the
        selected devices.
      - Refused (the module fails) when a GPU that was not selected shares the host, because a GB300 and an
        RTX PRO cannot share one CUDA context. See O(allow_all_with_other_gpus).
    type: bool
    default: false
  allow_all_with_other_gpus:
    description:
      - With O(use_all_gpus=true), return V(all) even when other GPUs share the host. Only for hosts whose
        GPUs are known to work together.
    type: bool
    default: false
  nvidia_smi_path:
    description:
      - Path of the C(nvidia-smi) binary.
      - Default is C(nvidia-smi) found on E(PATH) (and the usual system directories).
    type: path
extends_documentation_fragment:
  - dgx_station.inference.attributes.FACTS
notes:
  - Read-only; C(changed) is always false.
seealso:
  - module: community.docker.docker_container
"""

EXAMPLES = r"""
- name: Find the GB300
  dgx_station.inference.gpu_info:
  register: gpu

- name: Run SGLang on it (UUID, stable even with a workstation GPU present)
  community.docker.docker_container:
    name: sglang-server
    image: lmsysorg/sglang:latest-cu130
    device_requests: "{{ gpu.device_requests }}"

- name: Use --gpus all when the GB300 is the only GPU (fails on a mixed Station)
  dgx_station.inference.gpu_info:
    use_all_gpus: true
  register: gpu_all

- name: Index form for docker run --gpus (runbook style)
  dgx_station.inference.gpu_info:
    select_by: index
  register: gpu_idx

- name: Print the docker CLI argument
  ansible.builtin.debug:
    msg: "docker run --gpus '{{ gpu_idx.docker_gpus }}' ..."

- name: Select both H100 of a test host
  dgx_station.inference.gpu_info:
    name_pattern: H100
    allow_multiple: true
"""

RETURN = r"""
gpus:
  description: Every GPU nvidia-smi listed, in its order.
  returned: success
  type: list
  elements: dict
  contains:
    index:
      description: nvidia-smi index.
      type: int
      sample: 1
    name:
      description: Product name.
      type: str
      sample: NVIDIA GB300
    uuid:
      description: GPU UUID.
      type: str
      sample: GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e
    pci_bus_id:
      description: PCI bus id.
      type: str
      sample: "00000009:01:00.0"
    memory_total_mib:
      description: Total memory in MiB.
      type: int
      sample: 285696
    compute_cap:
      description: CUDA compute capability.
      type: str
      sample: "10.3"
selected:
  description:
    - The selected GPU (same keys as an element of RV(gpus)).
    - With O(allow_multiple=true) and several matches, the first of them; all are in RV(selected_gpus).
  returned: success
  type: dict
  sample: {index: 1, name: NVIDIA GB300, uuid: GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e,
           pci_bus_id: "00000009:01:00.0", memory_total_mib: 285696, compute_cap: "10.3"}
selected_gpus:
  description: Every selected GPU.
  returned: success
  type: list
  elements: dict
device_ids:
  description: Device ids of the selected GPUs (indexes or UUIDs as strings, per O(select_by)).
  returned: success
  type: list
  elements: str
  sample: [GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e]
device_requests:
  description: Ready for the C(device_requests) option of C(community.docker.docker_container).
  returned: success
  type: list
  elements: dict
  sample: [{driver: nvidia, count: 0, device_ids: [GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e], capabilities: [[gpu]]}]
docker_gpus:
  description:
    - Value for C(docker run --gpus).
    - C(device=<id>) for one GPU, C("device=<id>,<id>") (with the double quotes the docker CLI needs) for
      several, or V(all) with O(use_all_gpus=true).
  returned: success
  type: str
  sample: device=GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e
selection_by:
  description: The identifier used in RV(device_ids) and RV(docker_gpus) (O(select_by)).
  returned: success
  type: str
  sample: uuid
only_gpu:
  description: True when the selected GPUs are all the GPUs of the host.
  returned: success
  type: bool
  sample: false
nvidia_smi_rc:
  description: Exit code of nvidia-smi (also returned on failure).
  returned: when nvidia-smi ran
  type: int
  sample: 0
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dgx_station.inference.plugins.module_utils.nvidia_smi import (
    QUERY_ARGS,
    RC_MESSAGES,
    GPUSelectionError,
    describe,
    device_ids,
    docker_gpus_value,
    parse_query_gpu,
    select_gpus,
)


def run_nvidia_smi(module):
    """stdout of the query, or fail_json with what went wrong."""
    path = module.params["nvidia_smi_path"]
    if path:
        binary = path
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            module.fail_json(
                msg="nvidia_smi_path %s does not exist or is not executable: the NVIDIA driver is not installed "
                    "there, or the path is wrong." % binary,
                gpus=[])
    else:
        binary = module.get_bin_path("nvidia-smi", opt_dirs=["/usr/bin", "/usr/local/bin", "/usr/local/nvidia/bin"])
        if not binary:
            module.fail_json(
                msg="nvidia-smi was not found on PATH: the NVIDIA driver is not installed, or nvidia-smi is not on "
                    "PATH (set nvidia_smi_path). Install the driver (DGX OS ships it) and retry.",
                gpus=[])
    try:
        rc, out, err = module.run_command([binary] + QUERY_ARGS)
    except OSError as exc:
        module.fail_json(
            msg="Cannot run %s: %s. The NVIDIA driver is not installed or nvidia_smi_path is wrong." % (binary, exc),
            gpus=[])
    if rc == 127 or (rc != 0 and "No such file" in (err or "")):
        module.fail_json(
            msg="%s could not be executed (rc %d): the NVIDIA driver is not installed or nvidia-smi is not on PATH. "
                "stderr: %s" % (binary, rc, (err or "").strip()),
            gpus=[], nvidia_smi_rc=rc)
    if rc != 0:
        # nvidia-smi prints most errors on stdout.
        text = "; ".join(x.strip() for x in (err, out) if x and x.strip()) or "(no output)"
        meaning = RC_MESSAGES.get(rc, "nvidia-smi reported an error")
        module.fail_json(
            msg="nvidia-smi failed (rc %d: %s). GPUs seen (index: name): no GPU. Output: %s" % (rc, meaning, text),
            gpus=[], nvidia_smi_rc=rc, stdout=out, stderr=err)
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name_pattern=dict(type="str", default="GB300"),
            select_by=dict(type="str", choices=["index", "uuid"], default="uuid"),
            allow_multiple=dict(type="bool", default=False),
            use_all_gpus=dict(type="bool", default=False),
            allow_all_with_other_gpus=dict(type="bool", default=False),
            nvidia_smi_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    out = run_nvidia_smi(module)
    try:
        gpus = parse_query_gpu(out)
    except ValueError as exc:
        module.fail_json(msg="Cannot parse nvidia-smi output: %s" % exc, stdout=out, gpus=[], nvidia_smi_rc=0)

    try:
        selected = select_gpus(gpus, params["name_pattern"], params["allow_multiple"])
        docker_gpus = docker_gpus_value(
            gpus, selected, params["select_by"], params["use_all_gpus"], params["allow_all_with_other_gpus"])
    except GPUSelectionError as exc:
        module.fail_json(msg=str(exc), gpus=gpus, nvidia_smi_rc=0)

    ids = device_ids(selected, params["select_by"])
    if docker_gpus == "all":
        request = dict(driver="nvidia", count=-1, capabilities=[["gpu"]])
    else:
        # Docker records a device-id request with Count 0; saying so keeps docker_container
        # from seeing a difference (and recreating the container) on every run.
        request = dict(driver="nvidia", count=0, device_ids=ids, capabilities=[["gpu"]])
    module.exit_json(
        changed=False,
        gpus=gpus,
        selected=selected[0],
        selected_gpus=selected,
        device_ids=ids,
        device_requests=[request],
        docker_gpus=docker_gpus,
        selection_by=params["select_by"],
        only_gpu=len(selected) == len(gpus),
        nvidia_smi_rc=0,
        msg="Selected %s by %s (GPUs seen: %s)" % (describe(selected), params["select_by"], describe(gpus)),
    )


if __name__ == "__main__":
    main()
