# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keep the server's credentials out of module results and of the files the collection writes.

SGLang's /server_info returns `api_key` and `admin_api_key` in clear (only watermark secrets
are redacted), once at the top level and again in every `internal_states` entry, and its
startup log prints them in the `server_args=ServerArgs(...)` line. redact() is the one place
that removes them; write_private_file() writes what may still hold server data 0600.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import tempfile

REDACTED = "<redacted>"

_SECRET_NAMES = frozenset(("api_key", "token", "password", "secret", "authorization"))
# Not a bare "_token" suffix: SGLang has plenty of harmless *_token names (#cached-token, eos_token).
_SECRET_SUFFIXES = ("_api_key", "hf_token", "access_token", "auth_token", "_password", "_secret", "_secret_key")

_VALUE = r"""'[^']*'|"[^"]*"|[^\s'"]+"""
# --api-key VALUE, --api-key=VALUE (also quoted, as shlex.quote writes them).
_FLAG_WITH_VALUE = re.compile(r"(?P<name>--[A-Za-z][A-Za-z0-9_-]*)(?P<sep>=|\s+(?!-))(?P<value>%s)" % _VALUE)
# api_key='VALUE' (a ServerArgs repr in the log) and "api_key": "VALUE" (JSON text).
_QUOTED_ASSIGNMENT = re.compile(
    r"""(?P<name>\b[A-Za-z][A-Za-z0-9_-]*)(?P<sep>["']?\s*[=:]\s*)(?P<value>'[^']*'|"[^"]*")""")
_BEARER = re.compile(r"(?P<name>\bBearer)(?P<sep>\s+)(?P<value>[^\s'\",]+)", re.IGNORECASE)


def is_secret_name(name):
    """True for a key or command-line flag that holds a credential (api_key, --admin-api-key, hf_token, ...)."""
    normal = str(name).strip().lstrip("-").lower().replace("-", "_")
    return normal in _SECRET_NAMES or normal.endswith(_SECRET_SUFFIXES)


def _is_empty(value):
    # None and "" say "no key configured"; keep that visible.
    return value is None or value == "" or value is False


def _mask_match(match):
    value = match.group("value")
    if not is_secret_name(match.group("name")) or value.strip("'\"") in ("", "None", "null"):
        return match.group(0)
    # Keep the quotes: redacted JSON text stays JSON, a redacted repr stays a repr.
    quote = value[0] if value[0] in "'\"" else ""
    return match.group("name") + match.group("sep") + quote + REDACTED + quote


def _redact_text(text, known):
    # Known values first, so that a short key cannot match inside a marker written below.
    for secret in known:
        text = text.replace(secret, REDACTED)
    for pattern in (_FLAG_WITH_VALUE, _QUOTED_ASSIGNMENT):
        text = pattern.sub(_mask_match, text)
    return _BEARER.sub(lambda m: m.group("name") + m.group("sep") + REDACTED, text)


def _redact(data, known):
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            secret = is_secret_name(key) and not _is_empty(value)
            out[_redact(key, known)] = REDACTED if secret else _redact(value, known)
        return out
    if isinstance(data, (list, tuple)):
        out = []
        flag_expects_value = False
        for item in data:
            if flag_expects_value and isinstance(item, str) and not item.startswith("-"):
                out.append(REDACTED)
            else:
                out.append(_redact(item, known))
            # argv form: ["--api-key", "VALUE"]
            flag_expects_value = (isinstance(item, str) and item.startswith("--") and "=" not in item
                                  and is_secret_name(item))
        return type(data)(out)
    if isinstance(data, str):
        return _redact_text(data, known)
    return data


def redact(data, known_secrets=()):
    """A copy of data (nested dicts, lists, strings) with every credential replaced by REDACTED.

    Replaced: the values of secret keys (is_secret_name: api_key, admin_api_key, *_api_key,
    token, hf_token, password, ...) unless None or empty; in strings, the value after a secret
    flag (--api-key VALUE, --api-key=VALUE, --admin-api-key ...), of a quoted secret assignment
    (api_key='VALUE', "api_key": "VALUE") and of "Bearer VALUE"; in lists, the item after a
    secret flag (argv form); and every occurrence of a value in known_secrets (the key the
    module was given), wherever it appears.
    """
    known = sorted(set(s for s in known_secrets or () if isinstance(s, str) and s), key=len, reverse=True)
    return _redact(data, known)


def write_private_file(path, text):
    """Write text to path atomically, readable and writable by its owner only (0600).

    A missing directory is created 0700. An existing file is replaced (so it ends up 0600
    whatever its mode was).
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    # mkstemp creates the file 0600; the rename keeps that mode.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
