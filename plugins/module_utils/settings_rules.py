# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shape and meaning checks for role options, run before a role changes anything.

A role's argument spec checks types and choices; these rules check what a type cannot say: that a
string is an image reference Docker accepts, that a path is absolute, that an environment key is a
valid name, that extra SGLang flags do not fight the flags the role sets itself. Each check returns
``(problem, fix)`` or None, and `check_settings` turns every failure into one sentence that names the
option, the value and the fix, so a user sees every mistake of a run at once.

Rules are given per option as a check name, or a dict ``{check: NAME, optional: bool, ...params}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import ipaddress
import re

from ansible_collections.dgx_station.inference.plugins.module_utils.rollout_plan import RolloutPlanError, batch_sizes

# Docker's reference grammar (distribution/reference): lowercase path components separated by
# '/', '.', '_', '__' or dashes, an optional registry host[:port] first, then :tag and/or @digest.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = r"(?:%s(?:\.%s)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?" % (_DOMAIN_COMPONENT, _DOMAIN_COMPONENT)
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE_RE = re.compile(
    r"^(?:(?P<domain>%s)/)?(?P<path>%s(?:/%s)*)(?::(?P<tag>%s))?(?:@(?P<digest>%s))?$"
    % (_DOMAIN, _PATH_COMPONENT, _PATH_COMPONENT, _TAG, _DIGEST))
# Docker's validContainerNamePattern.
CONTAINER_NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Debian's default NAME_REGEX for users and groups (adduser.conf).
UNIX_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]*\$?$")
DEB_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+:~-]+)?$")
# A pip requirement as the venv role takes it: a name, optional extras and a version specifier.
PIP_REQUIREMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[A-Za-z0-9._,-]+\])?\s*(?:[<>=!~]=?[^\s;]+(?:\s*,\s*[<>=!~]=?[^\s,;]+)*)?$")
PYTHON_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/v[0-9]+)?$")
GPU_ID_RE = re.compile(r"^(?:[0-9]+|GPU-[0-9a-fA-F-]{8,}|MIG-[0-9a-fA-F-]{8,}|MIG-GPU-[0-9a-fA-F-]+/[0-9]+/[0-9]+)$")
HF_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
URL_RE = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]+))?(?P<path>/[^\s]*)?$")
SGLANG_FLAG_RE = re.compile(r"^--[a-z0-9][a-z0-9-]*(?:=.*)?$")
ULIMIT_RE = re.compile(r"^(-?[0-9]+):(-?[0-9]+)$")
# Linux capabilities Docker knows (capabilities(7)), without the CAP_ prefix.
LINUX_CAPABILITIES = frozenset("""
AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN DAC_OVERRIDE
DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE
MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON SETFCAP SETGID SETPCAP SETUID
SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_RESOURCE
SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM
""".split())


def _is_empty(value):
    return value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)


def _show(value):
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def check_string(value, params):
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string", params.get("fix", "set it to a value")
    if params.get("no_whitespace") and re.search(r"\s", value):
        return "must not contain white space or line breaks", params.get("fix", "remove the white space")
    for char in params.get("forbid_chars", ""):
        if char in value:
            return "must not contain %r" % char, params.get("fix", "remove %r" % char)
    return None


def check_image_reference(value, params):
    match = IMAGE_REFERENCE_RE.match(value) if isinstance(value, str) else None
    domain = match.group("domain") if match else None
    # Docker reads the first component as a registry only with a '.', a ':' or as localhost;
    # otherwise it is part of the (lowercase) repository path.
    if domain and not ("." in domain or ":" in domain or domain == "localhost" or domain.startswith("[")) \
            and not re.match("^%s$" % _PATH_COMPONENT, domain):
        match = None
    if match is None or value != value.strip():
        repository = str(value).split("@", 1)[0].rsplit(":", 1)[0] if isinstance(value, str) else ""
        first, rest = repository.split("/", 1) if "/" in repository else (repository, "")
        path = rest if rest and re.search(r"[.:]", first) else repository
        hint = " (repository names are lowercase)" if re.search(r"[A-Z]", path) else ""
        return ("is not an image reference Docker accepts%s" % hint,
                "use [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST], for example lmsysorg/sglang:latest-cu130 "
                "or lmsysorg/sglang@sha256:<64 hex digits>")
    return None


