# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollout_plan
short_description: The order and batches of a fleet rollout, canary first, refused when it breaks the capacity floor
version_added: 0.3.0
description:
  - The canary batch (the O(canary) Stations, else the first one) and then batches of the others, in inventory order.
  - 'Batch sizes are read as Ansible reads C(serial): a number, a percentage of all the Stations of the rollout
    (rounded down, at least 1), or a list of those used in turn, the last one repeated.'
  - Fails, naming the option and the fix, when a batch would leave fewer than O(min_in_service) Stations in service.
options:
  _input:
    description: The Stations to roll out, in inventory order.
    type: list
    elements: str
    required: true
  canary:
    description: Stations of the first batch; empty takes the first of O(_input).
    type: list
    elements: str
    default: []
  batch:
    description: Batch size (C(sglang_rollout_batch)).
    type: raw
    default: 1
  min_in_service:
    description: Stations that must stay in service while a batch is out.
    type: int
    default: 0
  in_service:
    description: Stations in service now (default the number of O(known_hosts)).
    type: int
  known_hosts:
    description: Every Station of the run (O(canary) must be among them; default O(_input)).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Canary, then two at a time, keeping at least 2 in service
  ansible.builtin.set_fact:
    plan: "{{ groups['stations'] | dgx_station.inference.rollout_plan(batch=2, min_in_service=2) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    order:
      description: Stations in rollout order.
      type: list
    batches:
      description: The batches, canary first.
      type: list
    serial:
      description: Batch sizes, as Ansible's C(serial) takes them.
      type: list
    canary:
      description: The canary batch.
      type: list
    largest_batch:
      description: Size of the largest batch.
      type: int
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.dgx_station.inference.plugins.module_utils.rollout_plan import RolloutPlanError, plan


def rollout_plan(hosts, canary=None, batch=1, min_in_service=0, in_service=None, known_hosts=None):
    try:
        return plan(hosts, canary=canary, batch=batch, min_in_service=min_in_service, in_service=in_service,
                    known_hosts=known_hosts)
    except RolloutPlanError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"rollout_plan": rollout_plan}
