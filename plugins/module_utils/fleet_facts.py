# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the fleet plays read of each host's facts: one place, so the gateway play and the fleet
report agree on a Station's URL and on what its facts mean (filters station_url, fleet_stations,
fleet_gateway, fleet_secrets)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_gateway import normalize_url


_RUN_EVENT_KEYS = ("gpu", "replaced", "previous_image_id", "phase")


def _get(mapping, key, default=None):
    try:
        value = mapping.get(key, default) if mapping is not None else default
    except Exception:  # pylint: disable=broad-except
        # An undefined template inside hostvars means "not set in this run".
        return default
    return default if value is None else value


def station_url(hostvars_of_station):
    hv = hostvars_of_station
    explicit = _get(hv, "sglang_gateway_station_url", "")
    if explicit:
        return str(explicit).rstrip("/")
    address = _get(hv, "ansible_host", "") or _get(hv, "inventory_hostname", "")
    port = _get(hv, "sglang_server_host_port", 30000)
    if ":" in str(address) and not str(address).startswith("["):
        address = "[%s]" % address
    return "http://%s:%s" % (address, port)


def _membership(gateway_hostvars):
    result = _get(gateway_hostvars, "sglang_gateway_membership", {}) or {}
    return [w for w in (_get(result, "workers", []) or []) if isinstance(w, dict)]


def fleet_stations(names, hostvars, gateway_host=""):
    """Station name -> the fleet report's input for it (see sglang_fleet_report's `stations`)."""
    gateway_hv = hostvars[gateway_host] if gateway_host else None
    if gateway_hv is not None and not _get(gateway_hv, "sglang_gateway_membership", None):
        # The gateway play did not run (--tags, --limit, check mode): membership is unknown, not "out".
        gateway_hv = None
    workers = _membership(gateway_hv) if gateway_hv is not None else []
    stations = {}
    for name in names:
        hv = hostvars[name]
        url = station_url(hv)
        deployed = _get(hv, "sglang_server_deployed", {}) or {}
        validation = _get(hv, "sglang_validate_result", None)
        benchmark = _get(hv, "sglang_benchmark_result", None)
        rollout = _get(hv, "sglang_rollout_result", None)
        entry = dict(
            gpu=dict(deployed.get("gpu") or {}) or None,
            # What runs, not what this run did to it (replaced, the previous image, the boot phase):
            # a re-run that changes nothing must yield the same report.
            server=dict((k, v) for k, v in deployed.items() if k not in _RUN_EVENT_KEYS) or None,
            validation=dict(validation) if validation else None,
            benchmark=dict(benchmark) if benchmark else None,
            gateway=None,
            metrics_url=(url + "/metrics") if _get(hv, "sglang_server_enable_metrics", False) else None,
            labels=dict(_get(hv, "sglang_fleet_labels", {}) or {}),
            error=None,
            # What playbooks/rollout.yml did to it; None on a Station no rollout of this run touched.
            rollout=(dict(rollout) if isinstance(rollout, Mapping) else rollout) if rollout else None,
        )
        if gateway_hv is not None:
            # The workers module's own spelling of a URL, so both agree on who is a member.
            key = normalize_url(url, strict=False)
            member = [w for w in workers if normalize_url(w.get("url", ""), strict=False) == key]
            entry["gateway"] = dict(
                member=bool(member), url=url,
                worker_id=member[0].get("id") if member else None,
                status=member[0].get("status") if member else None,
                is_healthy=bool(member[0].get("is_healthy")) if member else False)
        if not deployed:
            entry["error"] = dict(phase="deploy", msg="no SGLang server was deployed on it in this run "
                                                      "(it failed or was not reached before the deploy)")
        elif validation is None:
            entry["error"] = dict(phase="validate", msg="it was not validated in this run")
        stations[name] = entry
    return stations


def fleet_gateway(gateway_hostvars):
    """The gateway host's facts as the fleet report's `gateway` input."""
    deployed = _get(gateway_hostvars, "sglang_gateway_deployed", {}) or {}
    membership = _get(gateway_hostvars, "sglang_gateway_membership", {}) or {}
    if not deployed or not membership:
        # Not deployed, or its membership not settled in this run: nothing to judge Stations by.
        return None
    return dict(
        url=deployed.get("url"), local_url=deployed.get("local_url"), version=deployed.get("version"),
        policy=deployed.get("policy"), health_window_s=deployed.get("health_window_s"),
        prometheus_url=deployed.get("prometheus_url"),
        workers=[dict((k, w.get(k)) for k in ("id", "url", "status", "is_healthy", "model_id"))
                 for w in _membership(gateway_hostvars)],
        healthy_urls=list(_get(membership, "healthy_urls", []) or []),
        unhealthy_urls=list(_get(membership, "unhealthy_urls", []) or []),
    )


def fleet_secrets(names, hostvars):
    """Every API key set for these hosts (server and gateway), to redact from the reports."""
    keys = set()
    for name in names:
        for var in ("sglang_server_api_key", "sglang_gateway_api_key"):
            value = _get(hostvars[name], var, "")
            if value:
                keys.add(str(value))
    return sorted(keys)
