# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse `nvidia-smi --query-gpu` output and pick the GPU(s) SGLang should get.

Pure functions (no Ansible imports) so the gpu_info module and its unit tests share them.
On a DGX Station the GB300 may sit at index 0 or 1 next to an RTX PRO workstation card,
so the GPU is chosen by name, never by position.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

QUERY_FIELDS = ("index", "name", "uuid", "pci.bus_id", "memory.total", "compute_cap")
QUERY_ARGS = ["--query-gpu=%s" % ",".join(QUERY_FIELDS), "--format=csv,noheader,nounits"]

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


class GPUSelectionError(Exception):
    """Selection failed; message lists every GPU seen."""


def _int_or_none(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def parse_query_gpu(text):
    """Rows of `--query-gpu=index,name,uuid,pci.bus_id,memory.total,compute_cap
    --format=csv,noheader,nounits` as dicts.

    Tolerates a header line and unit suffixes (`81559 MiB`) so output captured with
    other --format flags parses too. Raises ValueError on a line with the wrong
    number of fields (e.g. an error message printed on stdout).
    """
    gpus = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(",")]
        if fields[0] == "index":
            continue  # header
        if len(fields) != len(QUERY_FIELDS):
            # Names never contain commas in practice; anything else is not a data row.
            raise ValueError("unexpected nvidia-smi line (expected %d fields): %r" % (len(QUERY_FIELDS), line))
        index, name, uuid, bus_id, memory, compute_cap = fields
        memory = re.sub(r"\s*MiB$", "", memory)
        gpus.append(dict(
            index=_int_or_none(index),
            name=name,
            uuid=uuid,
            pci_bus_id=bus_id,
            memory_total_mib=_int_or_none(memory),
            compute_cap=compute_cap,
        ))
    return gpus


def describe(gpus):
    """`0: NVIDIA RTX PRO 6000 ..., 1: NVIDIA GB300` — for error messages."""
    if not gpus:
        return "no GPU"
    return ", ".join("%s: %s" % (g["index"], g["name"]) for g in gpus)


def select_gpus(gpus, name_pattern, allow_multiple=False):
    """The GPUs whose name matches the regex name_pattern (re.search)."""
    try:
        regex = re.compile(name_pattern)
    except re.error as exc:
        raise GPUSelectionError("name_pattern %r is not a valid regular expression: %s" % (name_pattern, exc))
    matched = [g for g in gpus if regex.search(g["name"] or "")]
    if not matched:
        raise GPUSelectionError(
            "No GPU name matches name_pattern %r. GPUs seen (index: name): %s." % (name_pattern, describe(gpus)))
    if len(matched) > 1 and not allow_multiple:
        raise GPUSelectionError(
            "name_pattern %r matches %d GPUs (%s); make the pattern specific or set allow_multiple=true. "
            "GPUs seen (index: name): %s." % (name_pattern, len(matched), describe(matched), describe(gpus)))
    return matched


def device_ids(selected, select_by):
    """Docker device ids of the selected GPUs: indexes or UUIDs (as strings)."""
    if select_by == "uuid":
        return [g["uuid"] for g in selected]
    return [str(g["index"]) for g in selected]


def docker_gpus_value(gpus, selected, select_by, use_all_gpus=False, allow_all_with_other_gpus=False):
    """The value for `docker run --gpus`.

    `all` only when asked for and no other GPU shares the host (GB300 and an RTX PRO cannot
    share one CUDA context), or when explicitly allowed. Otherwise `device=<id>`; several ids
    are wrapped in double quotes because the docker CLI parses --gpus as CSV
    (`--gpus '"device=0,1"'`).
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
    ids = device_ids(selected, select_by)
    if len(ids) == 1:
        return "device=%s" % ids[0]
    return '"device=%s"' % ",".join(ids)
