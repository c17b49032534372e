# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollout_halted
short_description: Why a Station must not be touched because an earlier rollout batch failed
version_added: 0.3.0
description:
  - Empty when the Station may go on; otherwise the reason, for example the canary batch failed.
  - A batch stops the rollout when the share of its Stations that failed (rolled back or failed) is above
    O(max_fail_percentage) (0 stops at the first failure), or when one of its Stations was itself not reached.
options:
  _input:
    description: The plan's batches (C(rollout_plan)'s RV(batches)).
    type: list
    elements: list
    required: true
  outcomes:
    description: Station name to its rollout outcome in this run (C(sglang_rollout_result.outcome)).
    type: dict
    required: true
  host:
    description: The Station asking.
    type: str
    required: true
  max_fail_percentage:
    description: C(sglang_rollout_max_fail_percentage).
    type: float
    default: 0
"""

EXAMPLES = r"""
- name: Stop before this Station when an earlier batch failed
  ansible.builtin.meta: end_host
  when: plan.batches | dgx_station.inference.rollout_halted(outcomes, inventory_hostname) | length > 0
"""

RETURN = r"""
_value:
  description: The reason, or an empty string.
  type: str
"""

from ansible_collections.dgx_station.inference.plugins.module_utils.rollout_plan import halted


def rollout_halted(batches, outcomes, host, max_fail_percentage=0):
    return halted(batches, outcomes, host, max_fail_percentage)


class FilterModule(object):
    def filters(self):
        return {"rollout_halted": rollout_halted}
