#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: check_settings
short_description: Refuse malformed role options before anything on a Station changes
version_added: 0.2.0
description:
  - Checks the shape and meaning of options that an argument spec cannot check by type alone (image
    references, container names, capabilities, absolute paths, ulimits, environment keys, ports, URLs,
    user names, package names, SGLang flags, GPU ids, ...), and fails with one sentence per refused
    option that names the option, its value and the fix.
  - Every refused option is reported at once, so one run shows every mistake.
  - Runs on the controller (an action plugin); the host is neither contacted nor changed. The roles of this
    collection call it first, before an image is staged or a container is touched.
  - The checks live in C(plugins/module_utils/settings_rules.py).
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  rules:
    description:
      - Option name to rule. A rule is a check name (for example V(image_reference)) or a dict with key
        C(check) and the check's parameters; C(optional=true) lets an empty value pass, C(secret=true)
        keeps the value out of the message.
      - 'Checks: V(absolute_path) (C(bind_mount)), V(apt_source), V(benchmark_runs), V(capabilities), V(command),
        V(container_name), V(deb_packages), V(dict) (C(keys_allowed)), V(env) (C(forbid): key to fix),
        V(file_name), V(gpu_ids), V(host_address), V(hostnames), V(image_reference), V(ipc_mode), V(model),
        V(number) (C(integer), C(min), C(max), C(above), C(below)), V(pip_requirements), V(platform),
        V(port), V(python_modules), V(regex), V(signing_key), V(sglang_args) (C(owned): flag to option;
        C(known_flags_text): a --help text the flags must be in, with C(help_command), C(image) and C(kept) for
        the message), V(string)
        (C(no_whitespace), C(forbid_chars)), V(ulimit), V(unix_name), V(unix_names) (C(not_root)),
        V(url) (C(schemes)), V(urls), V(words).'
    type: dict
    required: true
  values:
    description:
      - Option name to value. Default is the task's variables of the same names, rendered.
    type: dict
attributes:
  check_mode:
    support: full
    description: Nothing changes, so it runs unchanged in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
notes:
  - C(changed) is always false.
"""

EXAMPLES = r"""
- name: Check the server options before anything changes
  dgx_station.inference.check_settings:
    rules:
      sglang_server_image: image_reference
      sglang_server_name: container_name
      sglang_server_hf_cache_dir: {check: absolute_path, bind_mount: true}
      sglang_server_ulimit_memlock: ulimit
      sglang_server_env: {check: env, forbid: {HF_TOKEN: use sglang_server_hf_token}}
"""

RETURN = r"""
checked:
  description: The options that were checked.
  returned: always
  type: list
  elements: str
  sample: [sglang_server_image, sglang_server_name]
errors:
  description: One sentence per refused option (option, value, problem, fix); empty when all passed.
  returned: always
  type: list
  elements: str
  sample: ["sglang_server_name='sglang server' is not a Docker container name. Fix: use letters, digits, ..."]
"""
