# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: station_url
short_description: The URL the gateway reaches a Station's SGLang server at
version_added: 0.2.0
description:
  - 'C(sglang_gateway_station_url) of the Station when set, else C(http://) + its C(ansible_host) (or inventory
    name) + C(:) + its C(sglang_server_host_port) (30000).'
options:
  _input:
    description: The Station's host variables (C(hostvars[name])).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Where the gateway reaches station-01
  ansible.builtin.debug:
    msg: "{{ hostvars['station-01'] | dgx_station.inference.station_url }}"
"""

RETURN = r"""
_value:
  description: The Station's URL, for example C(http://10.0.0.11:30000).
  type: str
"""

from ansible_collections.dgx_station.inference.plugins.module_utils.fleet_facts import station_url


class FilterModule(object):
    def filters(self):
        return {"station_url": station_url}
