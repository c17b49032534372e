# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: worker_url
short_description: A worker URL spelled as the gateway workers module compares and returns it
version_added: 0.3.0
description:
  - Lower-case scheme and host, no default port, no trailing slash (the spelling of
    M(dgx_station.inference.sglang_gateway_workers)' RV(dgx_station.inference.sglang_gateway_workers#module:healthy_urls)).
options:
  _input:
    description: A worker URL.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Is station-01 healthy behind the gateway?
  ansible.builtin.debug:
    msg: "{{ (hostvars['station-01'] | dgx_station.inference.station_url | dgx_station.inference.worker_url) in gateway.healthy_urls }}"
"""

RETURN = r"""
_value:
  description: The normalized URL, for example C(http://station-01:30000).
  type: str
"""

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_gateway import normalize_url


def worker_url(url):
    return normalize_url(url, strict=False)


class FilterModule(object):
    def filters(self):
        return {"worker_url": worker_url}
