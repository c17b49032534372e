# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Attributes of modules that only read or probe (they never change the host).
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: The module changes nothing, so it runs unchanged in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  action_group:
    support: full
    description: Use C(group/dgx_station.inference.sglang) in C(module_defaults) to set the connection options once.
    membership:
      - dgx_station.inference.sglang
"""

    # For modules that read the host but are not part of the sglang action group.
    FACTS = r"""
attributes:
  check_mode:
    support: full
    description: The module changes nothing, so it runs unchanged in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
"""
