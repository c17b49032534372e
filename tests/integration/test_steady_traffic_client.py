# -*- coding: utf-8 -*-
"""The steady-traffic client (tests/fleet/steady_traffic.py) against the SGLang simulator process:
a healthy server gives all answers ok, and a server that dies, errs, breaks its streams or hangs
shows up as failures, so a 0 from the client under a rollout means something."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from _sim_http import REPO_ROOT

CLIENT = os.path.join(REPO_ROOT, "tests", "fleet", "steady_traffic.py")


def start_client(sim, tmp_path, *args):
    out, lines = tmp_path / "summary.json", tmp_path / "requests.jsonl"
    cmd = [sys.executable, CLIENT, "--url", sim.base_url, "--out", str(out), "--requests-out", str(lines)]
    cmd += [str(a) for a in args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, out, lines


def finish(proc, out, lines, timeout=30):
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr
    summary = json.loads(out.read_text())
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(records) == summary["sent"] - summary["unfinished"], stdout
    return summary, records


def run_client(sim, tmp_path, *args, timeout=30):
    return finish(*start_client(sim, tmp_path, *args), timeout=timeout)


def test_healthy_server_all_ok(start_sim, tmp_path):
    sim = start_sim()
    started = time.monotonic()
    summary, records = run_client(sim, tmp_path, "--rate", 20, "--duration-s", 3)
    elapsed = time.monotonic() - started
    assert summary["stopped_by"] == "duration"
    assert 40 <= summary["sent"] <= 61, summary
    assert summary["ok"] == summary["sent"] and summary["failed"] == 0 and summary["broken_streams"] == 0
    assert summary["errors"] == {}
    assert abs(summary["streamed"]["sent"] - summary["plain"]["sent"]) <= 1
    assert summary["ttft_s"]["n"] == summary["streamed"]["ok"] > 0
    assert 0 < summary["ttft_s"]["p50"] <= summary["latency_s"]["p99"]
    assert summary["worst_gap_s"] is not None and summary["worst_gap_s"] < 1.0
    assert summary["per_worker"] == {"(none)": summary["ok"]}   # no gateway in front: no routed-worker header
    assert summary["finished_at"] - summary["started_at"] < 10 and elapsed < 15
    for record in records:
        assert record["ok"] and record["status"] == 200 and record["start"] <= record["end"]
        assert (record["ttft_s"] is not None) == record["streamed"]


def test_max_requests_caps_the_run(start_sim, tmp_path):
    sim = start_sim()
    summary, _records = run_client(sim, tmp_path, "--rate", 50, "--duration-s", 30, "--max-requests", 7)
    assert (summary["stopped_by"], summary["sent"], summary["ok"]) == ("max_requests", 7, 7)
    assert summary["finished_at"] - summary["started_at"] < 5


def test_stop_file_and_sigterm_end_the_run_early(start_sim, tmp_path):
    sim = start_sim()
    stop = tmp_path / "stop"
    proc, out, lines = start_client(sim, tmp_path, "--duration-s", 60, "--stop-file", stop)
    time.sleep(1.5)
    stop.write_text("")
    summary, _records = finish(proc, out, lines, timeout=20)
    assert summary["stopped_by"] == "stop_file" and summary["failed"] == 0 and summary["sent"] > 5
    assert summary["finished_at"] - summary["started_at"] < 10

    (tmp_path / "signal").mkdir()
    proc, out, lines = start_client(sim, tmp_path / "signal", "--duration-s", 60)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    summary, _records = finish(proc, out, lines, timeout=20)
    assert summary["stopped_by"] == "signal" and summary["ok"] == summary["sent"] > 5


def test_server_killed_mid_run_shows_failures(start_sim, tmp_path):
    sim = start_sim()
    proc, out, lines = start_client(sim, tmp_path, "--rate", 20, "--duration-s", 5)
    time.sleep(2.0)
    sim.proc.send_signal(signal.SIGKILL)
    sim.proc.wait(5)
    summary, records = finish(proc, out, lines)
    assert summary["ok"] > 10, summary
    assert summary["failed"] > 20, summary
    assert summary["ok"] + summary["failed"] == summary["sent"]
    assert "connection_refused" in summary["errors"], summary["errors"]
    examples = summary["errors"]["connection_refused"]["examples"]
    assert examples and "Connection refused" in examples[0]["error"]
    # Nothing succeeded after the kill: every failure started after the last success ended.
    last_ok_end = max(r["end"] for r in records if r["ok"])
    assert all(r["start"] >= last_ok_end - 0.5 for r in records if not r["ok"])


def test_http_errors_and_broken_streams_are_counted(start_sim, tmp_path):
    sim = start_sim(env={"SGLANG_SIM_STREAM_ERROR_AFTER_CHUNKS": "1"})
    summary, records = run_client(sim, tmp_path, "--rate", 20, "--duration-s", 2)
    # every stream is broken by an error event after its first chunk; plain answers are fine
    assert summary["broken_streams"] == summary["streamed"]["sent"] > 0, summary
    assert summary["plain"]["ok"] == summary["plain"]["sent"] > 0
    assert summary["failed"] == summary["broken_streams"]
    assert list(summary["errors"]) == ["broken_stream_error_event"]
    assert all(r["status"] == 200 for r in records)

    (tmp_path / "errors").mkdir()
    sim = start_sim(env={"SGLANG_SIM_ERROR_RATE": "0.5", "SGLANG_SIM_SEED": "3"})
    summary, _records = run_client(sim, tmp_path / "errors", "--rate", 20, "--duration-s", 2)
    assert 0 < summary["errors"]["http_500"]["count"] == summary["failed"] < summary["sent"]
    assert "InternalServerError" in summary["errors"]["http_500"]["examples"][0]["error"]


@pytest.mark.slow
def test_hung_server_times_out_and_the_client_still_stops(start_sim, tmp_path):
    sim = start_sim(env={"SGLANG_SIM_HANG_AFTER_REQUESTS": "3"})
    started = time.monotonic()
    summary, _records = run_client(sim, tmp_path, "--rate", 10, "--duration-s", 2, "--timeout-s", 1.5)
    assert time.monotonic() - started < 2 + 1.5 + 5 + 2
    assert summary["ok"] == 3 and summary["errors"]["timeout"]["count"] == summary["failed"] > 5, summary