def check_container_name(value, params):
    if not isinstance(value, str) or not CONTAINER_NAME_RE.match(value):
        return ("is not a Docker container name",
                "use letters, digits, '_', '.' and '-', starting with a letter or digit, at least 2 characters "
                "(for example sglang-server)")
    return None


def check_capabilities(value, params):
    if not isinstance(value, list):
        return "must be a list of Linux capability names", "for example [SYS_NICE]"
    unknown = []
    for cap in value:
        name = str(cap).strip().upper()
        name = name[4:] if name.startswith("CAP_") else name
        if name != "ALL" and name not in LINUX_CAPABILITIES:
            unknown.append(str(cap))
    if unknown:
        return ("names capabilities Linux does not have: %s" % ", ".join(unknown),
                "use names from capabilities(7) with or without CAP_, for example SYS_NICE (the runbook's only one)")
    return None


def check_absolute_path(value, params):
    if not isinstance(value, str) or not value.startswith("/"):
        return "must be an absolute path", params.get("fix", "start it with /, for example /var/lib/dgx-station")
    if "\x00" in value or "\n" in value:
        return "contains a NUL byte or a line break", "remove it"
    if params.get("bind_mount") and (":" in value or "," in value):
        return ("contains ':' or ',', which Docker reads as a bind-mount separator",
                "choose a directory whose path has neither")
    if params.get("directory") is False and value.endswith("/"):
        return "names a directory (ends with /) but must name a file", "add the file name"
    return None


def check_file_name(value, params):
    if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
        return "must be a plain file name without '/'", params.get("fix", "give the name only")
    return None


def check_ulimit(value, params):
    match = ULIMIT_RE.match(str(value).strip()) if isinstance(value, (str, int)) else None
    if not match:
        return "must be SOFT:HARD (integers, -1 for unlimited)", "for example -1:-1 (memlock) or 67108864:67108864 (stack)"
    soft, hard = int(match.group(1)), int(match.group(2))
    if soft < -1 or hard < -1:
        return "has a limit below -1", "use -1 for unlimited or a size >= 0"
    if hard != -1 and (soft == -1 or soft > hard):
        return "has a soft limit above the hard limit", "make SOFT <= HARD (or HARD -1, unlimited)"
    return None


def check_env(value, params):
    if not isinstance(value, dict):
        return "must be a mapping of NAME: value", "for example {NCCL_DEBUG: INFO}"
    bad_keys = [str(k) for k in value if not ENV_KEY_RE.match(str(k))]
    if bad_keys:
        return ("has keys that are not environment variable names: %s" % ", ".join(bad_keys),
                "use letters, digits and '_', not starting with a digit (for example SGLANG_LOG_LEVEL)")
    nested = [str(k) for k, v in value.items() if isinstance(v, (dict, list))]
    if nested:
        return "has values that are not scalars: %s" % ", ".join(nested), "give each variable a string or number"
    forbidden = params.get("forbid", {})
    for key in value:
        if str(key) in forbidden:
            return "sets %s" % key, forbidden[str(key)]
    return None


def check_number(value, params):
    integer = params.get("integer", False)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value) if not integer else int(str(value))
        except (TypeError, ValueError):
            return "must be a number", params.get("fix", "give a number")
    if integer and int(value) != value:
        return "must be a whole number", params.get("fix", "give a whole number")
    low, high = params.get("min"), params.get("max")
    above, below = params.get("above"), params.get("below")
    if (low is not None and value < low) or (high is not None and value > high) \
            or (above is not None and value <= above) or (below is not None and value >= below):
        parts = []
        if low is not None:
            parts.append(">= %s" % low)
        if above is not None:
            parts.append("> %s" % above)
        if high is not None:
            parts.append("<= %s" % high)
        if below is not None:
            parts.append("< %s" % below)
        return "must be %s" % " and ".join(parts), params.get("fix", "choose a value in that range")
    return None


