# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sglang_fleet_report run in-process: verdicts, drift, file_sd, schema, idempotence, modes, secrets, check mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import stat

import jsonschema
import pytest

from ansible.module_utils import basic

from ansible_collections.dgx_station.inference.plugins.modules import sglang_fleet_report

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMA_PATH = os.path.join(REPO, "docs", "schemas", "fleet-report.schema.json")
FILES = ("fleet-report.json", "fleet-report.md", "fleet-report.html", "prometheus-targets.json")
IMAGE = "lmsysorg/sglang:v0.5.3-cu129-gb300"
IMAGE_ID = "sha256:" + "a" * 64
OTHER_ID = "sha256:" + "b" * 64


def _station(index, image_id=IMAGE_ID, passed=True, healthy=True, member=True, failures=None, benchmark="pass"):
    address = "10.0.0.%d" % index
    return dict(
        gpu=dict(name="NVIDIA GB300", uuid="GPU-%d" % index, memory_total_mib=285696, driver_version="580.95.05",
                 compute_cap="10.3", mig_mode="disabled"),
        server=dict(name="sglang", image=IMAGE, image_id=image_id, image_digests=["lmsysorg/sglang@sha256:" + "c" * 64],
                    model="Qwen/Qwen3-8B", served_model="Qwen/Qwen3-8B", release="v0.5.3",
                    started_at="2025-11-30T10:00:0%dZ" % index, ready_after_s=41.2 + index,
                    base_url="http://%s:30000" % address, tag_moved=False, replaced=False),
        validation=dict(passed=passed, failures=failures or [], report="reports/validation/station%d.json" % index),
        benchmark=dict(verdict=benchmark, report="reports/benchmark/runbook/station%d/report.json" % index),
        gateway=dict(member=member, worker_id="w%d" % index, status="healthy" if healthy else "unhealthy",
                     is_healthy=healthy) if member is not None else None,
        metrics_url="http://%s:30000/metrics" % address,
        labels=dict(site="lab1"),
        error=None,
    )


def _gateway(n=3):
    return dict(url="http://gateway.lab:8080", local_url="http://127.0.0.1:8080", version="0.2.1",
                policy="cache_aware", health_window_s=30, prometheus_url="http://gateway.lab:29000/metrics",
                workers=[dict(id="w%d" % i, url="http://10.0.0.%d:30000" % i, status="healthy", is_healthy=True,
                              model_id="Qwen/Qwen3-8B") for i in range(1, n + 1)],
                healthy_urls=["http://10.0.0.%d:30000" % i for i in range(1, n + 1)], unhealthy_urls=[])


def _fleet(n=3):
    return dict(("station%d" % i, _station(i)) for i in range(1, n + 1))


@pytest.fixture(scope="module")
def schema():
    with open(SCHEMA_PATH) as handle:
        return json.load(handle)


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: seen.append(text))
    return seen


def _args(tmp_path, stations=None, gateway="default", **extra):
    args = dict(stations=_fleet() if stations is None else stations, dest=str(tmp_path / "reports" / "fleet"),
                schema_file=SCHEMA_PATH)
    if gateway == "default":
        args["gateway"] = _gateway()
    elif gateway is not None:
        args["gateway"] = gateway
    args.update(extra)
    return args


def _run(run_module, args, check_mode=False):
    failed, result = run_module(sglang_fleet_report.main, args, check_mode=check_mode)
    assert not failed, result
    return result


def _mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def _mtimes(directory):
    return dict((name, os.stat(str(directory / name)).st_mtime_ns) for name in FILES)


