#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sglang_fleet_report
short_description: Write the fleet report (JSON, Markdown, HTML, Prometheus targets) after a site run
version_added: 0.1.0
description:
  - Runs on the controller (delegated to localhost, once) after every C(site.yml) and C(playbooks/rollout.yml) run
    and writes one report over every Station - what runs where (GPU, server, image, release), whether it passed
    validation and its benchmark, whether it is a healthy member of the gateway, what a rollout did to it - and
    judges the fleet.
  - Writes, in O(dest), C(fleet-report.json) (schema_version 1, the schema is
    C(docs/schemas/fleet-report.schema.json) in the collection), C(fleet-report.md), C(fleet-report.html)
    (one self-contained page, no script and no external file, so it opens offline) and, with
    O(prometheus_targets=true), C(prometheus-targets.json) for a Prometheus C(file_sd_configs) entry.
    Every file is derived from the JSON document alone, so they change together. See C(docs/fleet.md).
  - "A Station's verdict is C(PASS) when it validated (C(validation.passed)), its benchmark verdict is not
    C(fail), it reports no provision or deploy error, its rollout (if any) was not C(rolled_back) or C(failed) and -
    when there is a gateway - it is a member of the gateway that the gateway reports healthy; otherwise C(FAIL) with
    the reasons. The fleet verdict is C(PASS) only when every Station passes (and there is at least one)."
  - Flags image drift, Stations whose containers run different image IDs for the same image tag.
  - "Idempotent: the new report is compared with the existing C(fleet-report.json) without its volatile fields,
    C(generated_at) (the time of the run), C(stations.*.server.ready_after_s) (the readiness wait, measured
    again on every deploy) and C(stations.*.rollout.phases_s) (a rollout's timings). When nothing else differs,
    the existing document (with its old volatile values) is kept and no file is rewritten, so a re-run that
    changed nothing returns C(changed=false)."
  - Every file is written mode C(0600), and O(dest) is created C(0700) when missing (an existing directory
    keeps its mode). Server credentials found in the input (C(api_key)-like keys, C(--api-key) values,
    C(Bearer) tokens, user:password in URLs) and every value in O(api_keys) are replaced by C(<redacted>).
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  stations:
    description:
      - Station name to what the run found on it. Every key is optional; missing ones are null in the
        report, unknown ones are dropped.
      - C(gpu) - C(name), C(uuid), C(memory_total_mib), C(driver_version), C(compute_cap), C(mig_mode).
      - C(server) - C(name) (the container), C(image), C(image_id), C(image_digests) (list), C(model),
        C(served_model), C(release), C(started_at), C(ready_after_s), C(base_url), C(tag_moved), C(replaced).
      - C(validation) - C(passed) (bool), C(failures) (list of str), C(report) (path); null when validation did not run.
      - C(benchmark) - C(verdict) (C(pass), C(fail), C(no_slo), ...), C(report) (path; C(report_dir) is taken when
        C(report) is missing); null when no benchmark ran. This is what the C(sglang_benchmark) role publishes
        (fact C(sglang_benchmark_result)); the verdict is that of M(dgx_station.inference.sglang_benchmark_report) -
        C(fail) also for a benchmark run that failed, one without a successful request, a failed warm-up or an error
        rate above the limit. C(runs) (run name to verdict) is optional; the runs that failed are named in the
        Station's reason (C(benchmark verdict fail (run single))) and not kept in the report. The benchmark figures
        and their provenance are in the benchmark reports under C(report).
      - C(gateway) - C(member) (bool), C(worker_id), C(status), C(is_healthy); null when there is no gateway.
        Missing values are taken from the O(gateway) worker with that id or the Station's C(base_url).
      - C(metrics_url) - the Station's SGLang C(/metrics) URL when metrics are enabled, else null.
      - C(labels) - extra Prometheus labels (dict) of the Station's target group; names must be valid
        Prometheus label names. C(job), C(station), C(model) and C(release) are set by the module.
      - C(error) - C(phase), C(msg) when the Station failed before validation (provision, deploy), else null.
      - C(rollout) - what C(playbooks/rollout.yml) did to the Station (its fact C(sglang_rollout_result)), null when
        no rollout of the run touched it. C(outcome) (required) - one of C(replaced), C(unchanged), C(rolled_back),
        C(failed), C(not_reached); any other value fails the module naming it. C(release) (what the Station runs
        after the rollout), C(release_before), C(release_attempted) (C(rolled_back), C(failed)), C(phase) (where it
        failed - C(drain), C(idle), C(stop), C(boot), C(warm-up), C(validate), C(admit), C(commit)), C(catalog_id)
        (failure catalog id), C(msg), C(restore) (what the restore did), C(container_id_before), C(container_id),
        C(phases_s) (phase to seconds). Empty strings become null.
      - A C(rolled_back) or C(failed) rollout fails the Station; C(replaced), C(unchanged) and C(not_reached) add
        no reason (the Station serves).
    type: dict
    required: true
  gateway:
    description:
      - The gateway in front of the fleet, or null without one. Keys (all optional) C(url), C(local_url),
        C(version), C(policy), C(health_window_s), C(prometheus_url), C(workers) (list of C(id), C(url),
        C(status), C(is_healthy), C(model_id)), C(healthy_urls), C(unhealthy_urls) (lists of worker URLs).
      - With a gateway (here or in any Station's C(gateway)), a Station passes only as a healthy member.
    type: dict
  dest:
    description: Directory the report files are written to, for example C(reports/fleet); created C(0700) when missing.
    type: path
    required: true
  schema_file:
    description:
      - JSON schema to validate the report against before anything is written; the module fails naming the
        place in the document that does not validate.
      - Default - the collection's C(docs/schemas/fleet-report.schema.json) when it is found on disk, next to
        this module's files or in the collection paths Ansible uses (C(ANSIBLE_COLLECTIONS_PATH), else
        C(collections_path) of the C(ansible.cfg) in use, else the default paths); without it the report is not
        validated. The collection version in the report is read the same way (C(MANIFEST.json) or C(galaxy.yml)).
      - Needs C(jsonschema) on the controller; without it the report is not validated (with a warning).
    type: path
  prometheus_targets:
    description:
      - Also write C(prometheus-targets.json) in Prometheus C(file_sd) format - one target group per Station
        with a C(metrics_url) (C(targets) host:port, labels C(job=sglang), C(station), C(model), C(release)
        and its C(labels)) and one for the gateway's C(prometheus_url) (C(job=smg), label C(gateway));
        an empty list when there is none.
      - With V(false) the file is not written (an existing one is left alone).
    type: bool
    default: true
  api_keys:
    description: Known secrets (the servers' API keys) to replace by C(<redacted>) wherever they appear.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: In check mode the report is built, judged and compared, nothing is written; C(changed) says whether a real run would write.
  diff_mode:
    support: none
    description: No diff is shown.
notes:
  - C(changed) is true when a file was (or in check mode would be) written, O(dest) created or a file's mode tightened to C(0600).
seealso:
  - module: dgx_station.inference.sglang_benchmark_report
"""

EXAMPLES = r"""
- name: Write the fleet report
  dgx_station.inference.sglang_fleet_report:
    dest: "{{ playbook_dir }}/reports/fleet"
    schema_file: "{{ playbook_dir }}/docs/schemas/fleet-report.schema.json"
    stations: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'fleet_station'))) }}
    gateway: "{{ smg_gateway | default(omit) }}"
    api_keys: ["{{ sglang_server_api_key }}"]
  delegate_to: localhost
  run_once: true
  register: fleet

