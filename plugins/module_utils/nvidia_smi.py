# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse `nvidia-smi --query-gpu` and `nvidia-smi -L` output and pick the GPU(s) SGLang should get.

Pure functions (no Ansible imports) so the gpu_info module and its unit tests share them.
On a DGX Station the GB300 may sit at index 0 or 1 next to an RTX PRO workstation card,
so the GPU is chosen by name, never by position, unless the user lists device ids explicitly;
those are checked against what nvidia-smi reports. A GPU in MIG mode is never handed out whole.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

BASE_FIELDS = ("index", "name", "uuid", "pci.bus_id", "memory.total", "compute_cap")
# Last, so an old driver that rejects them can be asked the base fields alone.
MIG_FIELDS = ("mig.mode.current", "mig.mode.pending")
QUERY_FIELDS = BASE_FIELDS + MIG_FIELDS
FORMAT_ARG = "--format=csv,noheader,nounits"
LIST_ARGS = ["-L"]

# --query-gpu field -> key of a GPU dict
FIELD_KEYS = {
    "index": "index",
    "name": "name",
    "uuid": "uuid",
    "pci.bus_id": "pci_bus_id",
    "memory.total": "memory_total_mib",
    "compute_cap": "compute_cap",
    "mig.mode.current": "mig_mode",
    "mig.mode.pending": "mig_mode_pending",
}

MIG_ENABLED = "enabled"
MIG_DISABLED = "disabled"
MIG_UNSUPPORTED = "unsupported"  # nvidia-smi prints [N/A] on a GPU without MIG
MIG_UNKNOWN = "unknown"  # not reported (driver without the MIG fields) or an unexpected value

# The sglang_server role options behind the module options, so an error read through the
# role names what the user can set (roles/sglang_server/meta/argument_specs.yml).
ROLE_OPTIONS = {
    "device_ids": "sglang_server_gpu_device_ids",
    "name_pattern": "sglang_server_gpu_name_pattern",
    "use_all_gpus": "sglang_server_gpu_use_all_gpus",
}

# nvidia-smi exit codes worth a specific message (nvidia-smi(1), RETURN VALUE).
RC_MESSAGES = {
    2: "a bad argument or field was passed to nvidia-smi",
    3: "the requested operation is not available on this GPU",
    4: "permission denied",
    6: "no GPU was found",
    8: "a GPU's external power cables are not attached",
    9: "the NVIDIA driver is not loaded",
    10: "the NVIDIA kernel detected an interrupt issue with a GPU",
    12: "the NVML shared library could not be found or loaded",
    14: "the infoROM is corrupted",
    15: "a GPU has fallen off the bus or is otherwise inaccessible",
}

# `nvidia-smi -L` (driver 580): `GPU 1: NVIDIA GB300 (UUID: GPU-...)`, and under a GPU in MIG
# mode one line per MIG device: `  MIG 3g.135gb     Device  0: (UUID: MIG-...)`. Drivers before
# R470 printed MIG UUIDs as `MIG-GPU-<uuid>/<gi>/<ci>`; both forms are accepted.
_LIST_GPU_RE = re.compile(r"^GPU (\d+): (.*?) \(UUID: (GPU-[^)\s]+)\)\s*$")
_LIST_MIG_RE = re.compile(r"^MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[^)\s]+)\)\s*$")
_UNKNOWN_FIELD_RE = re.compile(r'Field "([^"]+)" is not a valid field to query')


class GPUSelectionError(Exception):
    """Selection failed; message lists every GPU seen."""


def query_args(fields=QUERY_FIELDS):
    """Arguments of the `--query-gpu` call for these fields."""
    return ["--query-gpu=%s" % ",".join(fields), FORMAT_ARG]


QUERY_ARGS = query_args(QUERY_FIELDS)
BASE_QUERY_ARGS = query_args(BASE_FIELDS)


def role_option(option):
    """`sglang_server_gpu_device_ids / device_ids`: the role option, then the module option."""
    if option in ROLE_OPTIONS:
        return "%s / %s" % (ROLE_OPTIONS[option], option)
    return option


