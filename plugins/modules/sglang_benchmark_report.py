#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sglang_benchmark_report
short_description: Write benchmark reports (JSON, CSV, Markdown, HTML) per Station and for the fleet
version_added: 0.1.0
description:
  - Turns the results of M(dgx_station.inference.sglang_benchmark) into report files, normally on the
    controller (delegated to localhost). A failed benchmark result (C(failed=true) and C(msg), registered with
    C(ignore_errors) or C(failed_when)) is reported too - verdict C(fail) with its message.
  - Per Station, in O(dest)/<station>/ - C(report.json) (schema_version 1, the schema is
    C(docs/schemas/benchmark-report.schema.json) in the collection), C(per_turn.csv), C(summary.md) (the
    runbook's per-turn table plus TTFT and the SLO verdict) and C(report.html), a self-contained page
    with inline SVG plots (no script, no external file; it opens offline).
  - "The reports show the provenance (collection version, model, SGLang version, image and digest, GPU), the chat
    latency (TTFT, TTFO, ITL next to TPOT, E2E, TTFB; mean, p50, p90, p95, p99, max) apart from the structured-output
    latency, req/s, output and total tokens/s, the server settings that changed during the run, and mark with C(*)
    each percentile computed from fewer samples than it needs (p90 10, p95 20, p99 100)."
  - With O(fleet=true), also O(dest)/fleet/ with the same four files over all Stations - a row per
    Station, the spread, Stations more than 2 x MAD from the fleet median, and one plot line per Station.
  - "Judges each Station and returns the verdicts. The run checks always apply, whatever O(slo) says: the
    benchmark did not fail, no warm-up request failed, at least one request succeeded, and the error rate is
    at most O(slo.max_error_rate) (unset - the benchmark's own C(max_error_rate), 0 by default). Then the thresholds
    of O(slo) that are set. Verdict C(fail) when any check fails, C(pass) when none fails and at least one
    threshold is set, C(no_slo) when none fails and every threshold was cleared (the report names them)."
  - Every file is written mode C(0600) in a C(0700) directory (existing ones are tightened), and the
    server's credentials (C(api_key), C(admin_api_key), C(--api-key) values, ...) found in O(results)
    are replaced by C(<redacted>).
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  results:
    description:
      - Station name to the registered result of M(dgx_station.inference.sglang_benchmark), a finished or a failed
        one (C(failed=true), C(msg)). A skipped result (check mode) or anything else fails the module.
    type: dict
    required: true
  dest:
    description: Directory the report directories are written to (created when missing).
    type: path
    required: true
  run_name:
    description: Name of the run (for example the preset), shown in the reports.
    type: str
    default: benchmark
  station_reports:
    description: Write O(dest)/<station>/ for every Station in O(results).
    type: bool
    default: true
  fleet:
    description: Write the fleet report to O(dest)/fleet/.
    type: bool
    default: false
  slo:
    description:
      - Thresholds; unset (null) ones are not checked. Without any (and the run checks passing) the verdict is C(no_slo).
      - A latency threshold is checked against the chat (unstructured) requests.
    type: dict
    default: {}
    suboptions:
      ttft_p90_ms:
        description: Highest acceptable TTFT p90 (ms).
        type: float
      e2e_p90_ms:
        description: Highest acceptable end-to-end latency p90 (ms).
        type: float
      tpot_p90_ms:
        description: Highest acceptable TPOT p90 (ms).
        type: float
      itl_p90_ms:
        description: Highest acceptable inter-token latency p90 (ms), C(summary.itl_ms.p90) of the benchmark.
        type: float
      min_cache_hit_rate:
        description:
          - Lowest acceptable overall cache hit rate (sum cached / sum prompt tokens).
          - Not applicable (does not fail, the reason is shown) when the benchmark found the server's prefix cache
            not expected to carry across requests (C(server.prefix_cache_expected=false), reason in
            C(server.prefix_cache_reason)).
        type: float
      max_error_rate:
        description:
          - Highest acceptable error rate (errors / requests).
          - Unset, the error rate is still checked, against the benchmark's own C(max_error_rate) (its C(config)), else 0.
        type: float
      min_structured_valid_rate:
        description: Lowest acceptable fraction of schema-valid structured outputs (not applicable without structured requests).
        type: float
      fail_on_client_bound:
        description: Fail the verdict when the benchmark client limited the run.
        type: bool
        default: false
  schema_file:
    description:
      - JSON schema to validate every generated C(report.json) against before writing; the module fails
        when one does not validate. Needs C(jsonschema); skipped (with a warning) when it is missing.
    type: path
extends_documentation_fragment:
  - dgx_station.inference.attributes.FACTS
attributes:
  check_mode:
    support: full
    description: In check mode the reports are built and judged but no file is written.
notes:
  - C(changed) is true when a report file was written or its content changed.
seealso:
  - module: dgx_station.inference.sglang_benchmark
"""

EXAMPLES = r"""
- name: Benchmark; a failed run is still reported (verdict fail, with its message)
  dgx_station.inference.sglang_benchmark:
    base_url: http://127.0.0.1:30000
  register: bench
  ignore_errors: true

- name: Reports of this Station on the controller
  dgx_station.inference.sglang_benchmark_report:
    results: "{{ {inventory_hostname: bench} }}"
    dest: "{{ playbook_dir }}/../reports/benchmark/runbook"
    run_name: runbook
    slo:
      ttft_p90_ms: 500
      max_error_rate: 0.0
  delegate_to: localhost

- name: Fleet report over every Station of the play
  dgx_station.inference.sglang_benchmark_report:
    results: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'bench'))) }}"
    dest: "{{ playbook_dir }}/../reports/benchmark/runbook"
    station_reports: false
    fleet: true
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
verdicts:
  description: Station name to its verdict (C(pass), C(fail) or C(no_slo)); a failed benchmark result is C(fail).
  returned: always
  type: dict
  sample: {station1: pass, station2: fail}
