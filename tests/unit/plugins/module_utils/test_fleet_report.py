# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet report: normalising, gateway membership, verdicts, volatile fields, file_sd, renderings, finding the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import jsonschema
import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_report as br
from ansible_collections.dgx_station.inference.plugins.module_utils import fleet_report as fr
from ansible_collections.dgx_station.inference.plugins.module_utils import report_html

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMA_PATH = os.path.join(REPO, "docs", "schemas", "fleet-report.schema.json")
NOW = "2025-12-01T10:00:00+00:00"


@pytest.fixture(scope="module")
def validator():
    with open(SCHEMA_PATH) as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def station(n, **server):
    srv = dict(image="img:tag", image_id="sha256:%d" % n, base_url="http://10.0.0.%d:30000" % n, model="m", release="r1")
    srv.update(server)
    return dict(server=srv, validation=dict(passed=True), metrics_url="http://10.0.0.%d:30000/metrics" % n)


def test_normalising_keeps_documented_keys_with_types_and_drops_the_rest():
    got = fr.normalise_station("s", dict(
        gpu=dict(name="NVIDIA GB300", memory_total_mib="1024", compute_cap=10.3, extra="x"),
        server=dict(image="img", image_digests=["b", "a", "a", ""], ready_after_s="3", tag_moved="yes", replaced=0,
                    base_url="http://u:p@h:1/", phase="ready", previous_image_id="sha256:old"),
        validation=dict(passed="no", failures="one failure"), benchmark=dict(verdict="FAIL"),
        gateway=dict(member="true"), metrics_url="", labels=dict(site=1, empty=None), error={}, unknown=1))
    assert set(got) == {"gpu", "server", "validation", "benchmark", "gateway", "metrics_url", "labels", "error", "rollout"}
    assert got["gpu"] == dict(name="NVIDIA GB300", uuid=None, memory_total_mib=1024, driver_version=None,
                              compute_cap="10.3", mig_mode=None)
    srv = got["server"]
    assert "phase" not in srv and "previous_image_id" not in srv
    assert srv["image_digests"] == ["a", "b"] and srv["ready_after_s"] == 3
    assert srv["tag_moved"] is True and srv["replaced"] is False and srv["model"] is None
    assert srv["base_url"] == "http://<redacted>@h:1"
    assert got["validation"] == dict(passed=False, failures=["one failure"], report=None)
    assert got["benchmark"] == dict(verdict="fail", report=None)
    assert got["gateway"] == dict(member=True, worker_id=None, status=None, is_healthy=None)
    assert got["metrics_url"] is None and got["labels"] == dict(site="1", empty="") and got["error"] is None
    assert got["rollout"] is None
    assert fr.normalise_station("s", None)["validation"] is None
    # What the sglang_benchmark role publishes: the report directory as report_dir.
    got = fr.normalise_station("s", dict(benchmark=dict(verdict="pass", runs={"runbook": "pass"}, report_dir="/r/b")))
    assert got["benchmark"] == dict(verdict="pass", report="/r/b")


def test_label_names_prometheus_refuses_are_an_error():
    for name in ("bad-name", "1st", "__meta"):
        with pytest.raises(fr.FleetReportError, match="label name"):
            fr.normalise_station("s", dict(labels={name: "x"}))
    with pytest.raises(fr.FleetReportError):
        fr.normalise_station("s", dict(labels=["a"]))


def test_membership_is_completed_from_the_gateway_lists():
    gateway = dict(workers=[dict(id="w1", url="http://10.0.0.1:30000/", status="ok", is_healthy=None),
                            dict(id="w2", url="http://10.0.0.2:30000", is_healthy=False)],
                   healthy_urls=["http://10.0.0.1:30000"])
    stations = dict(a=station(1), b=station(2), c=station(3))
    stations["a"]["gateway"] = dict(member=True, worker_id="w1")
    doc = fr.build_report(stations, gateway, now=NOW)
    a, b, c = (doc["stations"][n] for n in "abc")
    # a: its own entry, status from the worker, health from healthy_urls.
    assert a["gateway"] == dict(member=True, worker_id="w1", status="ok", is_healthy=True) and a["verdict"] == "PASS"
    # b: no entry, found by its base_url among the workers, unhealthy.
    assert b["gateway"] == dict(member=True, worker_id="w2", status=None, is_healthy=False)
    assert b["reasons"] == ["unhealthy in the gateway"]
    # c: not among the workers.
    assert c["gateway"]["member"] is False and c["reasons"] == ["not a member of the gateway"]
    assert doc["fleet"]["counts"] == dict(stations=3, passed=1, failed=2, in_gateway=2, healthy_in_gateway=1)


