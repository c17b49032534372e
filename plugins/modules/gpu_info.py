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
  - Runs C(nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,memory.total,compute_cap,mig.mode.current,mig.mode.pending
    --format=csv,noheader,nounits) and returns every GPU of the host with its MIG mode. C(nvidia-smi -L) runs as well
    only when a GPU is in MIG mode (to list its MIG devices), or when a MIG device is asked for and the MIG mode is
    unknown.
  - An old driver that does not know the MIG fields is asked again without them (the MIG mode is then V(unknown) and
    a warning says so) instead of failing.
  - Selects the GPU whose name matches O(name_pattern) (by name, never by position; on a DGX Station the
    GB300 can be at index 0 or 1 next to an RTX PRO workstation GPU). With O(device_ids), checks the listed
    devices instead.
  - Refuses a GPU in MIG mode (SGLang needs the whole GPU); MIG devices can be listed in O(device_ids).
  - Returns the values to hand to C(community.docker.docker_container) (RV(device_ids), RV(device_requests))
    or to C(docker run --gpus) (RV(docker_gpus)).
  - Fails with the list of GPUs it saw (index, name, UUID) when nothing or more than one GPU matches, when an id of
    O(device_ids) does not exist or names the wrong GPU, when C(nvidia-smi) is missing, or when it reports an error.
    The messages name the C(sglang_server) role option next to the module option, for example
    C(sglang_server_gpu_device_ids / device_ids).
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  name_pattern:
    description:
      - Python regular expression searched (C(re.search), case-sensitive) in each GPU's name.
      - With O(device_ids), every listed GPU (the parent GPU of a MIG device) must match it, unless
        O(allow_any_name=true).
    type: str
    default: GB300
  device_ids:
    description:
      - Explicit devices instead of the selection by name; each is a GPU index (V(1)), a GPU UUID (V(GPU-...)) or a
        MIG device UUID (V(MIG-...), as C(nvidia-smi -L) lists them under their GPU).
      - Each must exist on the host, be listed once, and its GPU must match O(name_pattern) (see O(allow_any_name)).
        A whole GPU in MIG mode is refused; list its MIG devices instead.
      - RV(device_ids) and RV(docker_gpus) carry these ids as given (indexes without leading zeros); O(select_by)
        does not apply. Cannot be combined with O(use_all_gpus=true).
      - The C(sglang_server) role option is C(sglang_server_gpu_device_ids).
    type: list
    elements: str
    default: []
  allow_any_name:
    description:
      - With O(device_ids), accept GPUs whose name does not match O(name_pattern).
    type: bool
    default: false
  select_by:
    description:
      - How RV(device_ids) and RV(docker_gpus) identify the selected GPU.
      - V(uuid) (default) is stable across reboots, driver updates and a workstation GPU being added or
        removed; indexes follow enumeration order and shift when another GPU is present. Docker and
        C(community.docker.docker_container) C(device_requests[].device_ids) accept both.
      - V(index) gives the C(device=N) form the runbook uses.
      - Ignored with O(device_ids).
    type: str
    choices: [index, uuid]
    default: uuid
  allow_multiple:
    description:
      - Accept several matching GPUs and select all of them.
      - When false, more than one match is an error (the pattern is ambiguous); the message lists the matches and
        how to choose one.
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
  - To leave MIG mode, destroy the MIG instances of the GPU (C(nvidia-smi mig -i N -dci), C(nvidia-smi mig -i N -dgi)),
    run C(nvidia-smi -i N -mig 0) as root, and reset the GPU (C(nvidia-smi -i N -r)) or reboot if the mode stays
    pending.
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

- name: One of two GB300s, by UUID (checked to exist and to be a GB300)
  dgx_station.inference.gpu_info:
    device_ids: [GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e]
  register: gpu

- name: A MIG device of the GB300 (UUID from nvidia-smi -L)
  dgx_station.inference.gpu_info:
    device_ids: [MIG-1d5e8f2a-7b3c-5e4d-9a6f-2c8b0d4e6f13]
  register: gpu_mig

