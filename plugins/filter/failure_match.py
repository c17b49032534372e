# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Match a text (an error message, a log) against the collection's failure catalog."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: failure_match
short_description: The known failure (catalog row) that explains an error text
version_added: 0.1.0
description:
  - Searches the text for the symptoms of the failure catalog (plugins/module_utils/failure_catalog.py),
    for example a docker error saying the port is already allocated.
  - Returns the most likely error-severity row (C(id), C(symptom), C(cause), C(fix), ...), or C(None).
options:
  _input:
    description: An error message or a log.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Explain a failed task
  ansible.builtin.debug:
    msg: "{{ (result.msg | dgx_station.inference.failure_match).fix | default('unknown failure') }}"
"""

RETURN = r"""
_value:
  description: The catalog row plus C(evidence) (the matching lines), or C(None).
  type: dict
"""

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.dgx_station.inference.plugins.module_utils.failure_catalog import first_error


def failure_match(text):
    return first_error(log_text=to_text(text or ""))


class FilterModule(object):
    def filters(self):
        return {"failure_match": failure_match}