def test_a_station_entry_alone_means_there_is_a_gateway():
    stations = dict(a=station(1), b=station(2))
    stations["a"]["gateway"] = dict(member=True, is_healthy=True)
    doc = fr.build_report(stations, None, now=NOW)
    assert doc["fleet"]["with_gateway"] is True and doc["gateway"] is None
    assert doc["stations"]["b"]["reasons"] == ["not a member of the gateway"]
    stations["b"]["gateway"] = dict(member=True)
    doc = fr.build_report(stations, None, now=NOW)
    assert doc["stations"]["b"]["reasons"] == ["health unknown in the gateway"]
    stations["b"]["gateway"] = dict(member=True, status="draining", is_healthy=False)
    doc = fr.build_report(stations, None, now=NOW)
    assert doc["stations"]["b"]["reasons"] == ["unhealthy in the gateway (status draining)"]


def test_verdict_rules(validator):
    stations = dict(
        ok=station(1),
        no_validation=dict(server=station(2)["server"]),
        failed_validation=dict(validation=dict(passed=False)),
        bench_fail=dict(station(4), benchmark=dict(verdict="fail")),
        bench_no_slo=dict(station(5), benchmark=dict(verdict="no_slo")),
        provision=dict(error=dict(phase="provision", msg="--api-key sk-xyz rejected")),
        error_text=dict(error="boom"),
    )
    doc = fr.build_report(stations, None, now=NOW)
    reasons = dict((n, s["reasons"]) for n, s in doc["stations"].items())
    assert reasons == dict(ok=[], no_validation=["validation did not run"], failed_validation=["validation failed"],
                           bench_fail=["benchmark verdict fail"], bench_no_slo=[],
                           provision=["provision failed: --api-key <redacted> rejected"], error_text=["unknown failed: boom"])
    assert doc["fleet"]["verdict"] == "FAIL"
    assert doc["fleet"]["failed"] == ["bench_fail", "error_text", "failed_validation", "no_validation", "provision"]
    validator.validate(doc)


def test_a_failed_benchmark_names_the_runs_that_failed(validator):
    # What the sglang_benchmark role publishes (sglang_benchmark_result): verdict, runs, report_dir.
    stations = dict(
        both=dict(station(1), benchmark=dict(verdict="fail", runs={"runbook": "fail", "single": "FAIL"}, report_dir="/r")),
        one=dict(station(2), benchmark=dict(verdict="fail", runs={"runbook": "pass", "single": "fail"})),
        ok=dict(station(3), benchmark=dict(verdict="pass", runs={"runbook": "pass"})),
        odd=dict(station(4), benchmark=dict(verdict="fail", runs="runbook")),
    )
    doc = fr.build_report(stations, None, now=NOW)
    reasons = dict((n, s["reasons"]) for n, s in doc["stations"].items())
    assert reasons == dict(both=["benchmark verdict fail (runs runbook, single)"], one=["benchmark verdict fail (run single)"],
                           ok=[], odd=["benchmark verdict fail"])
    # The runs are named in the reason only; the document keeps the benchmark's documented keys.
    assert doc["stations"]["both"]["benchmark"] == dict(verdict="fail", report="/r")
    assert "benchmark verdict fail (run single)" in fr.markdown(doc) and "benchmark verdict fail (run single)" in fr.html(doc)
    validator.validate(doc)


def test_an_empty_fleet_does_not_pass(validator):
    doc = fr.build_report({}, None, now=NOW)
    assert doc["fleet"]["verdict"] == "FAIL"
    assert fr.summary_line(doc) == "fleet FAIL: 0/0 Stations pass (no Station in the report), no gateway"
    validator.validate(doc)


