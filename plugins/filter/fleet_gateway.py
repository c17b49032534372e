# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_gateway
short_description: The gateway host's facts as the fleet report takes them
version_added: 0.2.0
description:
  - 'From C(sglang_gateway_deployed) and C(sglang_gateway_membership) of the gateway host: the C(gateway) input of
    M(dgx_station.inference.sglang_fleet_report).'
options:
  _input:
    description: The gateway host's variables (C(hostvars[name])).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The gateway as the fleet report sees it
  ansible.builtin.debug:
    msg: "{{ hostvars[groups['gateway'][0]] | dgx_station.inference.fleet_gateway }}"
"""

RETURN = r"""
_value:
  description: URL, version, policy, health window, Prometheus URL and workers of the gateway; none when the gateway was not deployed in this run.
  type: dict
"""

from ansible_collections.dgx_station.inference.plugins.module_utils.fleet_facts import fleet_gateway


class FilterModule(object):
    def filters(self):
        return {"fleet_gateway": fleet_gateway}