def test_three_stations_behind_a_healthy_gateway_pass(run_module, tmp_path, schema):
    result = _run(run_module, _args(tmp_path))
    assert result["verdict"] == "PASS" and result["changed"] is True
    assert result["msg"] == "fleet PASS: 3/3 Stations pass, 3 in the gateway (3 healthy)"
    assert result["counts"] == dict(stations=3, passed=3, failed=0, in_gateway=3, healthy_in_gateway=3)
    assert result["drift"] == {}
    dest = tmp_path / "reports" / "fleet"
    assert result["paths"] == dict((key, str(dest / name)) for key, name in zip(
        ("json", "markdown", "html", "prometheus_targets"), FILES))
    doc = json.loads((dest / "fleet-report.json").read_text())
    assert doc == result["report"]
    jsonschema.validate(doc, schema)
    assert doc["schema_version"] == 1 and doc["collection"] == {"name": "dgx_station.inference", "version": "0.1.0"}
    assert set(doc["stations"]) == {"station1", "station2", "station3"}
    for station in doc["stations"].values():
        assert station["verdict"] == "PASS" and station["reasons"] == [] and station["drift"] is False
    assert doc["fleet"]["releases"] == {"v0.5.3": ["station1", "station2", "station3"]}
    assert doc["gateway"]["url"] == "http://gateway.lab:8080"
    assert [w["id"] for w in doc["gateway"]["workers"]] == ["w1", "w2", "w3"]
    md = (dest / "fleet-report.md").read_text()
    assert "**Fleet verdict: PASS**" in md and "| station2 | PASS |" in md
    html = (dest / "fleet-report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "<script" not in html and "<link" not in html and "url(" not in html


def test_a_station_that_failed_validation_fails_by_name_and_fails_the_fleet(run_module, tmp_path, schema):
    stations = _fleet()
    stations["station2"] = _station(2, passed=False, failures=["smoke test: HTTP 500 from /v1/chat/completions"])
    result = _run(run_module, _args(tmp_path, stations))
    assert result["verdict"] == "FAIL"
    assert result["counts"]["passed"] == 2 and result["counts"]["failed"] == 1
    assert "station2" in result["msg"] and result["msg"].startswith("fleet FAIL: 2/3 Stations pass (failed: station2)")
    station = result["report"]["stations"]["station2"]
    assert station["verdict"] == "FAIL"
    assert station["reasons"] == ["validation failed: smoke test: HTTP 500 from /v1/chat/completions"]
    assert result["report"]["fleet"]["failed"] == ["station2"]
    assert result["report"]["stations"]["station1"]["verdict"] == "PASS"
    jsonschema.validate(result["report"], schema)


def test_a_station_not_healthy_in_the_gateway_fails(run_module, tmp_path, schema):
    stations = _fleet()
    stations["station3"] = _station(3, healthy=False)
    gateway = _gateway()
    gateway["workers"][2].update(status="unhealthy", is_healthy=False)
    gateway["healthy_urls"].pop()
    gateway["unhealthy_urls"] = ["http://10.0.0.3:30000"]
    result = _run(run_module, _args(tmp_path, stations, gateway))
    assert result["verdict"] == "FAIL"
    assert result["msg"] == "fleet FAIL: 2/3 Stations pass (failed: station3), 3 in the gateway (2 healthy)"
    assert result["report"]["stations"]["station3"]["reasons"] == ["unhealthy in the gateway"]
    jsonschema.validate(result["report"], schema)


def test_a_station_outside_the_gateway_fails(run_module, tmp_path):
    stations = _fleet()
    stations["station3"] = _station(3, member=False)
    result = _run(run_module, _args(tmp_path, stations, _gateway(2)))
    assert result["report"]["stations"]["station3"]["reasons"] == ["not a member of the gateway"]
    assert result["counts"]["in_gateway"] == 2 and result["verdict"] == "FAIL"


def test_failed_deploy_and_failed_benchmark_fail_with_their_reasons(run_module, tmp_path, schema):
    stations = _fleet()
    stations["station1"] = dict(gpu=_station(1)["gpu"], error=dict(phase="deploy", msg="image pull failed"),
                                gateway=dict(member=False))
    stations["station2"] = _station(2, benchmark="fail")
    result = _run(run_module, _args(tmp_path, stations, _gateway()))
    doc = result["report"]
    assert doc["stations"]["station1"]["reasons"] == ["deploy failed: image pull failed", "not a member of the gateway"]
    assert doc["stations"]["station2"]["reasons"] == ["benchmark verdict fail"]
    # A Station with a deploy error serves no release.
    assert doc["fleet"]["releases"] == {"v0.5.3": ["station2", "station3"]}
    jsonschema.validate(doc, schema)


def test_drift_same_tag_two_image_ids_is_flagged(run_module, tmp_path, warnings, schema):
    stations = _fleet()
    stations["station3"] = _station(3, image_id=OTHER_ID)
    result = _run(run_module, _args(tmp_path, stations))
    assert result["drift"] == {IMAGE: {IMAGE_ID: ["station1", "station2"], OTHER_ID: ["station3"]}}
    assert result["report"]["fleet"]["drift"] == result["drift"]
    assert [s["drift"] for _n, s in sorted(result["report"]["stations"].items())] == [True, True, True]
    # Drift is flagged, it does not fail a Station by itself.
    assert result["verdict"] == "PASS" and "image drift on " + IMAGE in result["msg"]
    assert any("Image drift" in w and "station3" in w for w in warnings)
    dest = tmp_path / "reports" / "fleet"
    assert "DRIFT" in (dest / "fleet-report.md").read_text() and "DRIFT" in (dest / "fleet-report.html").read_text()
    jsonschema.validate(result["report"], schema)
    # Different tags with different IDs are not drift.
    stations["station3"]["server"]["image"] = "lmsysorg/sglang:v0.5.4"
    result = _run(run_module, _args(tmp_path, stations))
    assert result["drift"] == {} and not any(s["drift"] for s in result["report"]["stations"].values())


def test_without_a_gateway_verdicts_do_not_need_membership(run_module, tmp_path, schema):
    stations = dict((name, dict(station, gateway=None)) for name, station in _fleet().items())
    result = _run(run_module, _args(tmp_path, stations, gateway=None))
    assert result["verdict"] == "PASS"
    assert result["msg"] == "fleet PASS: 3/3 Stations pass, no gateway"
    assert result["counts"] == dict(stations=3, passed=3, failed=0, in_gateway=0, healthy_in_gateway=0)
    assert result["report"]["gateway"] is None and result["report"]["fleet"]["with_gateway"] is False
    jsonschema.validate(result["report"], schema)
    targets = json.loads((tmp_path / "reports" / "fleet" / "prometheus-targets.json").read_text())
    assert [g["labels"]["job"] for g in targets] == ["sglang"] * 3


def test_prometheus_file_sd_targets(run_module, tmp_path):
    stations = _fleet()
    stations["station2"]["metrics_url"] = None  # metrics off on this one
    stations["station3"]["metrics_url"] = "https://10.0.0.3/sglang/metrics"
    stations["station3"]["labels"] = dict(rack="r2", job="not-this")
    result = _run(run_module, _args(tmp_path, stations))
    targets = json.loads((tmp_path / "reports" / "fleet" / "prometheus-targets.json").read_text())
    assert targets == [
        {"targets": ["10.0.0.1:30000"],
         "labels": {"job": "sglang", "station": "station1", "model": "Qwen/Qwen3-8B", "release": "v0.5.3", "site": "lab1"}},
        {"targets": ["10.0.0.3:443"],
         "labels": {"job": "sglang", "station": "station3", "model": "Qwen/Qwen3-8B", "release": "v0.5.3", "rack": "r2",
                    "__scheme__": "https", "__metrics_path__": "/sglang/metrics"}},
        {"targets": ["gateway.lab:29000"], "labels": {"job": "smg", "gateway": "http://gateway.lab:8080"}},
    ]
    assert result["paths"]["prometheus_targets"].endswith("prometheus-targets.json")
    # Nothing to scrape: an empty list.
    stations = dict((name, dict(station, metrics_url=None, gateway=None)) for name, station in _fleet().items())
    _run(run_module, _args(tmp_path, stations, gateway=None))
    assert json.loads((tmp_path / "reports" / "fleet" / "prometheus-targets.json").read_text()) == []


def test_prometheus_targets_false_writes_no_targets_file(run_module, tmp_path):
    result = _run(run_module, _args(tmp_path, prometheus_targets=False))
    assert "prometheus_targets" not in result["paths"]
    assert sorted(os.listdir(str(tmp_path / "reports" / "fleet"))) == sorted(FILES[:3])


def test_a_bad_label_name_fails_before_anything_is_written(run_module, tmp_path):
    stations = _fleet()
    stations["station1"]["labels"] = {"rack-id": "r1"}
    failed, result = run_module(sglang_fleet_report.main, _args(tmp_path, stations))
    assert failed and "rack-id" in result["msg"] and "station1" in result["msg"]
    assert not (tmp_path / "reports").exists()


def test_the_schema_validates_every_report_and_rejects_malformed_ones(run_module, tmp_path, schema):
    scenarios = [_args(tmp_path)]
    failing = _fleet()
    failing["station1"] = dict(error=dict(phase="provision", msg="apt failed"))
    failing["station2"] = _station(2, passed=False, failures=["x"], healthy=None)
    failing["station3"] = {}
    scenarios.append(_args(tmp_path, failing))
    scenarios.append(_args(tmp_path, {}, gateway=None))
    for args in scenarios:
        doc = _run(run_module, args)["report"]
        jsonschema.validate(doc, schema)
    good = _run(run_module, _args(tmp_path))["report"]
    broken = []
    for mutate in (
        lambda d: d["stations"]["station1"].update(verdict="MAYBE"),
        lambda d: d["stations"]["station1"].update(reasons=["a reason on a PASS"]),
        lambda d: d["stations"]["station1"].update(unexpected=1),
        lambda d: d["stations"]["station1"]["server"].pop("image_id"),
        lambda d: d["fleet"]["counts"].update(stations=-1),
        lambda d: d["fleet"].update(failed=["station1"]),
        lambda d: d["fleet"]["drift"].update({IMAGE: {IMAGE_ID: ["station1"]}}),
        lambda d: d["stations"]["station1"]["labels"].update({"bad-name": "x"}),
        lambda d: d.update(schema_version=2),
        lambda d: d.pop("generated_at"),
    ):
        doc = copy.deepcopy(good)
        mutate(doc)
        broken.append(doc)
    validator = jsonschema.Draft202012Validator(schema)
    for index, doc in enumerate(broken):
        assert not validator.is_valid(doc), index


def test_a_report_the_schema_refuses_fails_the_module_naming_the_place(run_module, tmp_path, schema):
    strict = copy.deepcopy(schema)
    strict["$defs"]["station"]["properties"]["gpu"] = {"type": "null"}
    path = tmp_path / "strict.schema.json"
    path.write_text(json.dumps(strict))
    failed, result = run_module(sglang_fleet_report.main, _args(tmp_path, schema_file=str(path)))
    assert failed and str(path) in result["msg"] and "at stations/station1/gpu" in result["msg"]
    assert not (tmp_path / "reports").exists()
    failed, result = run_module(sglang_fleet_report.main, _args(tmp_path, schema_file=str(tmp_path / "missing.json")))
    assert failed and "Cannot read schema_file" in result["msg"]


def test_the_collection_schema_is_the_default(run_module, tmp_path, monkeypatch):
    seen = []
    real = sglang_fleet_report.fr.find_schema

    def spy(roots=None):
        seen.append(real(roots))
        return seen[-1]

    monkeypatch.setattr(sglang_fleet_report.fr, "find_schema", spy)
    args = _args(tmp_path)
    del args["schema_file"]
    _run(run_module, args)
    assert seen and os.path.samefile(seen[0], SCHEMA_PATH)


def test_a_rerun_that_changed_nothing_rewrites_nothing(run_module, tmp_path):
    args = _args(tmp_path)
    dest = tmp_path / "reports" / "fleet"
    first = _run(run_module, args)
    assert first["changed"] is True
    before = _mtimes(dest)
    texts = dict((name, (dest / name).read_text()) for name in FILES)
    # Later run, new timestamp and a new readiness wait on one Station: volatile, nothing to write.
    again = copy.deepcopy(args)
    again["stations"]["station1"]["server"]["ready_after_s"] = 12.0
    second = _run(run_module, again)
    assert second["changed"] is False
    assert _mtimes(dest) == before
    assert dict((name, (dest / name).read_text()) for name in FILES) == texts
    assert second["report"] == first["report"]  # the existing document, old generated_at included
    # A real change rewrites the files together.
    changed = copy.deepcopy(args)
    changed["stations"]["station2"]["server"]["started_at"] = "2025-12-01T08:00:00Z"
    third = _run(run_module, changed)
    assert third["changed"] is True
    for name in FILES[:3]:
        assert (dest / name).read_text() != texts[name], name
    for name in FILES[:3]:
        assert "2025-12-01T08:00:00Z" in (dest / name).read_text(), name
    assert _run(run_module, changed)["changed"] is False


def test_a_missing_file_is_written_again_and_only_it(run_module, tmp_path):
    args = _args(tmp_path)
    dest = tmp_path / "reports" / "fleet"
    _run(run_module, args)
    before = _mtimes(dest)
    (dest / "fleet-report.md").unlink()
    result = _run(run_module, args)
    assert result["changed"] is True and (dest / "fleet-report.md").is_file()
    after = _mtimes(dest)
    assert dict((n, after[n]) for n in FILES if n != "fleet-report.md") == \
        dict((n, before[n]) for n in FILES if n != "fleet-report.md")


def test_files_are_0600_in_a_0700_directory_and_loose_ones_are_tightened(run_module, tmp_path):
    args = _args(tmp_path)
    dest = tmp_path / "reports" / "fleet"
    _run(run_module, args)
    assert _mode(dest) == 0o700
    for name in FILES:
        assert _mode(dest / name) == 0o600, name
    assert not [n for n in os.listdir(str(dest)) if n.endswith(".tmp")]
    os.chmod(str(dest / "fleet-report.html"), 0o644)
    result = _run(run_module, args)
    assert result["changed"] is True and _mode(dest / "fleet-report.html") == 0o600
    assert _run(run_module, args)["changed"] is False


def test_an_existing_directory_keeps_its_mode(run_module, tmp_path):
    dest = tmp_path / "shared"
    dest.mkdir()
    os.chmod(str(dest), 0o750)
    _run(run_module, dict(_args(tmp_path), dest=str(dest)))
    assert _mode(dest) == 0o750
    for name in FILES:
        assert _mode(dest / name) == 0o600, name


def test_api_keys_are_redacted_from_every_file_and_the_result(run_module, tmp_path):
    secret = "sk-fleet-live-7f3a9c"
    stations = _fleet()
    stations["station1"]["validation"] = dict(passed=False, failures=["401 with key %s" % secret])
    stations["station2"]["error"] = dict(phase="deploy", msg="docker run ... %s" % secret)
    stations["station3"]["labels"] = dict(note="uses " + secret)
    stations["station3"]["server"]["served_model"] = secret
    stations["station3"]["server"]["api_key"] = "sk-unknown-other"  # an unknown key is dropped (and would be redacted)
    stations["station3"]["server"]["base_url"] = "http://admin:%s@10.0.0.3:30000" % secret
    stations["station3"]["rollout"] = dict(outcome="rolled_back", phase="boot", msg="--api-key %s refused" % secret,
                                           restore="back on v0.5.3 (key %s)" % secret)
    gateway = _gateway()
    gateway["url"] = "http://gateway.lab:8080/?key=" + secret
    result = _run(run_module, _args(tmp_path, stations, gateway, api_keys=[secret]))
    dest = tmp_path / "reports" / "fleet"
    for name in FILES:
        text = (dest / name).read_text()
        assert secret not in text and "sk-unknown-other" not in text, name
    assert "<redacted>" in (dest / "fleet-report.json").read_text()
    assert secret not in json.dumps(result)


def test_check_mode_writes_nothing_and_says_what_would_change(run_module, tmp_path):
    args = _args(tmp_path)
    dest = tmp_path / "reports" / "fleet"
    result = _run(run_module, args, check_mode=True)
    assert result["changed"] is True and result["verdict"] == "PASS"
    assert not (tmp_path / "reports").exists()
    _run(run_module, args)
    before = _mtimes(dest)
    texts = dict((name, (dest / name).read_text()) for name in FILES)
    assert _run(run_module, args, check_mode=True)["changed"] is False
    changed = copy.deepcopy(args)
    changed["stations"]["station1"]["validation"]["passed"] = False
    result = _run(run_module, changed, check_mode=True)
    assert result["changed"] is True and result["verdict"] == "FAIL"
    assert _mtimes(dest) == before and dict((n, (dest / n).read_text()) for n in FILES) == texts


def test_string_values_from_templates_are_normalised(run_module, tmp_path, schema):
    stations = _fleet()
    server = stations["station1"]["server"]
    server.update(tag_moved="False", replaced="True", ready_after_s="41.5", image_id="")
    stations["station1"]["gpu"]["memory_total_mib"] = "285696"
    stations["station1"]["validation"]["passed"] = "true"
    result = _run(run_module, _args(tmp_path, stations))
    got = result["report"]["stations"]["station1"]
    assert got["server"]["tag_moved"] is False and got["server"]["replaced"] is True
    assert got["server"]["ready_after_s"] == 41.5 and got["server"]["image_id"] is None
    assert got["gpu"]["memory_total_mib"] == 285696 and got["validation"]["passed"] is True
    jsonschema.validate(result["report"], schema)


def _rollout(outcome, **extra):
    """sglang_rollout_result as playbooks/rollout.yml leaves it on a Station."""
    fact = dict(outcome=outcome, release="v0.5.4", release_before="v0.5.3", phase="", catalog_id="", msg="", phases_s={})
    if outcome == "replaced":
        fact.update(container_id_before="c-old", container_id="c-new",
                    phases_s={"drain": 5.1, "idle": 2.0, "stop": 5.3, "boot": 2.2, "warm-up": 0.4, "validate": 3.1,
                              "admit": 4.0, "commit": 0.3})
    elif outcome in ("rolled_back", "failed"):
        fact.update(release="v0.5.3", release_attempted="v0.5.4", container_id_before="c-old",
                    phases_s={"drain": 4.0, "idle": 1.0, "stop": 5.0, "boot": 61.0, "rollback": 20.5})
    fact.update(extra)
    return fact


def _rollout_fleet():
    stations = _fleet()
    stations["station1"]["server"]["release"] = "v0.5.4"
    stations["station1"]["rollout"] = _rollout("replaced")
    stations["station2"]["rollout"] = _rollout(
        "rolled_back", phase="boot", catalog_id="cuda_oom", msg="[cuda_oom] CUDA out of memory",
        restore="Back on its previous server (v0.5.3), proven ready and healthy behind the gateway.")
    stations["station3"]["rollout"] = _rollout("not_reached", release="v0.5.3",
                                               msg="not reached: the canary batch 1 failed on station2 (1 of 1)")
    return stations


def test_rollout_outcomes_are_reported_rendered_and_validated(run_module, tmp_path, schema):
    result = _run(run_module, _args(tmp_path, _rollout_fleet()))
    doc = result["report"]
    jsonschema.validate(doc, schema)
    assert result["verdict"] == "FAIL" and doc["fleet"]["failed"] == ["station2"]
    assert doc["stations"]["station2"]["reasons"] == ["rollout of v0.5.4 rolled back in phase boot [cuda_oom]: CUDA out of memory"]
    assert doc["stations"]["station1"]["reasons"] == [] and doc["stations"]["station3"]["reasons"] == []
    assert doc["stations"]["station1"]["rollout"]["release_before"] == "v0.5.3"
    assert doc["fleet"]["releases"] == {"v0.5.4": ["station1"], "v0.5.3": ["station2", "station3"]}
    assert result["rollout"] == doc["fleet"]["rollout"] == dict(
        counts=dict(replaced=1, unchanged=0, rolled_back=1, failed=0, not_reached=1),
        stations=dict(replaced=["station1"], unchanged=[], rolled_back=["station2"], failed=[], not_reached=["station3"]))
    assert result["msg"].endswith("; rollout: 1 replaced, 1 rolled_back, 1 not_reached")
    dest = tmp_path / "reports" / "fleet"
    md = (dest / "fleet-report.md").read_text()
    assert "| Rollout | Reasons |" in md and "| rolled_back (boot) |" in md and "| replaced |" in md
    assert "## Rollout" in md and "| 1 | 0 | 1 | 0 | 1 |" in md
    assert "| station1 | 5.1 | 2.0 | 5.3 | 2.2 | 0.4 | 3.1 | 4.0 | 0.3 | - | 22.4 |" in md
    html = (dest / "fleet-report.html").read_text()
    assert "<h2>Rollout</h2>" in html and "rolled_back (boot)" in html and "<td>61.0</td>" in html
    assert json.loads((dest / "fleet-report.json").read_text()) == doc
    # A Station whose rollout failed altogether fails too, with what the restore did.
    stations = _rollout_fleet()
    stations["station2"]["rollout"].update(outcome="failed", restore="ROLLBACK FAILED: the previous server does not "
                                                                     "serve again (container exited).")
    result = _run(run_module, _args(tmp_path, stations))
    assert result["report"]["stations"]["station2"]["reasons"] == [
        "rollout of v0.5.4 failed in phase boot [cuda_oom]: CUDA out of memory; ROLLBACK FAILED: the previous server "
        "does not serve again (container exited)."]
    assert result["rollout"]["counts"]["failed"] == 1 and result["rollout"]["stations"]["failed"] == ["station2"]
    jsonschema.validate(result["report"], schema)


def test_a_report_without_a_rollout_has_null_rollout_entries(run_module, tmp_path, schema):
    result = _run(run_module, _args(tmp_path))
    assert result["rollout"] is None and result["report"]["fleet"]["rollout"] is None
    assert all(s["rollout"] is None for s in result["report"]["stations"].values())
    assert "No rollout in this run." in (tmp_path / "reports" / "fleet" / "fleet-report.md").read_text()
    jsonschema.validate(result["report"], schema)


def test_rollout_timings_alone_do_not_change_the_report(run_module, tmp_path):
    args = _args(tmp_path, _rollout_fleet())
    dest = tmp_path / "reports" / "fleet"
    first = _run(run_module, args)
    before = _mtimes(dest)
    again = copy.deepcopy(args)
    again["stations"]["station1"]["rollout"]["phases_s"].update(drain=7.7, boot=3.9, commit=0.2)
    again["stations"]["station2"]["rollout"]["phases_s"] = {"boot": 59.0, "drain": 4.5, "rollback": 21.0, "stop": 5.0}
    second = _run(run_module, again)
    assert second["changed"] is False and _mtimes(dest) == before
    assert second["report"] == first["report"]
    # Another outcome is a real change.
    changed = copy.deepcopy(again)
    changed["stations"]["station3"]["rollout"].update(outcome="unchanged", msg="")
    third = _run(run_module, changed)
    assert third["changed"] is True and third["rollout"]["counts"]["unchanged"] == 1
    assert _run(run_module, changed)["changed"] is False


def test_an_unknown_rollout_outcome_fails_naming_it(run_module, tmp_path):
    stations = _rollout_fleet()
    stations["station1"]["rollout"]["outcome"] = "half_done"
    failed, result = run_module(sglang_fleet_report.main, _args(tmp_path, stations))
    assert failed and "'half_done'" in result["msg"] and "station1" in result["msg"]
    assert not (tmp_path / "reports").exists()


def test_the_schema_rejects_malformed_rollout_entries(run_module, tmp_path, schema):
    good = _run(run_module, _args(tmp_path, _rollout_fleet()))["report"]
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(good)
    broken = []
    for mutate in (
        lambda d: d["stations"]["station1"].pop("rollout"),
        lambda d: d["stations"]["station1"]["rollout"].update(outcome="half_done"),
        lambda d: d["stations"]["station1"]["rollout"].update(unexpected=1),
        lambda d: d["stations"]["station1"]["rollout"].pop("release_before"),
        lambda d: d["stations"]["station1"]["rollout"]["phases_s"].update(drain="5 s"),
        lambda d: d["stations"]["station1"]["rollout"]["phases_s"].update(drain=-1),
        # A rolled back Station cannot pass.
        lambda d: d["stations"]["station2"].update(verdict="PASS", reasons=[]),
        lambda d: d["fleet"].pop("rollout"),
        lambda d: d["fleet"]["rollout"]["counts"].pop("not_reached"),
        lambda d: d["fleet"]["rollout"]["stations"].update(half_done=["station1"]),
        lambda d: d["fleet"]["rollout"]["counts"].update(replaced=-1),
    ):
        doc = copy.deepcopy(good)
        mutate(doc)
        broken.append(doc)
    for index, doc in enumerate(broken):
        assert not validator.is_valid(doc), index
