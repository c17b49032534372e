# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The base of every module that talks to an SGLang server (the shape of community.docker's client base).

SGLangModule merges the shared connection options (doc fragment dgx_station.inference.connection)
into the module's own, builds the AnsibleModule and the one client (sglang_http.SGLangClient),
resolves the served model, maps an SGLangError to fail_json with its documented fields
(error_kind, status, hint, body), keeps the server's credentials out of every result, and closes
the client on the way out. A module declares its documentation and options and hands off:

    def main():
        module = SGLangModule(argument_spec=dict(prompt=dict(type="str")))
        module.run(lambda: check(module))
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import redact
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import (
    CONNECTION_ARGUMENT_SPEC,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    SGLangError,
    client_from_module,
)


class SGLangModule:
    """An AnsibleModule with the connection options and a ready SGLangClient (.client).

    requires_client=False: a module that has other work to do without the server (the doctor) gets
    client None and a warning when requests is missing, instead of failing.
    """

    def __init__(self, argument_spec=None, supports_check_mode=True, requires_client=True, **kwargs):
        spec = dict(CONNECTION_ARGUMENT_SPEC)
        spec.update(argument_spec or {})
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=supports_check_mode, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        # Fields gathered so far; a failure reports them next to the error.
        self.result = dict(changed=False)
        self.client = None
        if not HAS_REQUESTS and not requires_client:
            # The module can still do its other work (the doctor reads the host); it says what it skipped.
            self.module.warn("The Python library requests is missing for this interpreter: the SGLang server is not "
                             "queried. Run the dgx_station.inference.python_venv role and use its venv.")
            return
        if not HAS_REQUESTS:
            self.module.fail_json(
                msg=missing_required_lib("requests", reason="to talk to the SGLang server") +
                " The dgx_station.inference.python_venv role installs it into the Station's venv; point "
                "ansible_python_interpreter at that venv (dgx_station_venv_python).",
                exception=REQUESTS_IMPORT_ERROR)
        if self.params["timeout"] is not None and self.params["timeout"] <= 0:
            self.module.fail_json(msg="timeout must be > 0 seconds, got %s" % self.params["timeout"])
        try:
            self.client = client_from_module(self.module)
        except SGLangError as error:
            self.fail(error)

    # -- helpers for the modules ---------------------------------------------------
    def resolve_model(self, require_listed=True):
        """(model to send, models the server lists) from the model option and /v1/models.

        Without the option the first listed model is used. With it, a model the server does not list
        raises SGLangError(kind=model_not_served) when require_listed, naming what is listed.
        """
        return self.client.resolve_model(self.params.get("model"), require_listed=require_listed)

    def warn(self, message):
        self.module.warn(message)

    def _secrets(self):
        return [self.params.get("api_key")]

    def _close(self):
        if self.client is not None:
            self.client.close()

    # -- ending the module ---------------------------------------------------------
    def exit_json(self, **result):
        self._close()
        merged = dict(self.result, **result)
        self.module.exit_json(**redact(merged, self._secrets()))

    def fail_json(self, msg, **result):
        self._close()
        merged = dict(self.result, **result)
        merged["msg"] = msg
        self.module.fail_json(**redact(merged, self._secrets()))

    def fail(self, error, **result):
        """fail_json from an SGLangError: its message and fields (error_kind, status, hint, body)."""
        merged = dict(result)
        merged.update(error.to_result())
        self.fail_json(error.message, **merged)

    def run(self, body):
        """Call body(); an SGLangError it raises fails the module with self.result and the error's fields."""
        try:
            body()
        except SGLangError as error:
            self.fail(error)
        finally:
            self._close()
