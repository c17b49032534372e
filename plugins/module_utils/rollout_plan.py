# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan of a fleet rollout: canary first, then batches, and the checks that refuse a bad plan.

Pure functions over host names (no Ansible imports), used by the rollout_plan and rollout_halted
filters and their unit tests:

  plan(...)    the order, the batches (what Ansible's `serial` gets) and the capacity check
  halted(...)  whether a Station must not be touched because an earlier batch failed too much

Batch sizes are read as Ansible reads `serial`: a number, a percentage ("30%") of all the Stations of
the rollout (rounded down, at least 1), or a list of those, used in turn with the last one repeated.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

FAILED_OUTCOMES = ("rolled_back", "failed")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class RolloutPlanError(ValueError):
    """A setting that makes no plan; the message names the option and the fix."""


def _size(spec, total, option):
    """One batch size from a number or a percentage of total (Ansible's pct_to_int)."""
    if isinstance(spec, bool):
        raise RolloutPlanError("%s: %r is not a batch size; give a number (2), a percentage ('30%%') or a list of those"
                               % (option, spec))
    if isinstance(spec, int):
        if spec < 1:
            raise RolloutPlanError("%s: %d Stations per batch cannot make progress; give 1 or more" % (option, spec))
        return spec
    text = str(spec).strip()
    if text.isdigit():
        return _size(int(text), total, option)
    match = _PERCENT.match(text)
    if not match or not 0 < float(match.group(1)) <= 100:
        raise RolloutPlanError("%s: %r is not a batch size; give a number (2), a percentage between 0 and 100 ('30%%') "
                               "or a list of those" % (option, spec))
    return max(int(float(match.group(1)) / 100.0 * total), 1)


def batch_sizes(batch, total, option="sglang_rollout_batch"):
    """The sizes of consecutive batches that cover total Stations."""
    specs = list(batch) if isinstance(batch, (list, tuple)) else [batch]
    if not specs:
        raise RolloutPlanError("%s: an empty list makes no batch; give a number, a percentage or a list of those" % option)
    sizes = [_size(spec, total, option) for spec in specs]
    out, covered, index = [], 0, 0
    while covered < total:
        size = min(sizes[min(index, len(sizes) - 1)], total - covered)
        out.append(size)
        covered += size
        index += 1
    return out


def plan(hosts, canary=None, batch=1, min_in_service=0, in_service=None, known_hosts=None):
    """The rollout of hosts (in inventory order): canary batch first, then batches of the rest.

    canary: Station names for the first batch; empty takes the first host. Names that are not Stations
      of known_hosts (all Stations of the run) are refused; Stations of it that need no change are dropped.
    min_in_service: Stations that must stay in service while a batch is out; in_service is how many are in
      service now (default: every host). A plan that would go below the floor is refused.
    Returns dict(order, batches, serial, canary, largest_batch, in_service, min_in_service).
    """
    hosts = [str(h) for h in hosts or []]
    known = [str(h) for h in (known_hosts if known_hosts is not None else hosts)]
    canary = [str(h) for h in (canary or [])] if isinstance(canary, (list, tuple)) else [str(canary)] if canary else []
    unknown = [h for h in canary if h not in known]
    if unknown:
        raise RolloutPlanError("sglang_rollout_canary names %s, not a Station of this run (%s); give inventory names of "
                               "the stations group" % (", ".join(unknown), ", ".join(known) or "none"))
    if isinstance(min_in_service, bool) or not isinstance(min_in_service, int) or min_in_service < 0:
        raise RolloutPlanError("sglang_rollout_min_in_service: %r is not a Station count; give 0 or more" % (min_in_service,))
    first = [h for h in hosts if h in canary] or hosts[:1]
    rest = [h for h in hosts if h not in first]
    batches = [first] if first else []
    start = 0
    for size in batch_sizes(batch, len(hosts)) if rest else []:
        if start >= len(rest):
            break
        batches.append(rest[start:start + size])
        start += size
    in_service = len(known) if in_service is None else int(in_service)
    largest = max([len(b) for b in batches] or [0])
    for number, members in enumerate(batches, 1):
        left = in_service - len(members)
        if left < min_in_service:
            raise RolloutPlanError(
                "sglang_rollout_min_in_service=%d cannot hold: %s %d takes %d of the %d Stations in service out at once "
                "(%s), leaving %d. Fix: a smaller sglang_rollout_batch%s, or a lower sglang_rollout_min_in_service. "
                "Nothing was changed." % (
                    min_in_service, "the canary batch" if number == 1 else "batch", number, len(members), in_service,
                    ", ".join(members), max(left, 0), "/sglang_rollout_canary" if number == 1 else ""))
    return dict(order=[h for b in batches for h in b], batches=batches, serial=[len(b) for b in batches],
                canary=first, largest_batch=largest, in_service=in_service, min_in_service=min_in_service)


def halted(batches, outcomes, host, max_fail_percentage=0):
    """Why host must not be touched (an earlier batch failed above the threshold), or "" to go on.

    outcomes: Station name -> rollout outcome of this run (replaced, unchanged, rolled_back, failed,
    not_reached); a Station of an earlier batch without one failed hard (for example it went unreachable).
    """
    outcomes = outcomes or {}
    for number, members in enumerate(batches or [], 1):
        if host in members:
            return ""
        stopped = [m for m in members if outcomes.get(m) == "not_reached"]
        if stopped:
            return "an earlier batch stopped the rollout (%s not reached)" % ", ".join(stopped)
        # A Station of an earlier batch without an outcome failed outside the rollout's own handling
        # (unreachable, or an error the rollback could not catch): count it as failed.
        failed = [m for m in members if outcomes.get(m) in FAILED_OUTCOMES or not outcomes.get(m)]
        if failed and 100.0 * len(failed) / len(members) > float(max_fail_percentage):
            return ("%s %d failed on %s (%d of %d, above sglang_rollout_max_fail_percentage=%s)" % (
                "the canary batch" if number == 1 else "batch", number, ", ".join(failed), len(failed), len(members),
                max_fail_percentage))
    return ""


def phases(marks):
    """[[phase, epoch seconds], ...] (in any order, the last one the end) -> {phase: seconds it took}."""
    points = sorted(((float(ts), str(name)) for name, ts in marks or []), key=lambda p: p[0])
    out = {}
    for (start, name), (end, _next) in zip(points, points[1:]):
        out[name] = round(out.get(name, 0.0) + end - start, 3)
    return out
