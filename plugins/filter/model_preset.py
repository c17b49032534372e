# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Expose the model presets of module_utils/model_presets.py to playbooks and roles."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: model_preset
short_description: The preset of a model served by SGLang on a DGX Station
version_added: 0.1.0
description:
  - Returns the collection's preset for a Hugging Face model id (download size, cold-start budget,
    gated or not, context length, mem fraction, whether prefix caching is expected, extra flags).
  - Unknown models get the runbook's defaults and C(known=false).
options:
  _input:
    description: The Hugging Face model id, for example C(Qwen/Qwen3-8B).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the cold-start budget of the model
  ansible.builtin.debug:
    msg: "{{ ('Qwen/Qwen3-8B' | dgx_station.inference.model_preset).ready_timeout_s }}"
"""

RETURN = r"""
_value:
  description: The preset, with C(known) (bool) and C(model) added.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.dgx_station.inference.plugins.module_utils.model_presets import (
    MODEL_PRESETS,
    get_preset,
)


def model_preset(model):
    if not isinstance(model, str) or not model.strip():
        raise AnsibleFilterError("model_preset needs a non-empty model id, got %r" % to_native(model))
    return get_preset(model.strip())


def model_presets(_unused=None):
    return sorted(MODEL_PRESETS)


class FilterModule(object):
    def filters(self):
        return {"model_preset": model_preset, "model_presets": model_presets}
