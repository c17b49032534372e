#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sglang_diagnose
short_description: Read a DGX Station's evidence and name the failure catalog entries that explain it
version_added: 0.3.0
description:
  - The doctor of the collection. Reads, and changes nothing, the evidence an operator would collect by hand on a
    Station, then matches it against the collection's failure catalog (the runbook's troubleshooting tables and the
    states the collection knows) and returns the entries that apply, most confident first, each with its id,
    the evidence lines that matched, the cause and the fix.
  - 'Evidence read: the server container (C(docker inspect): state, exit code, restart count, error, command,
    capabilities, GPU requests, published ports, Hugging Face cache mount) and the last O(log_scan_lines) lines of
    its log; C(/health), and when it answers 200 C(/server_info), C(/v1/models) and (O(probe_inference)) two
    inference requests of a few tokens; every GPU with its MIG mode and the driver version (C(nvidia-smi), so a
    workstation GPU next to the GB300 and MIG devices are seen); the docker group membership of O(docker_users)
    (C(id -nG)); the runtimes Docker lists and those of C(daemon.json), and whether C(nvidia-container-runtime) is
    installed; who holds the server''s host port (C(/proc)); the image''s tags, architecture and age (C(docker
    image inspect)); the free space under the Hugging Face cache and how much of the model is there; whether the
    system Python can create a venv.'
  - A healthy Station yields no finding (RV(findings) is empty and RV(healthy) true).
  - Uses the docker CLI, read-only (C(info), C(inspect), C(logs), C(image inspect)); it runs as the user Ansible
    becomes (root with C(become)). A CLI that answers C(permission denied) is itself evidence
    (C(docker_socket_permission)).
author:
  - DGX Station inference maintainers (@dgx-station)
extends_documentation_fragment:
  - dgx_station.inference.connection
  - dgx_station.inference.attributes.READ_ONLY