def test_releases_and_drift():
    stations = dict(a=station(1), b=station(2, image_id="sha256:1"), c=station(3, release="r2", image="other:tag"),
                    d=dict(station(4, release="r3"), error=dict(phase="deploy", msg="x")), e=station(5, image_id=""))
    stations["b"]["server"]["image_id"] = "sha256:1"
    doc = fr.build_report(stations, None, now=NOW)
    assert doc["fleet"]["releases"] == {"r1": ["a", "b", "e"], "r2": ["c"]}
    assert doc["fleet"]["drift"] == {"img:tag": {"sha256:1": ["a", "b"], "sha256:4": ["d"]}}
    assert [n for n, s in sorted(doc["stations"].items()) if s["drift"]] == ["a", "b", "d"]


def test_stable_and_carry_volatile():
    one = fr.build_report(dict(a=station(1, ready_after_s=10), b=dict(validation=None)), None, now=NOW)
    two = fr.build_report(dict(a=station(1, ready_after_s=99.5), b=dict(validation=None)), None,
                          now="2025-12-02T00:00:00+00:00")
    assert one != two and fr.stable(one) == fr.stable(two)
    assert "generated_at" not in fr.stable(one) and "ready_after_s" not in fr.stable(one)["stations"]["a"]["server"]
    assert one["generated_at"] == NOW  # stable() copies
    carried = fr.carry_volatile(two, one)
    assert carried == one and two["generated_at"] != NOW
    # A Station without a server has nothing to carry; a Station new in the run keeps its own value.
    three = fr.build_report(dict(a=station(1, ready_after_s=5), c=station(3, ready_after_s=7)), None, now="later")
    carried = fr.carry_volatile(three, one)
    assert carried["generated_at"] == NOW and carried["stations"]["a"]["server"]["ready_after_s"] == 10
    assert carried["stations"]["c"]["server"]["ready_after_s"] == 7
    other = fr.build_report(dict(a=station(1, model="n")), None, now=NOW)
    assert fr.stable(other) != fr.stable(one)


def test_prometheus_targets_from_urls():
    stations = dict(v6=dict(station(1), metrics_url="http://[fd00::1]:30000/metrics"),
                    plain=dict(station(2), metrics_url="10.0.0.2:30000"),
                    nohost=dict(station(3), metrics_url="http:///metrics"),
                    nomodel=dict(station(4, model="", release=None)))
    gateway = dict(url=None, local_url="http://127.0.0.1:8080", prometheus_url="https://gw.lab/metrics")
    doc = fr.build_report(stations, gateway, now=NOW)
    problems = []
    groups = fr.prometheus_targets(doc, problems)
    assert groups == [
        {"targets": ["10.0.0.4:30000"], "labels": {"job": "sglang", "station": "nomodel"}},
        {"targets": ["10.0.0.2:30000"], "labels": {"job": "sglang", "station": "plain", "model": "m", "release": "r1"}},
        {"targets": ["[fd00::1]:30000"], "labels": {"job": "sglang", "station": "v6", "model": "m", "release": "r1"}},
        {"targets": ["gw.lab:443"], "labels": {"job": "smg", "gateway": "http://127.0.0.1:8080", "__scheme__": "https"}},
    ]
    assert len(problems) == 1 and "nohost" in problems[0]
    # A path other than /metrics goes into __metrics_path__.
    doc["stations"]["plain"]["metrics_url"] = "http://10.0.0.2:30000/custom"
    assert fr.prometheus_targets(doc)[1]["labels"]["__metrics_path__"] == "/custom"
    for group in groups:
        assert all(isinstance(v, str) for v in group["labels"].values())


def test_summary_line():
    doc = fr.build_report(dict(a=dict(station(1), gateway=dict(member=True, is_healthy=True))), None, now=NOW)
    assert fr.summary_line(doc) == "fleet PASS: 1/1 Stations pass, 1 in the gateway (1 healthy)"


def test_files_are_derived_from_the_document_and_the_html_is_self_contained(validator):
    stations = dict(("<b>s%d</b>" % i, station(i)) for i in range(2))
    doc = fr.build_report(stations, dict(url="http://gw", workers=[]), "1.2.3", now=NOW)
    out = fr.files(doc)
    assert sorted(out) == sorted(["fleet-report.json", "fleet-report.md", "fleet-report.html", "prometheus-targets.json"])
    assert json.loads(out["fleet-report.json"]) == doc
    assert fr.files(doc) == out  # deterministic
    assert "prometheus-targets.json" not in fr.files(doc, targets=False)
    page = out["fleet-report.html"]
    assert page.startswith("<!DOCTYPE html>") and report_html.BASE_CSS in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"<script|<link|@import|url\(", page, re.I)
    assert "<b>s0</b>" not in page and "&lt;b&gt;s0&lt;/b&gt;" in page
    assert "1.2.3" in out["fleet-report.md"] and NOW in out["fleet-report.md"] and NOW in page
    validator.validate(doc)


