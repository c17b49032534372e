# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report written after every site.yml and rollout.yml run: one document over every Station.

Input: per Station what the plays found (GPU, server, validation, benchmark, gateway membership,
metrics URL, the error of a failed provision or deploy, the outcome of a rollout) and the gateway.
Output: the document (docs/schemas/fleet-report.schema.json, schema_version 1) with a verdict per
Station and for the fleet, the releases in service, the rollout outcomes and image drift; rendered as
fleet-report.json, fleet-report.md, fleet-report.html (offline, the look of report_html) and
prometheus-targets.json (file_sd).

Every file is derived from the document alone, so they change together. VOLATILE_FIELDS are the
values that differ between two runs that changed nothing (the time of the run, the measured
readiness wait, the rollout's phase timings); stable() leaves them out for comparisons and
carry_volatile() keeps the old ones when nothing else changed, so that a re-run rewrites nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import configparser
import copy
import datetime
import json
import os
import re
from html import escape
from urllib.parse import urlsplit, urlunsplit

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.dgx_station.inference.plugins.module_utils import report_html
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import REDACTED, redact

SCHEMA_VERSION = 1
KIND = "fleet_report"
GENERATOR = "dgx_station.inference.sglang_fleet_report"
COLLECTION = "dgx_station.inference"
SCHEMA_NAME = "fleet-report.schema.json"

PASS = "PASS"
FAIL = "FAIL"

FILE_JSON = "fleet-report.json"
FILE_MD = "fleet-report.md"
FILE_HTML = "fleet-report.html"
FILE_TARGETS = "prometheus-targets.json"
# paths key -> file name (the module's `paths` return value).
FILES = (("json", FILE_JSON), ("markdown", FILE_MD), ("html", FILE_HTML), ("prometheus_targets", FILE_TARGETS))

# Paths into the document ("*" = every key of that dict) whose values change between two runs
# that changed nothing: the time the report was made, the seconds this run's readiness wait
# took (measured again on every deploy, also when the container was not touched) and the seconds
# each phase of a Station's rollout took.
VOLATILE_FIELDS = (("generated_at",), ("stations", "*", "server", "ready_after_s"), ("stations", "*", "rollout", "phases_s"))

GPU_KEYS = (("name", "str"), ("uuid", "str"), ("memory_total_mib", "int"), ("driver_version", "str"),
            ("compute_cap", "str"), ("mig_mode", "str"))
SERVER_KEYS = (("name", "str"), ("image", "str"), ("image_id", "str"), ("image_digests", "strlist"), ("model", "str"),
               ("served_model", "str"), ("release", "str"), ("started_at", "str"), ("ready_after_s", "num"),
               ("base_url", "url"), ("tag_moved", "bool"), ("replaced", "bool"))
WORKER_KEYS = (("id", "str"), ("url", "url"), ("status", "str"), ("is_healthy", "bool"), ("model_id", "str"))
GATEWAY_KEYS = (("url", "url"), ("local_url", "url"), ("version", "str"), ("policy", "str"), ("health_window_s", "num"),
                ("prometheus_url", "url"), ("healthy_urls", "urlset"), ("unhealthy_urls", "urlset"))

# What a rollout (playbooks/rollout.yml, fact sglang_rollout_result) did to a Station.
ROLLOUT_OUTCOMES = ("replaced", "unchanged", "rolled_back", "failed", "not_reached")
# The outcomes that fail the Station: the new release did not go into service there.
ROLLOUT_FAILED = ("rolled_back", "failed")
ROLLOUT_KEYS = (("outcome", "str"), ("release", "str"), ("release_before", "str"), ("release_attempted", "str"),
                ("phase", "str"), ("catalog_id", "str"), ("msg", "str"), ("restore", "str"),
                ("container_id_before", "str"), ("container_id", "str"))
# The phases of a rollout in the order they run; phases_s keeps this order (others after, by name).
ROLLOUT_PHASES = ("drain", "idle", "replace", "stop", "boot", "warm-up", "validate", "admit", "commit", "rollback")
# Headers of the Rollout section of the Markdown and HTML renderings.
ROLLOUT_COUNT_HEADERS = ("Replaced", "Unchanged", "Rolled back", "Failed", "Not reached")
ROLLOUT_STATION_HEADERS = ("Station", "Outcome", "Release before", "Release now", "Attempted", "Failure / note")

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Labels the report sets itself on a Station's target group; extra labels do not override them.
OWN_LABELS = ("job", "station", "model", "release")


class FleetReportError(ValueError):
    """An input the report cannot represent (for example a label name Prometheus refuses)."""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- normalising
def _str(value):
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _bool(value):
    if value is None or value == "":
        return None
    try:
        return boolean(value, strict=False)
    except TypeError:
        return bool(value)


def _num(value):
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number == int(number) and "." not in str(value) else number


def _int(value):
    number = _num(value)
    return None if number is None else int(number)


def clean_url(value):
    """The URL without a trailing slash, its user:password replaced by REDACTED (None when empty)."""
    value = _str(value)
    if value is None:
        return None
    value = value.rstrip("/")
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if "@" in parts.netloc:
        netloc = REDACTED + "@" + parts.netloc.rsplit("@", 1)[1]
        value = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return value


def _same_url(a, b):
    return a is not None and b is not None and a.rstrip("/").lower() == b.rstrip("/").lower()


_CONVERT = {
    "str": _str, "int": _int, "num": _num, "bool": _bool, "url": clean_url,
    "strlist": lambda v: sorted(set(s for s in (_str(x) for x in (v if isinstance(v, (list, tuple)) else [v] if v else []))
                                    if s)),
    "urlset": lambda v: sorted(set(s for s in (clean_url(x) for x in (v if isinstance(v, (list, tuple)) else [v] if v else []))
                                   if s)),
}


def _pick(data, keys):
    data = data if isinstance(data, dict) else {}
    return dict((key, _CONVERT[kind](data.get(key))) for key, kind in keys)


def _section(data, keys):
    """A sub-dict of a Station with exactly `keys` (unknown keys dropped), or None when not given."""
    if not isinstance(data, dict) or not data:
        return None
    return _pick(data, keys)


def _validation(data):
    if not isinstance(data, dict) or not data:
        return None
    failures = data.get("failures") or []
    if not isinstance(failures, (list, tuple)):
        failures = [failures]
    return dict(passed=_bool(data.get("passed")) is True, failures=[str(f) for f in failures if f is not None and f != ""],
                report=_str(data.get("report")))


def _benchmark(data):
    if not isinstance(data, dict) or not data:
        return None
    verdict = _str(data.get("verdict"))
    # The sglang_benchmark role publishes the directory of its reports as report_dir.
    return dict(verdict=verdict.lower() if verdict else None, report=_str(data.get("report") or data.get("report_dir")))


def _station_gateway(data):
    if not isinstance(data, dict) or not data:
        return None
    return dict(member=_bool(data.get("member")) is True, worker_id=_str(data.get("worker_id")),
                status=_str(data.get("status")), is_healthy=_bool(data.get("is_healthy")))


def _error(data):
    if not data:
        return None
    if not isinstance(data, dict):
        return dict(phase="unknown", msg=_str(data))
    if not (data.get("phase") or data.get("msg")):
        return None
    return dict(phase=_str(data.get("phase")) or "unknown", msg=_str(data.get("msg")))


def _labels(station, data):
    if data in (None, ""):
        return {}
    if not isinstance(data, dict):
        raise FleetReportError("stations[%s].labels must be a dict of Prometheus label names to values" % station)
    labels = {}
    for name, value in data.items():
        name = str(name)
        if not LABEL_NAME.match(name) or name.startswith("__"):
            raise FleetReportError("stations[%s].labels: %r is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, "
                                   "not starting with __)" % (station, name))
        labels[name] = "" if value is None else str(value)
    return labels


def _phases(data):
    """{phase: seconds} in the order the phases run; entries that are no number of seconds are dropped."""
    if not isinstance(data, dict):
        return {}
    seconds = {}
    for name, value in data.items():
        name, value = _str(name), _num(value)
        if name is not None and value is not None and value >= 0:
            seconds[name] = value
    rank = dict((name, index) for index, name in enumerate(ROLLOUT_PHASES))
    return dict((name, seconds[name]) for name in sorted(seconds, key=lambda n: (rank.get(n, len(rank)), n)))


def _rollout(station, data):
    """The Station's rollout outcome (fact sglang_rollout_result), or None when no rollout ran on it."""
    if data in (None, "") or (isinstance(data, dict) and not data):
        return None
    if not isinstance(data, dict):
        raise FleetReportError("stations[%s].rollout must be a dict (the fact sglang_rollout_result), not %r"
                               % (station, data))
    rollout = _pick(data, ROLLOUT_KEYS)
    outcome = rollout["outcome"]
    if outcome is not None:
        outcome = rollout["outcome"] = outcome.lower()
    if outcome not in ROLLOUT_OUTCOMES:
        raise FleetReportError("stations[%s].rollout.outcome %r is not a rollout outcome (%s)"
                               % (station, data.get("outcome"), ", ".join(ROLLOUT_OUTCOMES)))
    rollout["phases_s"] = _phases(data.get("phases_s"))
    return rollout


def normalise_gateway(data):
    """The gateway with its documented keys only (None without a gateway); workers sorted by URL and id."""
    if not isinstance(data, dict) or not data:
        return None
    gateway = _pick(data, GATEWAY_KEYS)
    workers = data.get("workers") or []
    if not isinstance(workers, (list, tuple)):
        workers = []
    gateway["workers"] = sorted((_pick(w, WORKER_KEYS) for w in workers if isinstance(w, dict)),
                                key=lambda w: (w["url"] or "", w["id"] or ""))
    return gateway


def normalise_station(name, data):
    """One Station with every documented key (missing ones null); unknown keys are dropped."""
    data = data if isinstance(data, dict) else {}
    return dict(
        gpu=_section(data.get("gpu"), GPU_KEYS),
        server=_section(data.get("server"), SERVER_KEYS),
        validation=_validation(data.get("validation")),
        benchmark=_benchmark(data.get("benchmark")),
        gateway=_station_gateway(data.get("gateway")),
        metrics_url=clean_url(data.get("metrics_url")),
        labels=_labels(name, data.get("labels")),
        error=_error(data.get("error")),
        rollout=_rollout(name, data.get("rollout")),
    )


def _find_worker(station, gateway):
    if not gateway:
        return None
    worker_id = (station["gateway"] or {}).get("worker_id")
    base_url = (station["server"] or {}).get("base_url")
    for worker in gateway["workers"]:
        if worker_id and worker["id"] == worker_id:
            return worker
    for worker in gateway["workers"]:
        if _same_url(worker["url"], base_url):
            return worker
    return None


def _resolve_membership(station, gateway):
    """Fill the Station's gateway entry from the gateway's own lists where the Station did not say.

    A Station that gave its entry keeps what it said; missing status, health or worker id come from
    the gateway worker with that id or the Station's base_url, then from healthy_urls/unhealthy_urls.
    A Station without an entry while there is a gateway is a member only when such a worker exists.
    """
    if gateway is None:
        return station["gateway"]
    entry = dict(station["gateway"]) if station["gateway"] else None
    worker = _find_worker(station, gateway)
    if entry is None:
        entry = dict(member=worker is not None, worker_id=None, status=None, is_healthy=None)
    if worker is not None and entry["member"]:
        for key, source in (("worker_id", "id"), ("status", "status"), ("is_healthy", "is_healthy")):
            if entry[key] is None:
                entry[key] = worker[source]
    if entry["member"] and entry["is_healthy"] is None:
        url = (worker or {}).get("url") or (station["server"] or {}).get("base_url")
        if any(_same_url(url, u) for u in gateway["healthy_urls"]):
            entry["is_healthy"] = True
        elif any(_same_url(url, u) for u in gateway["unhealthy_urls"]):
            entry["is_healthy"] = False
    return entry


# --------------------------------------------------------------------------- verdicts
def _rollout_failure(rollout):
    """`in phase boot [catalog_id]: msg` of a failed rollout (the catalog id not repeated from the message)."""
    text = ""
    if rollout["phase"]:
        text += " in phase %s" % rollout["phase"]
    msg = rollout["msg"]
    if rollout["catalog_id"]:
        text += " [%s]" % rollout["catalog_id"]
        prefix = "[%s]" % rollout["catalog_id"]
        if msg and msg.startswith(prefix):
            msg = msg[len(prefix):].strip() or None
    if msg:
        text += ": " + " ".join(msg.split())
    return text


def rollout_reason(rollout):
    """Why a Station's rollout fails it, or None (replaced, unchanged, not_reached: the Station serves)."""
    if not rollout or rollout["outcome"] not in ROLLOUT_FAILED:
        return None
    attempted = rollout["release_attempted"]
    head = "rollout" + (" of %s" % attempted if attempted else "")
    if rollout["outcome"] == "rolled_back":
        return head + " rolled back" + _rollout_failure(rollout)
    reason = head + " failed" + _rollout_failure(rollout)
    # `failed`: even the rollback did not bring the Station back into service; restore says how far it got.
    restore = " ".join((rollout["restore"] or "").split())
    if not restore:
        return reason + "; ROLLBACK FAILED"
    if restore.upper().startswith("ROLLBACK"):
        return reason + "; " + restore
    return reason + "; ROLLBACK incomplete: " + restore


def failed_benchmark_runs(data):
    """The runs a Station's benchmark failed in, from what the sglang_benchmark role publishes (`runs`: run -> verdict)."""
    runs = (data.get("benchmark") or {}).get("runs") if isinstance(data, dict) and isinstance(data.get("benchmark"), dict) else None
    if not isinstance(runs, dict):
        return []
    return sorted(str(name) for name, verdict in runs.items() if _str(verdict) and _str(verdict).lower() == "fail")


def benchmark_reason(benchmark, failed_runs=()):
    """Why the benchmark fails a Station (its verdict is fail, a failed benchmark run included), or None."""
    if (benchmark or {}).get("verdict") != "fail":
        return None
    reason = "benchmark verdict fail"
    if failed_runs:
        reason += " (%s %s)" % ("run" if len(failed_runs) == 1 else "runs", ", ".join(failed_runs))
    return reason


def station_reasons(station, with_gateway, failed_runs=()):
    """Why a Station fails (empty: it passes). See verdict rules in docs/fleet.md.

    failed_runs: the benchmark runs that failed (failed_benchmark_runs of the input), named in the reason.
    """
    reasons = []
    error = station["error"]
    if error:
        reasons.append("%s failed%s" % (error["phase"], ": " + error["msg"] if error["msg"] else ""))
    validation = station["validation"]
    if validation is None:
        if not error:
            reasons.append("validation did not run")
    elif not validation["passed"]:
        reasons.append("validation failed" + (": " + "; ".join(validation["failures"]) if validation["failures"] else ""))
    benchmark = benchmark_reason(station["benchmark"], failed_runs)
    if benchmark:
        reasons.append(benchmark)
    rollout = rollout_reason(station.get("rollout"))
    if rollout:
        reasons.append(rollout)
    if with_gateway:
        entry = station["gateway"]
        if not entry or not entry["member"]:
            reasons.append("not a member of the gateway")
        elif entry["is_healthy"] is not True:
            state = "health unknown" if entry["is_healthy"] is None else "unhealthy"
            status = entry["status"] if entry["status"] and entry["status"].lower() != state else None
            reasons.append("%s in the gateway%s" % (state, " (status %s)" % status if status else ""))
    return reasons


def image_drift(stations):
    """tag -> {image_id -> [stations]} for every image tag that runs as more than one image ID."""
    by_tag = {}
    for name, station in stations.items():
        server = station["server"] or {}
        if server.get("image") and server.get("image_id"):
            by_tag.setdefault(server["image"], {}).setdefault(server["image_id"], []).append(name)
    return dict((tag, dict((i, sorted(names)) for i, names in ids.items()))
                for tag, ids in by_tag.items() if len(ids) > 1)


def rollout_summary(stations):
    """counts and Stations per rollout outcome, or None when no Station has a rollout entry."""
    entries = dict((name, s["rollout"]) for name, s in stations.items() if s.get("rollout"))
    if not entries:
        return None
    names = dict((outcome, sorted(n for n, r in entries.items() if r["outcome"] == outcome)) for outcome in ROLLOUT_OUTCOMES)
    return dict(counts=dict((outcome, len(names[outcome])) for outcome in ROLLOUT_OUTCOMES), stations=names)


def build_report(stations, gateway=None, collection_version=None, known_secrets=(), now=None):
    """The fleet report document (credentials redacted, known_secrets replaced wherever they are)."""
    stations = redact(stations or {}, known_secrets)
    gateway = normalise_gateway(redact(gateway, known_secrets))
    out = {}
    for name in sorted(stations, key=str):
        out[str(name)] = normalise_station(str(name), stations[name])
    station_gateways = any(s["gateway"] is not None for s in out.values())
    with_gateway = gateway is not None or station_gateways
    for name, station in out.items():
        station["gateway"] = _resolve_membership(station, gateway)
        station["reasons"] = station_reasons(station, with_gateway, failed_benchmark_runs(stations[name]))
        station["verdict"] = FAIL if station["reasons"] else PASS
    drift = image_drift(out)
    drifting = set(n for ids in drift.values() for names in ids.values() for n in names)
    for name, station in out.items():
        station["drift"] = name in drifting
    releases = {}
    for name, station in out.items():
        release = (station["server"] or {}).get("release")
        if release and not station["error"]:
            releases.setdefault(release, []).append(name)
    failed = [n for n, s in out.items() if s["verdict"] == FAIL]
    members = [s for s in out.values() if s["gateway"] and s["gateway"]["member"]]
    counts = dict(stations=len(out), passed=len(out) - len(failed), failed=len(failed), in_gateway=len(members),
                  healthy_in_gateway=len([s for s in members if s["gateway"]["is_healthy"] is True]))
    fleet = dict(verdict=PASS if out and not failed else FAIL, failed=failed, counts=counts, releases=releases,
                 with_gateway=with_gateway, drift=drift, rollout=rollout_summary(out))
    # The gateway at the top: its `url` is the fleet's one endpoint.
    return dict(schema_version=SCHEMA_VERSION, kind=KIND, generator=GENERATOR, generated_at=now or _now(),
                collection=dict(name=COLLECTION, version=_str(collection_version)), stations=out, fleet=fleet,
                gateway=gateway)


def summary_line(doc):
    """One line: `fleet PASS: 3/3 Stations pass, 3 in the gateway (3 healthy)`."""
    fleet = doc["fleet"]
    counts = fleet["counts"]
    line = "fleet %s: %d/%d Stations pass" % (fleet["verdict"], counts["passed"], counts["stations"])
    if fleet["failed"]:
        line += " (failed: %s)" % ", ".join(fleet["failed"])
    if not counts["stations"]:
        line += " (no Station in the report)"
    if fleet["with_gateway"]:
        line += ", %d in the gateway (%d healthy)" % (counts["in_gateway"], counts["healthy_in_gateway"])
    else:
        line += ", no gateway"
    if fleet["drift"]:
        line += "; image drift on %s" % ", ".join(sorted(fleet["drift"]))
    if fleet.get("rollout"):
        line += "; rollout: %s" % ", ".join("%d %s" % (n, o) for o, n in (
            (o, fleet["rollout"]["counts"][o]) for o in ROLLOUT_OUTCOMES) if n)
    return line


# --------------------------------------------------------------------------- volatile fields
def _places(doc, path, trail=()):
    """(parent, key, trail) for every place `path` ("*" = every key of that dict) names in doc."""
    if not isinstance(doc, dict):
        return
    head, rest = path[0], path[1:]
    for key in (sorted(doc) if head == "*" else [head]):
        if key not in doc:
            continue
        if rest:
            yield from _places(doc[key], rest, trail + (key,))
        else:
            yield doc, key, trail + (key,)


def _lookup(doc, trail):
    for key in trail:
        if not isinstance(doc, dict) or key not in doc:
            raise KeyError(key)
        doc = doc[key]
    return doc


def stable(doc):
    """A copy of the document without VOLATILE_FIELDS: equal for two runs that changed nothing."""
    doc = copy.deepcopy(doc)
    for path in VOLATILE_FIELDS:
        for parent, key, _trail in list(_places(doc, path)):
            del parent[key]
    return doc


def carry_volatile(new, old):
    """A copy of new with the volatile values of old where old has them (for stable(new) == stable(old))."""
    new = copy.deepcopy(new)
    for path in VOLATILE_FIELDS:
        for parent, key, trail in list(_places(new, path)):
            try:
                parent[key] = copy.deepcopy(_lookup(old, trail))
            except KeyError:
                pass
    return new


# --------------------------------------------------------------------------- Prometheus file_sd
def _target(url):
    """(host:port, scheme, path) of a URL, or None when it names no host."""
    if not url:
        return None
    try:
        parts = urlsplit(url if "//" in url else "http://" + url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host:
        return None
    scheme = (parts.scheme or "http").lower()
    if port is None:
        port = 443 if scheme == "https" else 80
    if ":" in host:
        host = "[%s]" % host
    return "%s:%d" % (host, port), scheme, parts.path or "/metrics"


def _meta_labels(scheme, path):
    labels = {}
    if scheme == "https":
        labels["__scheme__"] = "https"
    if path != "/metrics":
        labels["__metrics_path__"] = path
    return labels


def prometheus_targets(doc, problems=None):
    """The file_sd target groups: one per Station with a metrics URL (job sglang), one for the gateway (job smg).

    problems (a list) receives a message for every URL that names no host (its group is left out).
    """
    groups = []
    for name, station in doc["stations"].items():
        url = station["metrics_url"]
        if not url:
            continue
        target = _target(url)
        if target is None:
            if problems is not None:
                problems.append("stations[%s].metrics_url %r names no host: no Prometheus target" % (name, url))
            continue
        server = station["server"] or {}
        labels = dict(station["labels"])
        labels.update(_meta_labels(target[1], target[2]))
        labels.update(job="sglang", station=name)
        for key in ("model", "release"):
            if server.get(key):
                labels[key] = server[key]
            else:
                labels.pop(key, None)
        groups.append(dict(targets=[target[0]], labels=labels))
    gateway = doc["gateway"]
    if gateway and gateway["prometheus_url"]:
        target = _target(gateway["prometheus_url"])
        if target is None:
            if problems is not None:
                problems.append("gateway.prometheus_url %r names no host: no Prometheus target" % gateway["prometheus_url"])
        else:
            labels = _meta_labels(target[1], target[2])
            labels.update(job="smg", gateway=gateway["url"] or gateway["local_url"] or target[0])
            groups.append(dict(targets=[target[0]], labels=labels))
    return groups


# --------------------------------------------------------------------------- Markdown
def _v(value):
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def short_id(image_id):
    """sha256:0123456789ab (12 hex digits) of an image ID."""
    if not image_id:
        return None
    algo, _sep, digest = image_id.rpartition(":")
    return (algo + ":" if algo else "") + digest[:12]


def _validation_text(station):
    v = station["validation"]
    if v is None:
        return "not run"
    return "passed" if v["passed"] else "failed (%d)" % len(v["failures"])


def _gateway_text(station):
    g = station["gateway"]
    if g is None:
        return "-"
    if not g["member"]:
        return "not a member"
    health = {True: "healthy", False: "unhealthy", None: "health unknown"}[g["is_healthy"]]
    return "%s%s" % (health, " (%s)" % g["status"] if g["status"] and g["status"].lower() != health else "")


def _rollout_text(station):
    """The Stations table's rollout cell: the outcome, with the phase where it failed."""
    r = station.get("rollout")
    if not r:
        return None
    if r["outcome"] in ROLLOUT_FAILED and r["phase"]:
        return "%s (%s)" % (r["outcome"], r["phase"])
    return r["outcome"]


def _rollout_note(rollout):
    """What the Rollout section says about one Station: where and why it failed, or why it was not reached."""
    if rollout["outcome"] in ROLLOUT_FAILED:
        note = _rollout_failure(rollout).strip()
        if note.startswith("in phase "):
            note = "phase " + note[len("in phase "):]
        restore = " ".join((rollout["restore"] or "").split())
        return "; ".join(x for x in (note, restore) if x) or None
    if rollout["outcome"] == "not_reached":
        return rollout["msg"]
    return None


def _secs(value):
    return "%.1f" % value


def _rollout_tables(doc):
    """(counts row, [per-Station rows], timing headers, [timing rows]) of the Rollout section, all plain text."""
    summary = doc["fleet"].get("rollout")
    counts = [str(summary["counts"][o]) for o in ROLLOUT_OUTCOMES]
    stations = []
    timed = []
    for name, s in doc["stations"].items():
        r = s.get("rollout")
        if not r:
            continue
        stations.append([name, r["outcome"], r["release_before"], r["release"], r["release_attempted"], _rollout_note(r)])
        if r["phases_s"]:
            timed.append((name, r["phases_s"]))
    rank = dict((name, index) for index, name in enumerate(ROLLOUT_PHASES))
    phases = sorted(set(p for _n, times in timed for p in times), key=lambda p: (rank.get(p, len(rank)), p))
    timings = [[name] + [_secs(times[p]) if p in times else None for p in phases] + [_secs(sum(times.values()))]
               for name, times in timed]
    return counts, stations, phases, timings


def _rows(doc):
    """Per Station the cells both renderings show (plain text)."""
    rows = []
    for name, s in doc["stations"].items():
        gpu = s["gpu"] or {}
        srv = s["server"] or {}
        rows.append(dict(
            station=name, verdict=s["verdict"], gpu=gpu.get("name"),
            gpu_mem=("%d MiB" % gpu["memory_total_mib"]) if gpu.get("memory_total_mib") is not None else None,
            driver=gpu.get("driver_version"), mig=gpu.get("mig_mode"), model=srv.get("model"),
            release=srv.get("release"), image=srv.get("image"), image_id=short_id(srv.get("image_id")),
            drift=s["drift"], tag_moved=srv.get("tag_moved"), replaced=srv.get("replaced"),
            started_at=srv.get("started_at"), ready_after_s=srv.get("ready_after_s"),
            validation=_validation_text(s), benchmark=(s["benchmark"] or {}).get("verdict") or ("-" if s["benchmark"] is None else "?"),
            gateway=_gateway_text(s), rollout=_rollout_text(s), metrics=s["metrics_url"], reasons=s["reasons"]))
    return rows


def _md_cell(value):
    return _v(value).replace("|", "\\|").replace("\n", " ")


def markdown(doc):
    fleet = doc["fleet"]
    counts = fleet["counts"]
    lines = ["# SGLang fleet report", ""]
    lines.append("Generated %s by %s %s." % (
        doc["generated_at"], doc["collection"]["name"], doc["collection"]["version"] or "(version unknown)"))
    lines.append("")
    lines.append("**Fleet verdict: %s** - %s" % (fleet["verdict"], summary_line(doc)))
    lines.append("")
    lines.append("| Stations | Passed | Failed | In the gateway | Healthy in the gateway |")
    lines.append("|---:|---:|---:|---:|---:|")
    lines.append("| %d | %d | %d | %s | %s |" % (counts["stations"], counts["passed"], counts["failed"],
                                                 counts["in_gateway"] if fleet["with_gateway"] else "-",
                                                 counts["healthy_in_gateway"] if fleet["with_gateway"] else "-"))
    lines.append("")
    lines.append("## Stations")
    lines.append("")
    lines.append("| Station | Verdict | GPU | Driver | MIG | Model | Release | Image | Image ID | Started | Validation "
                 "| Benchmark | Gateway | Rollout | Reasons |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in _rows(doc):
        lines.append("| %s |" % " | ".join(_md_cell(c) for c in (
            r["station"], r["verdict"], " ".join(x for x in (r["gpu"], r["gpu_mem"] and "(%s)" % r["gpu_mem"]) if x) or None,
            r["driver"], r["mig"], r["model"], r["release"], r["image"],
            (r["image_id"] or "-") + (" DRIFT" if r["drift"] else "") + (" (tag moved)" if r["tag_moved"] else ""),
            r["started_at"], r["validation"], r["benchmark"], r["gateway"], r["rollout"], "; ".join(r["reasons"]) or None)))
    lines.append("")
    lines.append("## Releases in service")
    lines.append("")
    if fleet["releases"]:
        for release, names in sorted(fleet["releases"].items()):
            lines.append("- `%s`: %s" % (release, ", ".join(names)))
    else:
        lines.append("- none reported")
    lines.append("")
    lines.extend(_markdown_rollout(doc))
    lines.append("## Image drift")
    lines.append("")
    if fleet["drift"]:
        for tag, ids in sorted(fleet["drift"].items()):
            lines.append("- **DRIFT** `%s` runs as %d images: %s" % (tag, len(ids), "; ".join(
                "`%s` on %s" % (short_id(i), ", ".join(names)) for i, names in sorted(ids.items()))))
    else:
        lines.append("- none: every image tag runs as one image ID")
    lines.append("")
    gateway = doc["gateway"]
    lines.append("## Gateway")
    lines.append("")
    if gateway is None:
        lines.append("No gateway." if not fleet["with_gateway"] else "Stations report gateway membership; no gateway details given.")
    else:
        lines.append("URL %s (local %s), version %s, policy %s, health window %s s, metrics %s." % (
            _v(gateway["url"]), _v(gateway["local_url"]), _v(gateway["version"]), _v(gateway["policy"]),
            _v(gateway["health_window_s"]), _v(gateway["prometheus_url"])))
        lines.append("")
        lines.append("| Worker | URL | Model | Status | Healthy |")
        lines.append("|---|---|---|---|---|")
        for w in gateway["workers"]:
            lines.append("| %s |" % " | ".join(_md_cell(c) for c in (w["id"], w["url"], w["model_id"], w["status"], w["is_healthy"])))
    lines.append("")
    return "\n".join(lines)


def _md_table(headers, rows, right_from):
    lines = ["| %s |" % " | ".join(_md_cell(h) for h in headers),
             "|%s|" % "|".join("---:" if i >= right_from else "---" for i in range(len(headers)))]
    lines.extend("| %s |" % " | ".join(_md_cell(c) for c in row) for row in rows)
    return lines


def _markdown_rollout(doc):
    lines = ["## Rollout", ""]
    if not doc["fleet"].get("rollout"):
        return lines + ["No rollout in this run.", ""]
    counts, stations, phases, timings = _rollout_tables(doc)
    lines.extend(_md_table(ROLLOUT_COUNT_HEADERS, [counts], 0))
    lines.append("")
    lines.extend(_md_table(ROLLOUT_STATION_HEADERS, stations, len(ROLLOUT_STATION_HEADERS)))
    lines.append("")
    if timings:
        lines.append("Seconds per phase:")
        lines.append("")
        lines.extend(_md_table(["Station"] + phases + ["Total"], timings, 1))
        lines.append("")
    return lines


# --------------------------------------------------------------------------- HTML
_CSS = report_html.BASE_CSS + """.badge{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;font-weight:bold}
.drift{background:#fff0c2;color:#7a5200;border:1px solid #e0b000}
.moved{background:#e8eefc;color:#23418f;border:1px solid #9fb3e6}
ul.reasons{margin:0;padding-left:16px;text-align:left}
code{font-size:12px}
"""


def _h(value):
    return escape(_v(value))


def _verdict_span(verdict):
    return '<span class="%s">%s</span>' % ("pass" if verdict == PASS else "fail", escape(verdict))


def _outcome_span(outcome):
    return '<span class="fail">%s</span>' % escape(outcome) if outcome in ROLLOUT_FAILED else escape(outcome)


def _html_rollout(doc):
    body = ["<h2>Rollout</h2>"]
    if not doc["fleet"].get("rollout"):
        return body + ["<p>No rollout in this run.</p>"]
    counts, stations, phases, timings = _rollout_tables(doc)
    body.append(report_html.table(ROLLOUT_COUNT_HEADERS, [[escape(c) for c in counts]], left_cols=0))
    body.append(report_html.table(ROLLOUT_STATION_HEADERS, [
        [escape(row[0]), _outcome_span(row[1])] + [_h(c) for c in row[2:]] for row in stations],
        left_cols=len(ROLLOUT_STATION_HEADERS)))
    if timings:
        body.append('<div class="meta">Seconds per phase</div>')
        body.append(report_html.table(["Station"] + phases + ["Total"], [[_h(c) for c in row] for row in timings],
                                      left_cols=1))
    return body


def html(doc):
    fleet = doc["fleet"]
    counts = fleet["counts"]
    body = ["<h1>SGLang fleet report</h1>",
            '<div class="meta">generated %s &middot; %s %s &middot; %d Stations</div>' % (
                escape(doc["generated_at"]), escape(doc["collection"]["name"]),
                escape(doc["collection"]["version"] or "(version unknown)"), counts["stations"])]
    body.append("<p>Fleet verdict: %s &middot; %s</p>" % (_verdict_span(fleet["verdict"]), escape(summary_line(doc))))
    body.append(report_html.table(
        ["Stations", "Passed", "Failed", "In the gateway", "Healthy in the gateway"],
        [[str(counts["stations"]), str(counts["passed"]), str(counts["failed"]),
          str(counts["in_gateway"]) if fleet["with_gateway"] else "-",
          str(counts["healthy_in_gateway"]) if fleet["with_gateway"] else "-"]], left_cols=0))
    body.append("<h2>Stations</h2>")
    rows = []
    for r in _rows(doc):
        image_id = "<code>%s</code>" % _h(r["image_id"])
        if r["drift"]:
            image_id += ' <span class="badge drift">DRIFT</span>'
        if r["tag_moved"]:
            image_id += ' <span class="badge moved">tag moved</span>'
        reasons = ('<ul class="reasons">%s</ul>' % "".join("<li>%s</li>" % escape(x) for x in r["reasons"])
                   if r["reasons"] else "-")
        rows.append([escape(r["station"]), _verdict_span(r["verdict"]), _h(r["gpu"]), _h(r["gpu_mem"]), _h(r["driver"]),
                     _h(r["mig"]), _h(r["model"]), _h(r["release"]), _h(r["image"]), image_id, _h(r["started_at"]),
                     _h(r["ready_after_s"]), _h(r["validation"]), _h(r["benchmark"]), _h(r["gateway"]),
                     _h(r["rollout"]), _h(r["metrics"]), reasons])
    body.append(report_html.table(["Station", "Verdict", "GPU", "Memory", "Driver", "MIG", "Model", "Release", "Image",
                                   "Image ID", "Started", "Ready after (s)", "Validation", "Benchmark", "Gateway",
                                   "Rollout", "Metrics", "Reasons"], rows, left_cols=18))
    body.append("<h2>Releases in service</h2>")
    body.append(report_html.table(["Release", "Stations"], [[escape(rel), escape(", ".join(names))]
                                                            for rel, names in sorted(fleet["releases"].items())], left_cols=2)
                if fleet["releases"] else "<p>none reported</p>")
    body.extend(_html_rollout(doc))
    body.append("<h2>Image drift</h2>")
    if fleet["drift"]:
        rows = []
        for tag, ids in sorted(fleet["drift"].items()):
            for image_id, names in sorted(ids.items()):
                rows.append(['%s <span class="badge drift">DRIFT</span>' % escape(tag), "<code>%s</code>" % escape(image_id),
                             escape(", ".join(names))])
        body.append(report_html.table(["Image tag", "Image ID", "Stations"], rows, left_cols=3))
    else:
        body.append("<p>none: every image tag runs as one image ID</p>")
    body.append("<h2>Gateway</h2>")
    gateway = doc["gateway"]
    if gateway is None:
        body.append("<p>%s</p>" % ("no gateway" if not fleet["with_gateway"]
                                   else "Stations report gateway membership; no gateway details given"))
    else:
        body.append('<div class="meta">URL %s &middot; local %s &middot; version %s &middot; policy %s &middot; health window %s s'
                    ' &middot; metrics %s</div>' % (_h(gateway["url"]), _h(gateway["local_url"]), _h(gateway["version"]),
                                                    _h(gateway["policy"]), _h(gateway["health_window_s"]),
                                                    _h(gateway["prometheus_url"])))
        body.append(report_html.table(["Worker", "URL", "Model", "Status", "Healthy"],
                                      [[_h(w["id"]), _h(w["url"]), _h(w["model_id"]), _h(w["status"]), _h(w["is_healthy"])]
                                       for w in gateway["workers"]], left_cols=5))
    return report_html.page("SGLang fleet report", "\n".join(body), _CSS)


# --------------------------------------------------------------------------- files
def files(doc, targets=True):
    """{file name: text} of the report directory, every file derived from doc alone."""
    out = {
        FILE_JSON: json.dumps(doc, indent=2, sort_keys=True) + "\n",
        FILE_MD: markdown(doc),
        FILE_HTML: html(doc),
    }
    if targets:
        out[FILE_TARGETS] = json.dumps(prometheus_targets(doc), indent=2, sort_keys=True) + "\n"
    return out


# --------------------------------------------------------------------------- the collection on disk
def _ansible_cfg(env, cwd):
    """The ansible.cfg Ansible reads: ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg."""
    candidates = []
    if env.get("ANSIBLE_CONFIG"):
        path = os.path.expanduser(env["ANSIBLE_CONFIG"])
        candidates.append(os.path.join(path, "ansible.cfg") if os.path.isdir(path) else path)
    candidates.extend([os.path.join(cwd, "ansible.cfg"), os.path.expanduser("~/.ansible.cfg"), "/etc/ansible/ansible.cfg"])
    for path in candidates:
        if os.path.isfile(path):
            return os.path.abspath(path)
    return None


def configured_collection_paths(env=None, cwd=None):
    """The collection paths Ansible uses: ANSIBLE_COLLECTIONS_PATH(S), else collections_path(s) of the
    ansible.cfg in use (relative ones from its directory), else ~/.ansible/collections and
    /usr/share/ansible/collections. A module on the controller keeps the launch directory and the
    environment, so this names the same copy of the collection Ansible loaded."""
    env = os.environ if env is None else env
    cwd = os.getcwd() if cwd is None else cwd
    for var in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"):
        if env.get(var):
            return [os.path.join(cwd, os.path.expanduser(p)) for p in env[var].split(os.pathsep) if p]
    cfg = _ansible_cfg(env, cwd)
    if cfg:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(cfg)
            value = parser.get("defaults", "collections_path", fallback=None) or \
                parser.get("defaults", "collections_paths", fallback=None)
        except (configparser.Error, UnicodeDecodeError):
            value = None
        if value:
            return [os.path.join(os.path.dirname(cfg), os.path.expanduser(p.strip()))
                    for p in value.split(os.pathsep) if p.strip()]
    return [os.path.expanduser("~/.ansible/collections"), "/usr/share/ansible/collections"]


def collection_roots(env=None, cwd=None, here=None):
    """Directories that may hold this collection, in order: the one this file is in (when it is on
    disk, not in a module's zip), then <path>/ansible_collections/dgx_station/inference for every
    path of configured_collection_paths()."""
    here = os.path.abspath(here or __file__)
    roots = [os.path.dirname(os.path.dirname(os.path.dirname(here)))]
    for path in configured_collection_paths(env, cwd):
        path = os.path.normpath(path)
        roots.append(path if path.endswith(os.path.join("ansible_collections", "dgx_station", "inference"))
                     else os.path.join(path, "ansible_collections", "dgx_station", "inference"))
    seen = []
    for root in roots:
        if root not in seen:
            seen.append(root)
    return seen


def find_schema(roots=None):
    """The collection's docs/schemas/fleet-report.schema.json, or None when it is nowhere on disk."""
    for root in roots if roots is not None else collection_roots():
        path = os.path.join(root, "docs", "schemas", SCHEMA_NAME)
        if os.path.isfile(path):
            return path
    return None


_GALAXY_VERSION = re.compile(r"""^version:\s*['"]?([^'"\s#]+)""", re.M)


def find_collection_version(roots=None):
    """The collection version from MANIFEST.json (installed) or galaxy.yml (a checkout), or None."""
    for root in roots if roots is not None else collection_roots():
        try:
            with open(os.path.join(root, "MANIFEST.json")) as handle:
                version = json.load(handle).get("collection_info", {}).get("version")
            if version:
                return str(version)
        except (IOError, OSError, ValueError, AttributeError):
            pass
        try:
            with open(os.path.join(root, "galaxy.yml")) as handle:
                match = _GALAXY_VERSION.search(handle.read())
            if match:
                return match.group(1)
        except (IOError, OSError):
            pass
    return None
