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
    assert set(got) == {"gpu", "server", "validation", "benchmark", "gateway", "metrics_url", "labels", "error"}
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