def test_markdown_escapes_table_cells():
    doc = fr.build_report(dict(a=dict(validation=dict(passed=False, failures=["a | b\nc"]))), None, now=NOW)
    row = [line for line in fr.markdown(doc).splitlines() if line.startswith("| a |")][0]
    assert "a \\| b c" in row


def test_the_benchmark_report_shares_the_page_skeleton():
    page = br._page("t", "<p>x</p>")
    assert page == report_html.page("t", "<p>x</p>", br._CSS) and report_html.BASE_CSS in page
    assert br._table is report_html.table


def test_finding_the_schema_and_the_version(tmp_path):
    assert os.path.samefile(fr.find_schema(), SCHEMA_PATH)
    assert fr.find_collection_version() == "0.1.0"  # galaxy.yml of this checkout
    installed = tmp_path / "colls" / "ansible_collections" / "dgx_station" / "inference"
    (installed / "docs" / "schemas").mkdir(parents=True)
    (installed / "docs" / "schemas" / "fleet-report.schema.json").write_text("{}")
    (installed / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "2.0.0"}}))
    zipped = "/nonexistent/payload.zip/ansible_collections/dgx_station/inference/plugins/module_utils/fleet_report.py"
    roots = fr.collection_roots(env={"ANSIBLE_COLLECTIONS_PATH": "/nowhere" + os.pathsep + str(tmp_path / "colls")},
                                cwd=str(tmp_path), here=zipped)
    assert roots[0] == "/nonexistent/payload.zip/ansible_collections/dgx_station/inference"
    assert str(installed) in roots
    assert fr.find_schema(roots) == str(installed / "docs" / "schemas" / "fleet-report.schema.json")
    assert fr.find_collection_version(roots) == "2.0.0"
    assert fr.find_schema([str(tmp_path / "none")]) is None and fr.find_collection_version([str(tmp_path)]) is None


def test_collection_paths_follow_ansible_config_precedence(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "ansible.cfg").write_text("[defaults]\ncollections_path = .build/collections:/abs/colls\n")
    # ./ansible.cfg of the launch directory, relative paths from the file's directory.
    assert fr.configured_collection_paths(env={}, cwd=str(project)) == [
        str(project / ".build" / "collections"), "/abs/colls"]
    # ANSIBLE_CONFIG names another file; the environment variable wins over both.
    other = tmp_path / "other.cfg"
    other.write_text("[defaults]\ncollections_paths = colls2\n")
    assert fr.configured_collection_paths(env={"ANSIBLE_CONFIG": str(other)}, cwd=str(project)) == [
        str(tmp_path / "colls2")]
    assert fr.configured_collection_paths(env={"ANSIBLE_CONFIG": str(other), "ANSIBLE_COLLECTIONS_PATH": "/e1:rel"},
                                          cwd=str(project)) == ["/e1", str(project / "rel")]
    # This checkout: its ansible.cfg points at .build/collections, where the checkout is linked.
    roots = fr.collection_roots(env={}, cwd=REPO, here="/zip/x/y/z.py")
    assert os.path.samefile(roots[1], REPO)


# --------------------------------------------------------------------------- rollout outcomes
PHASES = {"drain": 5.1, "idle": 2.0, "stop": 5.3, "boot": 2.2, "warm-up": 0.4, "validate": 3.1, "admit": 4.0, "commit": 0.3}


def rollout(outcome, **extra):
    """A Station's sglang_rollout_result as playbooks/rollout.yml leaves it."""
    fact = dict(outcome=outcome, release="r2", release_before="r1", phase="", catalog_id="", msg="", phases_s={})
    if outcome == "replaced":
        fact.update(container_id_before="c-old", container_id="c-new", phases_s=dict(PHASES))
    if outcome in ("rolled_back", "failed"):
        fact.update(release="r1", release_attempted="r2", container_id_before="c-old",
                    phases_s={"drain": 5.0, "idle": 1.0, "stop": 4.0, "boot": 30.5, "rollback": 12.0})
    if outcome == "not_reached":
        fact.update(release="r1", msg="not reached: the canary batch 1 failed on a (1 of 1)")
    fact.update(extra)
    return fact