- name: Stop on a failed fleet
  ansible.builtin.fail:
    msg: "{{ fleet.msg }}"
  when: fleet.verdict != 'PASS'
  run_once: true
"""

RETURN = r"""
verdict:
  description: The fleet verdict, C(PASS) only when every Station passes.
  returned: always
  type: str
  sample: PASS
counts:
  description: Stations in the report, that pass, that fail, that are gateway members, that are healthy members.
  returned: always
  type: dict
  sample: {stations: 3, passed: 3, failed: 0, in_gateway: 3, healthy_in_gateway: 3}
rollout:
  description:
    - The rollout outcomes (C(fleet.rollout) of the document) - C(counts) and C(stations) per outcome (C(replaced),
      C(unchanged), C(rolled_back), C(failed), C(not_reached)); null when no Station has a rollout entry.
  returned: always
  type: dict
  sample: {counts: {replaced: 2, unchanged: 0, rolled_back: 1, failed: 0, not_reached: 0},
           stations: {replaced: [station1, station2], unchanged: [], rolled_back: [station3], failed: [], not_reached: []}}
drift:
  description: Image tag to image ID to the Stations running it, for every tag that runs as more than one image ID.
  returned: always
  type: dict
  sample: {"lmsysorg/sglang:latest": {"sha256:1111": [station1], "sha256:2222": [station2, station3]}}
