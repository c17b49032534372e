# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollout_phases
short_description: Seconds a rollout spent in each phase, from the times the phases started
version_added: 0.3.0
description:
  - Sorts the marks by time; each phase lasts until the next mark. The last mark only ends the one before it.
options:
  _input:
    description: Pairs of phase name and epoch seconds, the last one the end.
    type: list
    elements: list
    required: true
"""

EXAMPLES = r"""
- name: Seconds per phase
  ansible.builtin.debug:
    msg: "{{ [['drain', 100.0], ['idle', 105.5], ['end', 107.0]] | dgx_station.inference.rollout_phases }}"
"""

RETURN = r"""
_value:
  description: 'Phase name to seconds, for example C({"drain": 5.5, "idle": 1.5}).'
  type: dict
"""

from ansible_collections.dgx_station.inference.plugins.module_utils.rollout_plan import phases


class FilterModule(object):
    def filters(self):
        return {"rollout_phases": phases}
