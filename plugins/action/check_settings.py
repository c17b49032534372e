# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side action behind dgx_station.inference.check_settings (documented in plugins/modules)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.dgx_station.inference.plugins.module_utils.settings_rules import RuleError, check_settings


class ActionModule(ActionBase):
    """Check role options against their rules; nothing on the host is read or changed."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=dict(
            rules=dict(type="dict", required=True),
            values=dict(type="dict", default=None),
        ))
        rules = args["rules"]
        values = args["values"]
        if values is None:
            # The options are read from the task's variables, rendered as the role would render them.
            task_vars = task_vars or {}
            values = dict((name, self._templar.template(task_vars[name])) for name in rules if name in task_vars)
        try:
            errors = check_settings(values, rules)
        except RuleError as exc:
            result.update(failed=True, msg="check_settings: %s" % exc, errors=[])
            return result
        result.update(changed=False, checked=sorted(rules), errors=errors)
        if errors:
            result.update(failed=True, msg="%d setting(s) refused before anything changed: %s"
                          % (len(errors), " | ".join(errors)))
        else:
            result["msg"] = "%d setting(s) checked" % len(rules)
        return result