paths:
  description:
    - The report files (written, or that would be written in check mode) - keys C(json), C(markdown), C(html)
      and, with O(prometheus_targets=true), C(prometheus_targets).
  returned: always
  type: dict
  sample: {json: reports/fleet/fleet-report.json, markdown: reports/fleet/fleet-report.md,
           html: reports/fleet/fleet-report.html, prometheus_targets: reports/fleet/prometheus-targets.json}
report:
  description: The JSON document (as in C(fleet-report.json)); unchanged runs return the existing one.
  returned: always
  type: dict
msg:
  description: One line about the fleet (with the rollout outcomes when there was a rollout).
  returned: always
  type: str
  sample: "fleet PASS: 3/3 Stations pass, 3 in the gateway (3 healthy)"
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dgx_station.inference.plugins.module_utils import fleet_report as fr
from ansible_collections.dgx_station.inference.plugins.module_utils.jsonschema_support import HAS_JSONSCHEMA, jsonschema
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import write_private_file


def _read(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def _existing(path):
    text = _read(path)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _validator(module, schema_path, explicit):
    if not schema_path:
        return None
    if not HAS_JSONSCHEMA:
        module.warn(missing_required_lib("jsonschema", reason="to validate the fleet report; not validated"))
        return None
    try:
        with open(schema_path) as handle:
            schema = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        if explicit:
            module.fail_json(msg="Cannot read schema_file %s: %s" % (schema_path, exc))
        module.warn("The collection's fleet report schema %s cannot be read (%s); not validated" % (schema_path, exc))
        return None
    return jsonschema.validators.validator_for(schema)(schema)


def _write(module, path, text):
    """Write one file 0600 when its content differs; True when something changed (or would)."""
    if _read(path) == text:
        # Same content: still tighten a file an older run (or a person) left readable.
        return module.set_mode_if_different(path, "0600", False)
    if not module.check_mode:
        write_private_file(path, text)
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stations=dict(type="dict", required=True),
            gateway=dict(type="dict"),
            dest=dict(type="path", required=True),
            schema_file=dict(type="path"),
            prometheus_targets=dict(type="bool", default=True),
            api_keys=dict(type="list", elements="str", default=[], no_log=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    dest = params["dest"]
    roots = fr.collection_roots()
    try:
        doc = fr.build_report(params["stations"], params["gateway"], fr.find_collection_version(roots),
                              params["api_keys"] or ())
    except fr.FleetReportError as exc:
        module.fail_json(msg=str(exc))

    paths = dict((key, os.path.join(dest, name)) for key, name in fr.FILES
                 if key != "prometheus_targets" or params["prometheus_targets"])
    old = _existing(paths["json"])
    if old is not None and fr.stable(old) == fr.stable(doc):
        doc = fr.carry_volatile(doc, old)

    schema_path = params["schema_file"] or fr.find_schema(roots)
    validator = _validator(module, schema_path, bool(params["schema_file"]))
    if validator is not None:
        errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "(the document root)"
            module.fail_json(msg="The fleet report does not validate against %s: %s at %s" % (
                schema_path, errors[0].message, where), report=doc)

    problems = []
    fr.prometheus_targets(doc, problems)
    for problem in problems:
        module.warn(problem)
    for tag, ids in sorted(doc["fleet"]["drift"].items()):
        module.warn("Image drift: %s runs as %d image IDs (%s)" % (tag, len(ids), "; ".join(
            "%s on %s" % (fr.short_id(i), ", ".join(names)) for i, names in sorted(ids.items()))))

    texts = fr.files(doc, targets=params["prometheus_targets"])
    changed = False
    try:
        if os.path.exists(dest) and not os.path.isdir(dest):
            module.fail_json(msg="dest %s exists and is not a directory" % dest)
        if not os.path.isdir(dest):
            changed = True
            if not module.check_mode:
                os.makedirs(dest, 0o700)
                os.chmod(dest, 0o700)
        for key, name in fr.FILES:
            if key in paths:
                changed |= _write(module, paths[key], texts[name])
    except (IOError, OSError) as exc:
        module.fail_json(msg="Cannot write the fleet report in %s: %s" % (dest, exc), paths=paths)

    module.exit_json(changed=changed, verdict=doc["fleet"]["verdict"], counts=doc["fleet"]["counts"],
                     rollout=doc["fleet"]["rollout"], drift=doc["fleet"]["drift"], paths=paths, report=doc,
                     msg=fr.summary_line(doc))


if __name__ == "__main__":
    main()