- name: The workstation GPU, whatever its name
  dgx_station.inference.gpu_info:
    device_ids: ["0"]
    allow_any_name: true
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
    mig_mode:
      description:
        - Current MIG mode (C(mig.mode.current)).
        - V(enabled), V(disabled), V(unsupported) (the GPU has no MIG; nvidia-smi prints C([N/A])), or V(unknown)
          (the driver does not report it).
      type: str
      sample: disabled
    mig_mode_pending:
      description: MIG mode after the next GPU reset or reboot (C(mig.mode.pending)); same values as RV(gpus[].mig_mode).
      type: str
      sample: disabled
    mig_devices:
      description: The MIG devices of the GPU (from C(nvidia-smi -L)); empty unless RV(gpus[].mig_mode=enabled).
      type: list
      elements: dict
      contains:
        uuid:
          description: MIG device UUID, usable in O(device_ids) and Docker device ids.
          type: str
          sample: MIG-1d5e8f2a-7b3c-5e4d-9a6f-2c8b0d4e6f13
        profile:
          description: MIG profile (compute slices and memory).
          type: str
          sample: 3g.135gb
        device_index:
          description: Number of the MIG device under its GPU (C(Device N) in C(nvidia-smi -L)).
          type: int
          sample: 0
        parent_index:
          description: Index of the GPU the MIG device belongs to.
          type: int
          sample: 1
        parent_uuid:
          description: UUID of the GPU the MIG device belongs to.
          type: str
          sample: GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e
selected:
  description:
    - The selected GPU (same keys as an element of RV(gpus)).
    - With O(allow_multiple=true) and several matches, the first of them; all are in RV(selected_gpus).
    - With O(device_ids), the GPU of the first id; for a MIG device, its parent GPU plus C(mig_device) (the MIG
      device, keys as in RV(gpus[].mig_devices)).
  returned: success
  type: dict
  sample: {index: 1, name: NVIDIA GB300, uuid: GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e,
           pci_bus_id: "00000009:01:00.0", memory_total_mib: 285696, compute_cap: "10.3",
           mig_mode: disabled, mig_mode_pending: disabled, mig_devices: []}
selected_gpus:
  description: Every selected GPU; with O(device_ids), one entry per id, in their order (see RV(selected)).
  returned: success
  type: list
  elements: dict
device_ids:
  description:
    - Device ids of the selected GPUs (indexes or UUIDs as strings, per O(select_by)).
    - With O(device_ids), the ids given (as strings, indexes without leading zeros).
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
  description:
    - The identifier used in RV(device_ids) and RV(docker_gpus) (O(select_by)), or V(device_ids) when O(device_ids)
      was given.
  returned: success
  type: str
  sample: uuid
only_gpu:
  description: True when the selected GPUs are all the GPUs of the host (whole GPUs, no MIG device).
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
    BASE_FIELDS,
    BASE_QUERY_ARGS,
    LIST_ARGS,
    MIG_ENABLED,
    QUERY_ARGS,
    QUERY_FIELDS,
    RC_MESSAGES,
    GPUSelectionError,
    attach_mig_devices,
    describe,
    device_ids,
    docker_device_value,
    docker_gpus_value,
    needs_mig_listing,
    parse_list_gpus,
    parse_query_gpu,
    resolve_device_ids,
    role_option,
    select_gpus,
    unknown_query_fields,
)


def find_nvidia_smi(module):
    """Path of nvidia-smi, or fail_json saying why there is none."""
    path = module.params["nvidia_smi_path"]
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            module.fail_json(
                msg="nvidia_smi_path %s does not exist or is not executable: the NVIDIA driver is not installed "
                    "there, or the path is wrong." % path,
                gpus=[])
        return path
    binary = module.get_bin_path("nvidia-smi", opt_dirs=["/usr/bin", "/usr/local/bin", "/usr/local/nvidia/bin"])
    if not binary:
        module.fail_json(
            msg="nvidia-smi was not found on PATH: the NVIDIA driver is not installed, or nvidia-smi is not on "
                "PATH (set nvidia_smi_path). Install the driver (DGX OS ships it) and retry.",
            gpus=[])
    return binary


def run_nvidia_smi(module, binary, args):
    """(rc, stdout, stderr) of one nvidia-smi call; fail_json when it cannot be executed."""
    try:
        rc, out, err = module.run_command([binary] + args)
    except OSError as exc:
        module.fail_json(
            msg="Cannot run %s: %s. The NVIDIA driver is not installed or nvidia_smi_path is wrong." % (binary, exc),
            gpus=[])
    if rc == 127 or (rc != 0 and "No such file" in (err or "")):
        module.fail_json(
            msg="%s could not be executed (rc %d): the NVIDIA driver is not installed or nvidia-smi is not on PATH. "
                "stderr: %s" % (binary, rc, (err or "").strip()),
            gpus=[], nvidia_smi_rc=rc)
    return rc, out, err


def fail_on_error(module, rc, out, err, gpus=None, what="nvidia-smi"):
    if rc == 0:
        return
    # nvidia-smi prints most errors on stdout.
    text = "; ".join(x.strip() for x in (err, out) if x and x.strip()) or "(no output)"
    meaning = RC_MESSAGES.get(rc, "nvidia-smi reported an error")
    module.fail_json(
        msg="%s failed (rc %d: %s). GPUs seen (index: name): %s. Output: %s" % (what, rc, meaning, describe(gpus), text),
        gpus=gpus or [], nvidia_smi_rc=rc, stdout=out, stderr=err)


