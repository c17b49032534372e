# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_secrets
short_description: Every API key set for some hosts
version_added: 0.2.0
description:
  - 'The non-empty C(sglang_server_api_key) and C(sglang_gateway_api_key) of the hosts, so that reports can redact
    them wherever they appear.'
options:
  _input:
    description: Host names.
    type: list
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Keys to redact from the fleet report
  ansible.builtin.set_fact:
    fleet_keys: "{{ groups['all'] | dgx_station.inference.fleet_secrets(hostvars) }}"
"""

RETURN = r"""
_value:
  description: The keys, sorted, without duplicates.
  type: list
"""

from ansible_collections.dgx_station.inference.plugins.module_utils.fleet_facts import fleet_secrets


class FilterModule(object):
    def filters(self):
        return {"fleet_secrets": fleet_secrets}
