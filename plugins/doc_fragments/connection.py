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
      - A model the server does not list fails the module at once with C(error_kind=model_not_served)
        (M(dgx_station.inference.sglang_smoke_test) reports it as its C(model_listed) check instead).
    type: str
  timeout:
    description:
      - Seconds to wait for the connection and then for each read of an answer (a stream may take
        longer in total, as long as it does not stall for this long).
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
requirements:
  - requests (the M(dgx_station.inference.python_venv) role installs it into the Station's venv)
notes:
  - HTTP goes through the Python library C(requests), which also honours the proxy environment
    (C(HTTPS_PROXY), C(HTTP_PROXY), C(NO_PROXY)) of the host the module runs on.
  - One retry rule; an error while connecting (nothing was sent) is retried once, and a C(GET) or
    C(HEAD) whose connection broke or timed out is retried once on a fresh connection; nothing else
    is retried (a generation that timed out may still run on the server).
  - A failure returns C(error_kind) (C(connection_refused), C(not_ready), C(timeout), C(tls_error),
    C(unauthorized), C(forbidden), C(not_found), C(bad_request), C(model_not_served), C(server_error),
    C(http_error), C(invalid_response), C(connection_error), C(missing_library)), C(status) (the HTTP status, when there was one) and,
    where it helps, C(hint) and the server's answer C(body) with credentials removed.
  - Connection refused or HTTP 503 means the server is still loading (first start takes 10-45 min);
    gate on M(dgx_station.inference.sglang_wait) before these modules.
"""
