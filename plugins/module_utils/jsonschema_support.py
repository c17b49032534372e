# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one guarded import of the jsonschema library (in the Station venv, optional elsewhere).

Modules report a missing library with
``module.fail_json(msg=missing_required_lib("jsonschema"), exception=JSONSCHEMA_IMPORT_ERROR)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

JSONSCHEMA_IMPORT_ERROR = None
try:
    import jsonschema  # pylint: disable=unused-import
    from jsonschema import validators as jsonschema_validators  # pylint: disable=unused-import
    HAS_JSONSCHEMA = True
except ImportError:
    jsonschema = None
    jsonschema_validators = None
    HAS_JSONSCHEMA = False
    JSONSCHEMA_IMPORT_ERROR = traceback.format_exc()
