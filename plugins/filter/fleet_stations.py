# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_stations
short_description: Each Station as the fleet report sees it
version_added: 0.2.0
description:
  - 'From C(sglang_server_deployed), C(sglang_validate_result), C(sglang_benchmark_result),
    C(sglang_rollout_result), C(sglang_server_enable_metrics) and the gateway host''s C(sglang_gateway_membership):
    the C(stations) input of M(dgx_station.inference.sglang_fleet_report).'
  - 'A Station without a deployed server, or not validated in this run, carries an C(error) with the phase.'
  - 'C(sglang_rollout_result), set by C(playbooks/rollout.yml), is passed through as C(rollout); it is null on a
    Station that no rollout of this run touched.'
options:
  _input:
    description: Station names (C(groups['stations'])).
    type: list
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  gateway_host:
    description: The gateway host's name, empty without a gateway.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The fleet report's view of the Stations
  ansible.builtin.debug:
    msg: "{{ groups['stations'] | dgx_station.inference.fleet_stations(hostvars, groups['gateway'][0]) }}"
"""

RETURN = r"""
_value:
  description: Station name to its report input.
  type: dict
"""

from ansible_collections.dgx_station.inference.plugins.module_utils.fleet_facts import fleet_stations


class FilterModule(object):
    def filters(self):
        return {"fleet_stations": fleet_stations}
