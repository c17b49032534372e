# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The connection options every module that talks to an SGLang server shares
    # (plugins/module_utils/sglang_http.py CONNECTION_ARGUMENT_SPEC).
    DOCUMENTATION = r"""
options:
  base_url:
    description:
      - URL of the SGLang server, without a path.
      - The runbook's endpoint on the Station itself is the default.
      - Set it once for every module with C(module_defaults) and the action group
        C(group/dgx_station.inference.sglang).
    type: str
    default: http://127.0.0.1:30000
  api_key:
    description:
      - The server's C(--api-key), sent in the C(Authorization) header as a bearer token.
      - Never logged.
    type: str
  model:
    description:
      - Model name to send in requests.
      - Defaults to the model the server lists in C(/v1/models).
    type: str
  timeout:
    description:
      - Seconds to wait for one HTTP answer.
    type: float
    default: 60.0
  validate_certs:
    description:
      - Verify the TLS certificate when O(base_url) is C(https://).
    type: bool
    default: true
  ca_path:
    description:
      - CA certificate bundle (file) or directory of hashed CA certificates used to verify an
        C(https://) O(base_url), instead of the system trust store.
    type: path
notes:
  - The modules use only the Python standard library on the host they run on.
  - A kept-alive connection that the server closed is retried once on a new connection; nothing
    else is retried (a generation that timed out may still run on the server).
  - Connection refused or HTTP 503 means the server is still loading (first start takes 10-45 min);
    gate on M(dgx_station.inference.sglang_wait) before these modules.
"""