def query_gpus(module, binary):
    """Every GPU with its MIG mode; one call, two when the driver does not know the MIG fields."""
    rc, out, err = run_nvidia_smi(module, binary, QUERY_ARGS)
    fields = QUERY_FIELDS
    rejected = unknown_query_fields(out) + unknown_query_fields(err) if rc == 2 else []
    if rejected:
        # A driver older than MIG: ask again without the MIG fields rather than fail.
        module.warn("nvidia-smi does not know the field(s) %s (a driver without MIG support): the MIG mode of the "
                    "GPUs is unknown and was not checked." % ", ".join(sorted(set(rejected))))
        rc, out, err = run_nvidia_smi(module, binary, BASE_QUERY_ARGS)
        fields = BASE_FIELDS
    fail_on_error(module, rc, out, err)
    try:
        return parse_query_gpu(out, fields)
    except ValueError as exc:
        module.fail_json(msg="Cannot parse nvidia-smi output: %s" % exc, stdout=out, gpus=[], nvidia_smi_rc=0)


def list_mig_devices(module, binary, gpus):
    """Fill each GPU's mig_devices from `nvidia-smi -L`."""
    rc, out, err = run_nvidia_smi(module, binary, LIST_ARGS)
    fail_on_error(module, rc, out, err, gpus=gpus, what="nvidia-smi -L")
    try:
        attach_mig_devices(gpus, parse_list_gpus(out))
    except ValueError as exc:
        module.fail_json(msg="Cannot parse nvidia-smi -L output: %s" % exc, stdout=out, gpus=gpus, nvidia_smi_rc=0)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name_pattern=dict(type="str", default="GB300"),
            device_ids=dict(type="list", elements="str", default=[]),
            allow_any_name=dict(type="bool", default=False),
            select_by=dict(type="str", choices=["index", "uuid"], default="uuid"),
            allow_multiple=dict(type="bool", default=False),
            use_all_gpus=dict(type="bool", default=False),
            allow_all_with_other_gpus=dict(type="bool", default=False),
            nvidia_smi_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    requested = params["device_ids"] or []
    if requested and params["use_all_gpus"]:
        module.fail_json(
            msg="%s=true and %s exclude each other: list the GPUs in device_ids, or empty it to request all GPUs."
                % (role_option("use_all_gpus"), role_option("device_ids")),
            gpus=[])
    binary = find_nvidia_smi(module)
    gpus = query_gpus(module, binary)
    if needs_mig_listing(gpus, requested):
        list_mig_devices(module, binary, gpus)

    try:
        if requested:
            ids, selected = resolve_device_ids(gpus, requested, params["name_pattern"], params["allow_any_name"])
            docker_gpus = docker_device_value(ids)
            selection_by = "device_ids"
        else:
            selected = select_gpus(gpus, params["name_pattern"], params["allow_multiple"])
            docker_gpus = docker_gpus_value(
                gpus, selected, params["select_by"], params["use_all_gpus"], params["allow_all_with_other_gpus"])
            ids = device_ids(selected, params["select_by"])
            selection_by = params["select_by"]
    except GPUSelectionError as exc:
        module.fail_json(msg=str(exc), gpus=gpus, nvidia_smi_rc=0)

    for gpu in selected:
        if gpu["mig_mode"] != MIG_ENABLED and gpu.get("mig_mode_pending") == MIG_ENABLED:
            module.warn("GPU %s (%s) has MIG mode pending: after the next GPU reset or reboot it is in MIG mode and "
                        "no longer usable as a whole GPU." % (gpu["index"], gpu["name"]))

    if docker_gpus == "all":
        request = dict(driver="nvidia", count=-1, capabilities=[["gpu"]])
    else:
        # Docker records a device-id request with Count 0; saying so keeps docker_container
        # from seeing a difference (and recreating the container) on every run.
        request = dict(driver="nvidia", count=0, device_ids=ids, capabilities=[["gpu"]])
    whole_gpus = set(g["uuid"] for g in selected if not g.get("mig_device"))
    module.exit_json(
        changed=False,
        gpus=gpus,
        selected=selected[0],
        selected_gpus=selected,
        device_ids=ids,
        device_requests=[request],
        docker_gpus=docker_gpus,
        selection_by=selection_by,
        only_gpu=len(whole_gpus) == len(selected) and whole_gpus == set(g["uuid"] for g in gpus),
        nvidia_smi_rc=0,
        msg="Selected %s by %s (GPUs seen: %s)" % (describe(selected), selection_by, describe(gpus)),
    )


if __name__ == "__main__":
    main()