failed_stations:
  description: Stations whose verdict is C(fail).
  returned: always
  type: list
  elements: str
reasons:
  description: Station name to the messages of its failed checks (a failed benchmark's message first).
  returned: always
  type: dict
  sample: {station2: ["the benchmark failed: No request of the measured phase succeeded (100 sent: http_503 x100).",
                      "no request succeeded (0 of 100)", "error rate = 1.0 (100 errors of 100), limit 0.0"]}
not_set:
  description: The SLO thresholds of O(slo) that are not set (not checked).
  returned: always
  type: list
  elements: str
  sample: [ttft_p90_ms, itl_p90_ms, tpot_p90_ms, e2e_p90_ms, min_cache_hit_rate, fail_on_client_bound]
fleet_verdict:
  description: C(fail) when any Station fails (or there is none), else C(pass) when any passes, else C(no_slo) (every threshold cleared).
  returned: when O(fleet=true)
  type: str
files:
  description: Files written (or that would be written in check mode).
  returned: always
  type: list
  elements: str
summary_md:
  description: The Markdown summary (the fleet one with O(fleet=true), else that of the only or last Station).
  returned: always
  type: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_report as br
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import write_private_file

from ansible_collections.dgx_station.inference.plugins.module_utils.jsonschema_support import HAS_JSONSCHEMA, jsonschema


def _write(module, path, text, files):
    """Write one report file 0600 in a 0700 directory; True when something changed."""
    files.append(path)
    directory = os.path.dirname(path)
    try:
        with open(path, "r") as handle:
            if handle.read() == text:
                # Same content: still tighten a file or directory an older version left readable.
                changed = module.set_mode_if_different(directory, "0700", False)
                return module.set_mode_if_different(path, "0600", changed)
    except (IOError, OSError):
        pass
    if module.check_mode:
        return True
    write_private_file(path, text)
    module.set_mode_if_different(directory, "0700", False)
    return True


def main():
    slo_spec = dict(
        ttft_p90_ms=dict(type="float"),
        e2e_p90_ms=dict(type="float"),
        tpot_p90_ms=dict(type="float"),
        itl_p90_ms=dict(type="float"),
        min_cache_hit_rate=dict(type="float"),
        max_error_rate=dict(type="float"),
        min_structured_valid_rate=dict(type="float"),
        fail_on_client_bound=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=dict(
            results=dict(type="dict", required=True),
            dest=dict(type="path", required=True),
            run_name=dict(type="str", default="benchmark"),
            station_reports=dict(type="bool", default=True),
            fleet=dict(type="bool", default=False),
            slo=dict(type="dict", default={}, options=slo_spec),
            schema_file=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    slo = params["slo"] or {}
    validator = None
    if params["schema_file"]:
        if not HAS_JSONSCHEMA:
            module.warn(missing_required_lib("jsonschema", reason="to validate the reports; not validated"))
        else:
            try:
                with open(params["schema_file"]) as handle:
                    schema = json.load(handle)
            except (IOError, OSError, ValueError) as exc:
                module.fail_json(msg="Cannot read schema_file %s: %s" % (params["schema_file"], exc))
            validator = jsonschema.validators.validator_for(schema)(schema)

    reports = []
    for host, result in sorted(params["results"].items()):
        usable = isinstance(result, dict) and not result.get("skipped") and ("summary" in result or result.get("failed"))
        if not usable:
            reason = result.get("msg") if isinstance(result, dict) else None
            module.fail_json(msg="results[%s] is not a sglang_benchmark result%s" % (
                host, " (%s)" % reason if reason else " (did the benchmark run, or was it skipped in check mode?)"))
        reports.append(br.station_report(host, result, params["run_name"], slo))

    def check(doc, what):
        if validator is None:
            return
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errors:
            module.fail_json(msg="The %s report does not validate against %s: %s at %s" % (
                what, params["schema_file"], errors[0].message, "/".join(str(p) for p in errors[0].absolute_path)))

    files = []
    changed = False
    summary_md = ""
    try:
        if params["station_reports"]:
            for report in reports:
                check(report, report["host"])
                for name, text in br.station_files(report).items():
                    changed |= _write(module, os.path.join(params["dest"], report["host"], name), text, files)
                summary_md = br.station_markdown(report)
        result = dict(
            verdicts=dict((r["host"], r["verdict"]["status"]) for r in reports),
            failed_stations=[r["host"] for r in reports if r["verdict"]["status"] == "fail"],
            reasons=dict((r["host"], r["verdict"]["reasons"]) for r in reports),
            not_set=[k for k in br.SLO_KEYS if k not in br.slo_thresholds(slo)],
        )
        if params["fleet"]:
            fleet = br.fleet_report(reports, params["run_name"], slo)
            check(fleet, "fleet")
            for name, text in br.fleet_files(fleet).items():
                changed |= _write(module, os.path.join(params["dest"], "fleet", name), text, files)
            summary_md = br.fleet_markdown(fleet)
            result["fleet_verdict"] = fleet["verdict"]["status"]
    except (IOError, OSError) as exc:
        module.fail_json(msg="Cannot write the reports under %s: %s" % (params["dest"], exc), files=files)
    module.exit_json(changed=changed, files=files, summary_md=summary_md, **result)


if __name__ == "__main__":
    main()