def _int_or_none(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def mig_mode_value(text):
    """`Enabled` / `Disabled` / `[N/A]` (GPU without MIG) as printed by nvidia-smi -> a MIG_* value."""
    word = (text or "").strip().strip("[]").strip().lower()
    if word == "enabled":
        return MIG_ENABLED
    if word == "disabled":
        return MIG_DISABLED
    if word in ("n/a", "not supported"):
        return MIG_UNSUPPORTED
    return MIG_UNKNOWN


def unknown_query_fields(output, fields=MIG_FIELDS):
    """Which of `fields` nvidia-smi rejected (`Field "X" is not a valid field to query.`, exit 2)."""
    return [f for f in _UNKNOWN_FIELD_RE.findall(output or "") if f in fields]


def parse_query_gpu(text, fields=QUERY_FIELDS):
    """Rows of `--query-gpu=<fields> --format=csv,noheader,nounits` as dicts.

    Tolerates a header line and unit suffixes (`81559 MiB`) so output captured with
    other --format flags parses too. Raises ValueError on a line with the wrong
    number of fields (e.g. an error message printed on stdout). Every GPU has
    `mig_mode` and `mig_mode_pending` (MIG_UNKNOWN when not queried) and an empty
    `mig_devices` list (filled by attach_mig_devices).
    """
    unknown = [f for f in fields if f not in FIELD_KEYS]
    if unknown:
        raise ValueError("cannot parse unknown nvidia-smi fields: %s" % ", ".join(unknown))
    gpus = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        row = [f.strip() for f in line.split(",")]
        if re.sub(r"\s*\[.*\]$", "", row[0]) == fields[0]:
            continue  # header
        if len(row) != len(fields):
            # Names never contain commas in practice; anything else is not a data row.
            raise ValueError("unexpected nvidia-smi line (expected %d fields): %r" % (len(fields), line))
        gpu = dict(mig_mode=MIG_UNKNOWN, mig_mode_pending=MIG_UNKNOWN)
        for field, text_value in zip(fields, row):
            key = FIELD_KEYS[field]
            if key == "index":
                gpu[key] = _int_or_none(text_value)
            elif key == "memory_total_mib":
                gpu[key] = _int_or_none(re.sub(r"\s*MiB$", "", text_value))
            elif key in ("mig_mode", "mig_mode_pending"):
                gpu[key] = mig_mode_value(text_value)
            else:
                gpu[key] = text_value
        gpu["mig_devices"] = []
        gpus.append(gpu)
    return gpus


def parse_list_gpus(text):
    """`nvidia-smi -L` as a list of GPUs (index, name, uuid), each with its `mig_devices`.

    A MIG device is a dict: uuid, profile (`3g.135gb`), device_index (its number under the
    parent), parent_index, parent_uuid. Raises ValueError on a MIG line that does not parse or
    comes before any GPU line.
    """
    gpus = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LIST_GPU_RE.match(line)
        if match:
            gpus.append(dict(index=int(match.group(1)), name=match.group(2), uuid=match.group(3), mig_devices=[]))
            continue
        if line.startswith("MIG"):
            match = _LIST_MIG_RE.match(line)
            if not match or not gpus:
                raise ValueError("unexpected MIG line in nvidia-smi -L output: %r" % line)
            parent = gpus[-1]
            parent["mig_devices"].append(dict(
                uuid=match.group(3),
                profile=match.group(1),
                device_index=int(match.group(2)),
                parent_index=parent["index"],
                parent_uuid=parent["uuid"],
            ))
        # any other line (a future driver's addition) carries nothing we use
    return gpus


def attach_mig_devices(gpus, listed):
    """Copy the MIG devices of `nvidia-smi -L` (parse_list_gpus) onto the queried GPUs, by UUID."""
    by_uuid = dict((g["uuid"], g) for g in listed)
    for gpu in gpus:
        entry = by_uuid.get(gpu.get("uuid"))
        gpu["mig_devices"] = list(entry["mig_devices"]) if entry else []
    return gpus


def needs_mig_listing(gpus, requested_ids=()):
    """Whether `nvidia-smi -L` must run: a GPU is in MIG mode, or a MIG device was asked for
    and the MIG mode of some GPU is not known."""
    if any(g["mig_mode"] == MIG_ENABLED for g in gpus):
        return True
    wants_mig = any(str(i).strip().startswith("MIG-") for i in requested_ids)
    return wants_mig and any(g["mig_mode"] == MIG_UNKNOWN for g in gpus)


def describe(gpus):
    """`0: NVIDIA RTX PRO 6000 ..., 1: NVIDIA GB300` — for error messages."""
    if not gpus:
        return "no GPU"
    parts = []
    for g in gpus:
        text = "%s: %s" % (g["index"], g["name"])
        if g.get("mig_device"):
            text += " MIG %s" % g["mig_device"]["profile"]
        parts.append(text)
    return ", ".join(parts)


def describe_full(gpus):
    """`0: NVIDIA RTX PRO 6000 ..., GPU-a0b1...; 1: NVIDIA GB300, GPU-6f1c... (MIG enabled)`."""
    if not gpus:
        return "no GPU"
    parts = []
    for g in gpus:
        text = "%s: %s, %s" % (g["index"], g["name"], g.get("uuid"))
        if g.get("mig_mode") == MIG_ENABLED:
            text += " (MIG enabled)"
        parts.append(text)
    return "; ".join(parts)


def describe_mig_devices(gpus):
    """`1: 3g.135gb MIG-...; 1: 3g.135gb MIG-...` (parent index: profile uuid)."""
    devices = [d for g in gpus for d in g.get("mig_devices") or []]
    if not devices:
        return "none"
    return "; ".join("%s: %s %s" % (d["parent_index"], d["profile"], d["uuid"]) for d in devices)


def _seen(gpus, with_mig=True):
    text = "GPUs seen (index: name, uuid): %s." % describe_full(gpus)
    if with_mig and any(g.get("mig_devices") for g in gpus):
        text += " MIG devices seen (parent index: profile uuid): %s." % describe_mig_devices(gpus)
    return text


def mig_enabled_message(gpu, gpus, prefix):
    """Why a GPU in MIG mode is refused, and the two ways out."""
    index = gpu["index"]
    if gpu.get("mig_mode_pending") == MIG_DISABLED:
        state = "MIG mode is still enabled (disabling is pending)"
        disable = ("finish disabling MIG: reset the GPU with nothing running on it (`nvidia-smi -i %s -r`, as root) "
                   "or reboot" % index)
    else:
        state = "MIG mode is enabled"
        disable = ("disable MIG as root with nothing running on the GPU: destroy its MIG instances "
                   "(`nvidia-smi mig -i %s -dci`, `nvidia-smi mig -i %s -dgi`), run `nvidia-smi -i %s -mig 0`, and "
                   "reset the GPU (`nvidia-smi -i %s -r`) or reboot if the mode stays pending"
                   % (index, index, index, index))
    devices = gpu.get("mig_devices") or []
    if devices:
        example = "['%s']" % devices[0]["uuid"]
        listing = "its MIG devices (parent index: profile uuid): %s" % describe_mig_devices([gpu])
    else:
        example = "['MIG-...']"
        listing = "it has no MIG device yet; create one with `nvidia-smi mig -i %s -cgi <profile> -C`" % index
    return (
        "%s GPU %s (%s, %s): %s. SGLang needs the whole GPU; with MIG on, CUDA only sees MIG devices. "
        "Either %s; or select MIG devices explicitly with %s: %s (%s). %s"
        % (prefix, index, gpu["name"], gpu.get("uuid"), state, disable, role_option("device_ids"), example, listing,
           _seen(gpus, with_mig=False)))


def _compile(name_pattern):
    try:
        return re.compile(name_pattern)
    except re.error as exc:
        raise GPUSelectionError("name_pattern %r is not a valid regular expression: %s" % (name_pattern, exc))


def select_gpus(gpus, name_pattern, allow_multiple=False):
    """The GPUs whose name matches the regex name_pattern (re.search); none of them in MIG mode."""
    regex = _compile(name_pattern)
    matched = [g for g in gpus if regex.search(g["name"] or "")]
    if not matched:
        raise GPUSelectionError(
            "No GPU name matches name_pattern %r. GPUs seen (index: name): %s. Fix %s, or list the GPU in %s."
            % (name_pattern, describe(gpus), role_option("name_pattern"), role_option("device_ids")))
    if len(matched) > 1 and not allow_multiple:
        raise GPUSelectionError(
            "name_pattern %r matches %d GPUs (%s). Choose one: list its id in %s (for example ['%s']), "
            "make name_pattern match only one (%s), or set allow_multiple=true (gpu_info) to select all of them. "
            "%s"
            % (name_pattern, len(matched), describe_full(matched), role_option("device_ids"), matched[0]["uuid"],
               ROLE_OPTIONS["name_pattern"], _seen(gpus)))
    for gpu in matched:
        if gpu["mig_mode"] == MIG_ENABLED:
            raise GPUSelectionError(mig_enabled_message(
                gpu, gpus, "name_pattern %r selects" % name_pattern))
    return matched


def _bad_id(requested, reason, gpus, fix):
    return GPUSelectionError(
        "%s: %r %s. %s Fix: %s" % (role_option("device_ids"), requested, reason, _seen(gpus), fix))


def resolve_device_ids(gpus, requested_ids, name_pattern, allow_any_name=False):
    """Check explicit device ids (indexes, GPU- or MIG- UUIDs) against the host.

    Returns (ids, selected): the ids as strings (indexes without leading zeros), and per id the
    GPU it names (a copy of the GPU dict; for a MIG device the parent GPU plus `mig_device`).
    Every id must exist, be named once, and (unless allow_any_name) its GPU must match
    name_pattern; a whole GPU in MIG mode is refused.
    """
    regex = None if allow_any_name else _compile(name_pattern)
    matching = [g for g in gpus if regex is None or regex.search(g["name"] or "")]
    choose = ("use an index or UUID from that list (UUIDs stay the same when GPUs are added or reordered), "
              "or leave %s empty to select the GPU by name_pattern." % role_option("device_ids"))
    ids, selected, seen = [], [], {}
    for raw in requested_ids:
        requested = str(raw).strip()
        gpu = mig = None
        if requested.isdigit():
            requested = str(int(requested))
            gpu = next((g for g in gpus if g["index"] == int(requested)), None)
            if gpu is None:
                raise _bad_id(requested, "is not a GPU of this host (no GPU has index %s)" % requested, gpus, choose)
        elif requested.startswith("GPU-"):
            gpu = next((g for g in gpus if g["uuid"] == requested), None)
            if gpu is None:
                raise _bad_id(requested, "is not a GPU of this host (no GPU has this UUID)", gpus, choose)
        elif requested.startswith("MIG-"):
            for candidate in gpus:
                mig = next((d for d in candidate.get("mig_devices") or [] if d["uuid"] == requested), None)
                if mig is not None:
                    gpu = candidate
                    break
            if gpu is None:
                in_mig = [g for g in gpus if g["mig_mode"] == MIG_ENABLED]
                where = ("no GPU is in MIG mode" if not in_mig
                         else "MIG devices seen: %s" % describe_mig_devices(gpus))
                raise _bad_id(requested, "is not a MIG device of this host (%s)" % where, gpus,
                              "copy a MIG UUID from `nvidia-smi -L` (the `MIG-...` lines under their GPU), "
                              "or " + choose)
        else:
            raise _bad_id(requested, "is neither a GPU index, a GPU- UUID nor a MIG- UUID", gpus, choose)

        if regex is not None and not regex.search(gpu["name"] or ""):
            raise _bad_id(
                requested,
                "is GPU %s (%s), whose name does not match name_pattern %r (%s)"
                % (gpu["index"], gpu["name"], name_pattern, ROLE_OPTIONS["name_pattern"]),
                gpus,
                "give the id of a GPU matching name_pattern (%s), change name_pattern to match this GPU, or "
                "set allow_any_name=true (gpu_info) to skip the name check."
                % (", ".join("%s / %s" % (g["index"], g["uuid"]) for g in matching) or "none on this host"))
        if mig is None and gpu["mig_mode"] == MIG_ENABLED:
            raise GPUSelectionError(mig_enabled_message(gpu, gpus, "%s: %r is" % (role_option("device_ids"), requested)))

        target = mig["uuid"] if mig else gpu["uuid"]
        if target in seen:
            raise _bad_id(requested, "names the same device as %r" % seen[target], gpus, "list each device once.")
        seen[target] = requested
        entry = dict(gpu)
        if mig:
            entry["mig_device"] = dict(mig)
        ids.append(requested)
        selected.append(entry)
    return ids, selected


def device_ids(selected, select_by):
    """Docker device ids of the selected GPUs: indexes or UUIDs (as strings)."""
    if select_by == "uuid":
        return [g["uuid"] for g in selected]
    return [str(g["index"]) for g in selected]


def docker_device_value(ids):
    """`device=<id>` for `docker run --gpus`; several ids are wrapped in double quotes because the
    docker CLI parses --gpus as CSV (`--gpus '"device=0,1"'`)."""
    if len(ids) == 1:
        return "device=%s" % ids[0]
    return '"device=%s"' % ",".join(ids)


def docker_gpus_value(gpus, selected, select_by, use_all_gpus=False, allow_all_with_other_gpus=False):
    """The value for `docker run --gpus`.

    `all` only when asked for and no other GPU shares the host (GB300 and an RTX PRO cannot
    share one CUDA context), or when explicitly allowed. Otherwise `device=<id>`.
    """
    if use_all_gpus:
        selected_keys = set(g["uuid"] for g in selected)
        others = [g for g in gpus if g["uuid"] not in selected_keys]
        if others and not allow_all_with_other_gpus:
            raise GPUSelectionError(
                "use_all_gpus=true refused: other GPUs share this host (%s) besides the selected %s. "
                "A GB300 and an RTX PRO cannot share one CUDA context, so `--gpus all` makes CUDA fail; "
                "pass the selected device instead, or set allow_all_with_other_gpus=true if you are sure. "
                "GPUs seen (index: name): %s." % (describe(others), describe(selected), describe(gpus)))
        return "all"
    return docker_device_value(device_ids(selected, select_by))