def check_port(value, params):
    return check_number(value, dict(params, integer=True, min=1, max=65535,
                                    fix=params.get("fix", "use a TCP port from 1 to 65535 (the runbook uses 30000)")))


def check_platform(value, params):
    if not isinstance(value, str) or not PLATFORM_RE.match(value):
        return "is not a container platform", "use OS/ARCH, for example linux/arm64 on a DGX Station"
    return None


def check_model(value, params):
    if not isinstance(value, str) or not value.strip():
        return "is empty", "set it to a Hugging Face model id, for example Qwen/Qwen3-8B"
    value = value.strip()
    if value.startswith("/") or HF_REPO_ID_RE.match(value):
        return None
    return ("is neither a Hugging Face model id (OWNER/NAME) nor an absolute path inside the container",
            "for example Qwen/Qwen3-8B or /root/.cache/huggingface/hub/my-model")


def check_regex(value, params):
    try:
        re.compile(value)
    except (re.error, TypeError) as exc:
        return "is not a valid regular expression (%s)" % exc, "fix the pattern, for example GB300"
    return None


def check_gpu_ids(value, params):
    if not isinstance(value, list):
        return "must be a list of GPU indexes or UUIDs", "for example ['GPU-6f1c2b9e-...'] from nvidia-smi -L"
    bad = [str(v) for v in value if not GPU_ID_RE.match(str(v).strip())]
    if bad:
        return ("has ids that are neither an index nor a GPU-/MIG- UUID: %s" % ", ".join(bad),
                "copy the UUID from `nvidia-smi -L` (GPU-... or MIG-...), or give an index such as 1")
    if len(set(str(v) for v in value)) != len(value):
        return "names a GPU twice", "list each GPU once"
    return None


def check_url(value, params):
    schemes = params.get("schemes", ["http", "https"])
    if "file" in schemes and isinstance(value, str) and re.match(r"^file:///[^\s]*$", value):
        return None
    match = URL_RE.match(value) if isinstance(value, str) else None
    if not match or match.group("scheme") not in schemes:
        return ("is not a %s URL" % "/".join(schemes),
                params.get("fix", "give SCHEME://HOST[:PORT][/PATH], for example https://mirror.example.org/simple"))
    if match.group("port") and not 1 <= int(match.group("port")) <= 65535:
        return "has a port outside 1-65535", "fix the port"
    return None


def check_apt_source(value, params):
    """A repository URI as apt takes it: http(s)://..., or a local file:/path (file:/// too)."""
    if isinstance(value, str) and re.match(r"^file:/[^\s]*$", value):
        return None
    return check_url(value, dict(params, fix="give https://HOST/PATH of the repository, or file:/PATH for a local mirror"))


def check_signing_key(value, params):
    """What deb822_repository's signed_by takes: a URL, a keyring path (.asc/.gpg) or an armored key."""
    if isinstance(value, str) and (value.lstrip().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
                                   or re.match(r"^/[^\s]+\.(?:asc|gpg)$", value)
                                   or check_url(value, {}) is None):
        return None
    return ("is neither a key URL, a keyring path ending in .asc or .gpg, nor an armored key",
            "give the key's https:// URL, the absolute path of a keyring on the Station, or the armored key text")


def check_urls(value, params):
    return _each(value, check_url, params)


def check_host_address(value, params):
    try:
        address = ipaddress.ip_address(str(value).strip("[]"))
    except ValueError:
        return ("is not an IP address",
                "use 127.0.0.1 (only this Station), one interface's address (the fleet network behind a gateway), "
                "or 0.0.0.0 (every interface, the runbook's default)")
    del address
    return None


