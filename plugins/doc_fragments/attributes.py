# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

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
  action_group:
    support: full
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
"""