def rollout_fleet():
    stations = dict(a=station(1), b=station(2, release="r2"), c=station(3), d=station(4), e=station(5, release="r2"),
                    f=station(6, release="r2"))
    stations["a"]["rollout"] = rollout("rolled_back", phase="boot", catalog_id="cuda_oom",
                                       msg="[cuda_oom] CUDA out of memory while loading the weights",
                                       restore="Back on its previous server (r1), proven ready.")
    stations["b"]["rollout"] = rollout("replaced")
    stations["c"]["rollout"] = rollout("failed", phase="admit", msg="the gateway does not report it healthy",
                                       restore="ROLLBACK FAILED: the previous server does not serve again (timeout).")
    stations["d"]["rollout"] = rollout("not_reached")
    stations["e"]["rollout"] = rollout("unchanged", release="r2", release_before="r2")
    return stations  # f: not part of the rollout


def test_rollout_is_normalised_to_its_documented_keys():
    got = fr.normalise_station("s", dict(rollout=dict(
        outcome=" Rolled_Back ", release="r1", release_before="r1", release_attempted="r2", phase="boot",
        catalog_id="", msg="boom\n", restore="", container_id_before="c1", unknown="x",
        phases_s={"commit": "0.3", "boot": 2, "drain": 5.5, "custom": 1, "bad": "n/a", "neg": -1, "idle": True})))
    assert got["rollout"] == dict(outcome="rolled_back", release="r1", release_before="r1", release_attempted="r2",
                                  phase="boot", catalog_id=None, msg="boom", restore=None, container_id_before="c1",
                                  container_id=None, phases_s={"drain": 5.5, "boot": 2, "commit": 0.3, "custom": 1})
    # The phases in the order they run, whatever order they came in (and the JSON file sorts them).
    assert list(got["rollout"]["phases_s"]) == ["drain", "boot", "commit", "custom"]
    assert fr.normalise_station("s", {})["rollout"] is None
    assert fr.normalise_station("s", dict(rollout={}))["rollout"] is None
    assert fr.normalise_station("s", dict(rollout=dict(outcome="unchanged")))["rollout"]["phases_s"] == {}


def test_an_unknown_rollout_outcome_is_an_error_naming_it():
    for fact in (dict(outcome="partially"), dict(release="r2"), dict(outcome="")):
        with pytest.raises(fr.FleetReportError, match=r"stations\[s\]\.rollout\.outcome") as info:
            fr.normalise_station("s", dict(rollout=fact))
        assert repr(fact.get("outcome")) in str(info.value)
    with pytest.raises(fr.FleetReportError, match=r"stations\[s\]\.rollout must be a dict"):
        fr.normalise_station("s", dict(rollout="replaced"))


def test_rollout_outcomes_and_their_reasons(validator):
    doc = fr.build_report(rollout_fleet(), None, now=NOW)
    reasons = dict((n, s["reasons"]) for n, s in doc["stations"].items())
    assert reasons == dict(
        a=["rollout of r2 rolled back in phase boot [cuda_oom]: CUDA out of memory while loading the weights"],
        b=[], c=["rollout of r2 failed in phase admit: the gateway does not report it healthy; "
                 "ROLLBACK FAILED: the previous server does not serve again (timeout)."],
        d=[], e=[], f=[])
    assert doc["fleet"]["failed"] == ["a", "c"] and doc["fleet"]["verdict"] == "FAIL"
    assert doc["stations"]["b"]["rollout"]["container_id"] == "c-new"
    assert doc["stations"]["f"]["rollout"] is None
    # Which Station runs which release.
    assert doc["fleet"]["releases"] == {"r1": ["a", "c", "d"], "r2": ["b", "e", "f"]}
    assert doc["fleet"]["rollout"] == dict(
        counts=dict(replaced=1, unchanged=1, rolled_back=1, failed=1, not_reached=1),
        stations=dict(replaced=["b"], unchanged=["e"], rolled_back=["a"], failed=["c"], not_reached=["d"]))
    assert fr.summary_line(doc).endswith("; rollout: 1 replaced, 1 unchanged, 1 rolled_back, 1 failed, 1 not_reached")
    validator.validate(doc)