def check_hostnames(value, params):
    if not isinstance(value, list):
        return "must be a list of host names", "for example [pypi.example.org]"
    bad = [str(v) for v in value if not re.match(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$", str(v))]
    if bad:
        return "has entries that are not host names: %s" % ", ".join(bad), "give host[:port] only, no scheme or path"
    return None


def check_unix_names(value, params):
    return _each(value, check_unix_name, params)


def check_unix_name(value, params):
    if not isinstance(value, str) or not UNIX_NAME_RE.match(value) or len(value) > 32:
        return ("is not a user or group name",
                "use lowercase letters, digits, '_' and '-', starting with a letter or '_' (for example docker)")
    if params.get("not_root") and value == "root":
        return "is root", params.get("fix", "root needs no docker group membership")
    return None


def check_deb_packages(value, params):
    if not isinstance(value, list) or not value and not params.get("optional"):
        return "must be a non-empty list of Debian package names", "for example [docker.io]"
    bad = [str(v) for v in value if not DEB_PACKAGE_RE.match(str(v))]
    if bad:
        return "has entries that are not Debian package names: %s" % ", ".join(bad), "use names as apt knows them, for example docker.io"
    return None


def check_pip_requirements(value, params):
    if not isinstance(value, list):
        return "must be a list of pip requirements", "for example [requests, 'docker>=7']"
    bad = [str(v) for v in value if not PIP_REQUIREMENT_RE.match(str(v).strip())]
    if bad:
        return "has entries that are not pip requirements: %s" % ", ".join(bad), "use NAME or NAME>=VERSION"
    return None


def check_python_modules(value, params):
    if not isinstance(value, list):
        return "must be a list of Python module names", "for example [requests, docker]"
    bad = [str(v) for v in value if not PYTHON_MODULE_RE.match(str(v))]
    if bad:
        return "has entries that are not importable module names: %s" % ", ".join(bad), "use import names, for example docker"
    return None


def check_command(value, params):
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value) or not value[0].strip():
        return "must be a non-empty list: the program and its arguments", "for example [nvidia-smi, -L]"
    return None


def check_ipc_mode(value, params):
    if not isinstance(value, str) or not re.match(r"^(?:host|private|shareable|none|container:[a-zA-Z0-9][a-zA-Z0-9_.-]+)$", value):
        return "is not a Docker IPC mode", "use host (the runbook's), private, shareable, none or container:NAME"
    return None


def check_sglang_args(value, params):
    """Extra `sglang serve` flags: well-formed, and none of the flags the role sets from an option."""
    if not isinstance(value, list):
        return "must be a list of command-line words", "for example ['--max-running-requests', '64']"
    words = [str(v) for v in value]
    if words and not words[0].startswith("--"):
        return ("starts with %r, which is not a flag" % words[0],
                "start with a --flag; a value follows its flag as its own item, for example ['--tp-size', '1']")
    owned = params.get("owned", {})
    for word in words:
        if word.startswith("--"):
            if not SGLANG_FLAG_RE.match(word):
                return "has a malformed flag %r" % word, "write flags as --lowercase-words"
            flag = word.split("=", 1)[0]
            if flag in owned:
                return ("sets %s, which the role sets itself" % flag,
                        "use %s instead (the role passes it to SGLang)" % owned[flag])
    if params.get("known_flags_text") is not None:
        # The program whose --help is the reference and what a refusal leaves alone; the defaults are
        # the server role's (the image's `sglang serve`), the gateway role passes smg's.
        command = params.get("help_command", "sglang serve --help")
        source = params.get("image", "the image")
        kept = params.get("kept", "the running server")
        known = help_flags(params["known_flags_text"])
        if not known:
            return ("could not be checked: `%s` of %s listed no flags" % (command, source),
                    "check that %s runs `%s`, or leave the extra arguments empty" % (source, command))
        for word in words:
            flag = word.split("=", 1)[0]
            if flag.startswith("--") and flag not in known:
                close = difflib.get_close_matches(flag, sorted(known), n=3, cutoff=0.6)
                return ("has %s, which `%s` of %s does not list%s"
                        % (flag, command, source, " (did you mean %s?)" % ", ".join(close) if close else ""),
                        "correct or remove it; %s was not touched" % kept)
    return None


def help_flags(text):
    """The long options an argparse --help text lists (`--tp-size`, `--tensor-parallel-size`, ...)."""
    return set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", text or ""))


def check_words(value, params):
    if not isinstance(value, list) or not value and not params.get("optional"):
        return "must be a non-empty list of words", params.get("fix", "for example [stable]")
    bad = [str(v) for v in value if not isinstance(v, str) or not v.strip() or re.search(r"\s", v)]
    if bad:
        return "has empty entries or entries with white space: %s" % ", ".join(map(repr, bad)), "give one word per entry"
    return None


def check_dict(value, params):
    if not isinstance(value, dict):
        return "must be a mapping", params.get("fix", "give KEY: value pairs")
    required = params.get("keys_allowed")
    if required is not None:
        unknown = sorted(str(k) for k in value if k not in required)
        if unknown:
            return ("has keys the role does not know: %s" % ", ".join(unknown),
                    "use only %s" % ", ".join(sorted(required)))
    return None


def check_rollout_batch(value, params):
    try:
        batch_sizes(value, 100)
    except RolloutPlanError as exc:
        return "is not a batch size: " + str(exc).split(": ", 1)[-1], params.get("fix", "for example 1, '25%' or [1, 2, '50%']")
    return None


def check_benchmark_runs(value, params):
    """`{name: {num_conversations: N, turns_per_conversation: N}}` with positive counts."""
    if not isinstance(value, dict) or not value:
        return "must map run names to {num_conversations, turns_per_conversation}", "see the role's defaults"
    for name, run in value.items():
        if not isinstance(run, dict):
            return "run %s is not a mapping" % name, "give num_conversations and turns_per_conversation"
        for key in ("num_conversations", "turns_per_conversation"):
            count = run.get(key)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                return "run %s has %s=%r" % (name, key, count), "give a whole number >= 1"
    return None


def _each(value, check, params):
    if not isinstance(value, list):
        return "must be a list", "give a list"
    for item in value:
        found = check(item, params)
        if found:
            return "has %s, which %s" % (_show(item), found[0]), found[1]
    return None


CHECKS = {
    "absolute_path": check_absolute_path,
    "apt_source": check_apt_source,
    "benchmark_runs": check_benchmark_runs,
    "rollout_batch": check_rollout_batch,
    "capabilities": check_capabilities,
    "command": check_command,
    "container_name": check_container_name,
    "deb_packages": check_deb_packages,
    "dict": check_dict,
    "env": check_env,
    "file_name": check_file_name,
    "gpu_ids": check_gpu_ids,
    "host_address": check_host_address,
    "hostnames": check_hostnames,
    "image_reference": check_image_reference,
    "ipc_mode": check_ipc_mode,
    "model": check_model,
    "number": check_number,
    "pip_requirements": check_pip_requirements,
    "platform": check_platform,
    "port": check_port,
    "python_modules": check_python_modules,
    "regex": check_regex,
    "signing_key": check_signing_key,
    "sglang_args": check_sglang_args,
    "string": check_string,
    "ulimit": check_ulimit,
    "unix_name": check_unix_name,
    "unix_names": check_unix_names,
    "url": check_url,
    "urls": check_urls,
    "words": check_words,
}


class RuleError(Exception):
    """A rule itself is wrong (a bug in the role, not in the user's settings)."""


def normalise_rule(option, rule):
    if isinstance(rule, str):
        rule = {"check": rule}
    if not isinstance(rule, dict) or rule.get("check") not in CHECKS:
        raise RuleError("rule for %s names no known check (%r); known: %s"
                        % (option, rule, ", ".join(sorted(CHECKS))))
    return rule


def check_settings(values, rules):
    """Every failed rule as one sentence `OPTION=VALUE problem. Fix: ...`, in the order of `rules`."""
    errors = []
    for option, rule in rules.items():
        rule = normalise_rule(option, rule)
        if option not in values:
            errors.append("%s is not defined. Fix: set it, or run the role through its entry point so its defaults apply."
                          % option)
            continue
        value = values[option]
        if rule.get("optional") and _is_empty(value):
            continue
        params = dict((k, v) for k, v in rule.items() if k not in ("check", "optional", "secret"))
        found = CHECKS[rule["check"]](value, params)
        if found:
            problem, fix = found
            shown = "<hidden>" if rule.get("secret") else _show(value)
            errors.append("%s=%s %s. Fix: %s." % (option, shown, problem, fix.rstrip(".")))
    return errors