options:
  container_name:
    description:
      - Name (or id) of the SGLang server container (the C(sglang_server) role's C(sglang_server_name)).
    type: str
    default: sglang-server
  log_lines:
    description:
      - How many lines of the container log to return in RV(log_tail).
    type: int
    default: 50
  log_scan_lines:
    description:
      - How many lines at the end of the container log are searched for known failures.
    type: int
    default: 5000
  docker_users:
    description:
      - Users who should be able to run docker (the C(docker) role's C(docker_users)); each must be in the C(docker)
        group, else C(docker_socket_permission) is reported.
    type: list
    elements: str
    default: []
  host_port:
    description:
      - Host port of the server, checked for another holder.
      - Default is the container's published port, else the port of O(base_url).
    type: int
  hf_cache_dir:
    description:
      - The Hugging Face cache on the Station whose free space and model files are read.
      - Default is the directory the container mounts at C(/root/.cache/huggingface/hub).
    type: path
  image:
    description:
      - Image to inspect when there is no container (the C(sglang_server) role's C(sglang_server_image)).
    type: str
  gpu_name_pattern:
    description:
      - Python regular expression for the GPU SGLang should get (the C(sglang_server) role's
        C(sglang_server_gpu_name_pattern)); the other GPUs count as workstation GPUs.
    type: str
    default: GB300
  nvidia_smi_path:
    description:
      - Path of C(nvidia-smi); default is the one on E(PATH).
    type: path
  docker_bin:
    description:
      - The docker CLI; default is the one on E(PATH).
    type: path
  daemon_json_path:
    description:
      - Docker's daemon configuration, read for its C(runtimes).
    type: path
    default: /etc/docker/daemon.json
  python:
    description:
      - The system interpreter the C(python_venv) role creates the venv with (checked for C(ensurepip)).
    type: path
    default: /usr/bin/python3
  probe_inference:
    description:
      - When the server answers C(/health) 200, send one chat completion of one token and one C(json_schema)
        request of a few tokens, to see errors that only inference shows (C(cuda_wrong_image),
        C(json_schema_unsupported)). They change nothing on the Station but do use the GPU for a moment.
    type: bool
    default: true
  benchmark_report:
    description:
      - A benchmark report of this Station (the JSON the C(sglang_benchmark) role writes, parsed), read for
        C(later_turn_latency) and C(cache_report_missing). Omitted, benchmark entries are not judged.
    type: dict
  benchmark_output:
    description:
      - Terminal output of a benchmark run (for example the runbook's C(benchmark_multiturn.py)), searched like log text.
    type: str
  gateway:
    description:
      - What the gateway says about this Station (from M(dgx_station.inference.sglang_gateway_workers) with
        C(state=query) on the gateway host), for C(gateway_worker_unhealthy).
    type: dict
    suboptions:
      station_url:
        description: The URL the gateway reaches this Station at (filter C(dgx_station.inference.station_url)).
        type: str
        required: true
      gateway_url:
        description: The gateway, for the evidence line.
        type: str
      healthy_urls:
        description: The gateway's healthy members (C(healthy_urls) of M(dgx_station.inference.sglang_gateway_workers)).
        type: list
        elements: str
        default: []
      unhealthy_urls:
        description: Its other members.
        type: list
        elements: str
        default: []
notes:
  - O(timeout) bounds each request; C(/health) waits at most 10 seconds.
  - Credentials (O(api_key), C(--api-key) in the container command, C(api_key) of C(/server_info)) are replaced by
    C(<redacted>) in everything returned.
  - M(dgx_station.inference.station_preflight) answers the question before a first deploy; this module after one.
seealso:
  - module: dgx_station.inference.sglang_wait
  - module: dgx_station.inference.gpu_info
  - module: dgx_station.inference.station_preflight
"""

EXAMPLES = r"""
- name: Diagnose the Station's SGLang server
  dgx_station.inference.sglang_diagnose:
    container_name: sglang-server
    docker_users: [alice]
  register: doctor

- name: One line per finding
  ansible.builtin.debug:
    msg: "{{ doctor.lines }}"

- name: Only read (no inference request), with the gateway's view of this Station
  dgx_station.inference.sglang_diagnose:
    probe_inference: false
    gateway:
      station_url: http://10.0.0.11:30000
      healthy_urls: "{{ hostvars['gw-01'].workers.healthy_urls }}"
      unhealthy_urls: "{{ hostvars['gw-01'].workers.unhealthy_urls }}"
"""

RETURN = r"""
healthy:
  description: True when there is no finding.
  returned: always
  type: bool
  sample: false
findings:
  description:
    - The catalog entries the evidence matches, most confident first (then errors before warnings and notes).
      Superseded entries are left out, and so are generic ones (C(container_exited), C(server_not_deployed))
      when a specific error explains the Station.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The catalog id (stable; see the failure catalog).
      type: str
      sample: trtllm_mha_sm103
    title:
      description: One line for humans.
      type: str
    severity:
      description: C(error), C(warning) or C(info).
      type: str
    confidence:
      description: C(high), C(medium) or C(low).
      type: str
    matched_by:
      description: What matched, among C(log), C(http), C(host).
      type: list
      elements: str
    evidence:
      description: The log lines, HTTP answers and host observations that matched.
      type: list
      elements: str
      sample: ["RuntimeError: Error in function 'buildNdTmaDescriptor' at ...: Check failed: false"]
    symptom:
      description: What is seen, in words.
      type: str
    cause:
      description: Why it happens.
      type: str
    fix:
      description: What to do, naming the collection's option where there is one.
      type: str
      sample: "Pass `--attention-backend flashinfer` (sglang_server_attention_backend: flashinfer, the default)."
    stage:
      description: Where in a deployment it shows.
      type: str
    where:
      description: Where to look.
      type: str
lines:
  description: One readable line per finding - C([id] title (severity, confidence)), the cause, then C(Fix) and the fix.
  returned: always
  type: list
  elements: str
evidence:
  description:
    - The raw evidence, one key per subject - C(host), C(docker), C(container), C(image), C(gpus), C(users),
      C(port), C(hf_cache), C(python), C(server) - plus C(host_facts) and C(host_evidence), what the catalog
      was matched on.
  returned: always
  type: dict
log_tail:
  description: The last O(log_lines) lines of the container log, credentials redacted.
  returned: always
  type: list
  elements: str
msg:
  description: A summary.
  returned: always
  type: str
  sample: "1 finding: trtllm_mha_sm103"
"""

from ansible_collections.dgx_station.inference.plugins.module_utils.failure_catalog import one_line
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_module import SGLangModule
from ansible_collections.dgx_station.inference.plugins.module_utils.station_doctor import Station, doctor


def main():
    module = SGLangModule(requires_client=False, argument_spec=dict(
        container_name=dict(type="str", default="sglang-server"),
        log_lines=dict(type="int", default=50),
        log_scan_lines=dict(type="int", default=5000),
        docker_users=dict(type="list", elements="str", default=[]),
        host_port=dict(type="int"),
        hf_cache_dir=dict(type="path"),
        image=dict(type="str"),
        gpu_name_pattern=dict(type="str", default="GB300"),
        nvidia_smi_path=dict(type="path"),
        docker_bin=dict(type="path"),
        daemon_json_path=dict(type="path", default="/etc/docker/daemon.json"),
        python=dict(type="path", default="/usr/bin/python3"),
        probe_inference=dict(type="bool", default=True),
        benchmark_report=dict(type="dict"),
        benchmark_output=dict(type="str"),
        gateway=dict(type="dict", options=dict(
            station_url=dict(type="str", required=True),
            gateway_url=dict(type="str"),
            healthy_urls=dict(type="list", elements="str", default=[]),
            unhealthy_urls=dict(type="list", elements="str", default=[]),
        )),
    ))
    station = Station(module.module.run_command, module.module.get_bin_path)
    findings, evidence, log_tail = doctor(station, module.params, client=module.client)
    names = ", ".join(f["id"] for f in findings)
    module.exit_json(
        healthy=not findings, findings=findings, lines=[one_line(f) for f in findings],
        evidence=evidence, log_tail=log_tail,
        msg="%d finding(s): %s" % (len(findings), names) if findings else "Healthy: no finding.")


if __name__ == "__main__":
    main()