def test_a_failed_rollout_without_a_restore_note_or_phase_still_says_so():
    got = fr.build_report(dict(a=dict(station(1), rollout=dict(outcome="failed"))), None, now=NOW)["stations"]["a"]
    assert got["reasons"] == ["rollout failed; ROLLBACK FAILED"]
    note = "The previous server serves again, but the gateway does not report it healthy: no healthy member."
    got = fr.build_report(dict(a=dict(station(1), rollout=rollout("failed", phase="admit", restore=note))), None,
                          now=NOW)["stations"]["a"]
    assert got["reasons"] == ["rollout of r2 failed in phase admit; ROLLBACK incomplete: " + note]


def test_without_a_rollout_the_fleet_summary_is_null(validator):
    doc = fr.build_report(dict(a=station(1), b=station(2)), None, now=NOW)
    assert doc["fleet"]["rollout"] is None and all(s["rollout"] is None for s in doc["stations"].values())
    assert "rollout" not in fr.summary_line(doc)
    assert "No rollout in this run." in fr.markdown(doc) and "No rollout in this run." in fr.html(doc)
    validator.validate(doc)


def test_rollout_phase_timings_are_volatile():
    stations = rollout_fleet()
    one = fr.build_report(stations, None, now=NOW)
    stations["b"]["rollout"]["phases_s"] = dict(PHASES, drain=9.9, boot=3.3)
    stations["a"]["rollout"]["phases_s"] = {}
    two = fr.build_report(stations, None, now=NOW)
    assert one != two and fr.stable(one) == fr.stable(two)
    assert "phases_s" not in fr.stable(one)["stations"]["b"]["rollout"]
    assert fr.carry_volatile(two, one) == one
    # The JSON file sorts the keys: carried timings render as the first run's did.
    reloaded = json.loads(json.dumps(one, sort_keys=True))
    assert fr.files(fr.carry_volatile(two, reloaded)) == fr.files(one)
    # The outcome is not volatile.
    stations["b"]["rollout"]["outcome"] = "unchanged"
    assert fr.stable(fr.build_report(stations, None, now=NOW)) != fr.stable(one)


def test_rollout_is_rendered_in_markdown_and_html():
    doc = fr.build_report(rollout_fleet(), None, now=NOW)
    md = fr.markdown(doc)
    header = [line for line in md.splitlines() if line.startswith("| Station | Verdict |")][0]
    assert "| Rollout | Reasons |" in header

    def row(name):
        return [line for line in md.splitlines() if line.startswith("| %s | " % name)][0]

    assert "| rolled_back (boot) |" in row("a") and "| failed (admit) |" in row("c")
    assert "| replaced |" in row("b") and "| not_reached |" in row("d") and "| unchanged |" in row("e")
    section = md.split("## Rollout", 1)[1].split("\n## ", 1)[0]
    assert "| Replaced | Unchanged | Rolled back | Failed | Not reached |" in section and "| 1 | 1 | 1 | 1 | 1 |" in section
    assert "| a | rolled_back | r1 | r1 | r2 | phase boot [cuda_oom]: CUDA out of memory while loading the weights; " \
           "Back on its previous server (r1), proven ready. |" in section
    assert "| d | not_reached | r1 | r1 | - | not reached: the canary batch 1 failed on a (1 of 1) |" in section
    assert "| Station | drain | idle | stop | boot | warm-up | validate | admit | commit | rollback | Total |" in section
    assert "| b | 5.1 | 2.0 | 5.3 | 2.2 | 0.4 | 3.1 | 4.0 | 0.3 | - | 22.4 |" in section
    assert "| a | 5.0 | 1.0 | 4.0 | 30.5 | - | - | - | - | 12.0 | 52.5 |" in section
    assert "| e |" not in section.split("Seconds per phase", 1)[1]  # no timings, no row
    page = fr.html(doc)
    assert "<h2>Rollout</h2>" in page and "<th class=\"l\">Rollout</th>" in page
    assert "rolled_back (boot)" in page and '<span class="fail">failed</span>' in page
    assert "<th>warm-up</th>" in page and "<td>22.4</td>" in page
    assert not re.search(r"<script|<link|@import|url\(", page, re.I)
