"""Reports: SLO verdicts, report.json against the shipped schema, CSV, Markdown and self-contained HTML."""
import copy
import csv
import io
import json
import os
import re

import jsonschema
import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_report as br

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMA_PATH = os.path.join(REPO, "docs", "schemas", "benchmark-report.schema.json")


def stats(p50, p90, p99, n=10):
    return dict(n=n, mean=p50, min=None if p50 is None else p50 / 2, p50=p50, p90=p90, p99=p99, max=p99)


def result(ttft=(40.0, 80.0, 120.0), hit=0.6, errors=0, model="Qwen/Qwen3-8B", expected=True, bound=False):
    per_turn = []
    for t in range(1, 4):
        per_turn.append(dict(turn=t, n=10, errors=0, e2e_ms_p50=100.0 * t, e2e_ms_p90=120.0 * t, ttft_ms_p50=ttft[0] + t,
                             ttft_ms_p90=ttft[1], tpot_ms_p50=5.0, prompt_tokens_p50=80.0 * t, cached_tokens_p50=70.0 * (t - 1),
                             cold_prefill_tokens_p50=80.0, completion_tokens_p50=16.0, hit_rate=0.0 if t == 1 else 0.8))
    return dict(
        summary=dict(requests=30, succeeded=30 - errors, errors=errors, error_rate=round(errors / 30.0, 4), error_kinds={},
                     not_sent=0, aborted=0, truncated=False, duration_s=3.0, requests_per_s=10.0, output_tokens_per_s=160.0,
                     ttft_ms=stats(*ttft), e2e_ms=stats(200.0, 300.0, 400.0), tpot_ms=stats(5.0, 6.0, 7.0),
                     cache_hit_rate=hit, client_bound=bound),
        per_turn=per_turn,
        structured_output=dict(requests=4, valid=4, invalid=0, failed=0),
        server=dict(version="0.5.23", model=model, page_size=1, enable_cache_report=True, disable_radix_cache=False,
                    attention_backend="flashinfer", context_length=8192, mem_fraction_static=0.85, enable_metrics=False,
                    prefix_cache_expected=expected),
        metrics="unavailable",
        client=dict(cpu_per_request_ms=0.2, dispatch_lag_ms=stats(0.1, 0.2, 0.3), loop_lag_ms=stats(0.1, 0.2, 0.3),
                    client_bound=bound, client_bound_reasons=["client CPU 95% of one core > 80%"] if bound else []),
        distribution=dict(ttft_ms=[float(i) for i in range(101)], e2e_ms=[float(2 * i) for i in range(101)]),
        config=dict(num_conversations=10, turns_per_conversation=3, concurrency=10, max_tokens=16, stream=True, seed=0),
    )


@pytest.fixture(scope="module")
def schema():
    with open(SCHEMA_PATH) as f:
        return json.load(f)


# ------------------------------------------------------------------ verdicts
def test_verdict_no_slo_pass_and_fail():
    assert br.verdict(result(), {})["status"] == "no_slo"
    assert br.verdict(result(), {"ttft_p90_ms": None, "fail_on_client_bound": False})["status"] == "no_slo"
    ok = br.verdict(result(), {"ttft_p90_ms": 100, "e2e_p90_ms": 300, "min_cache_hit_rate": 0.5, "max_error_rate": 0.0,
                               "min_structured_valid_rate": 1.0})
    assert ok["status"] == "pass" and len(ok["checks"]) == 5 and ok["reasons"] == []
    bad = br.verdict(result(errors=3), {"ttft_p90_ms": 50, "max_error_rate": 0.05})
    assert bad["status"] == "fail"
    assert [c["name"] for c in bad["checks"] if not c["ok"]] == ["ttft_p90_ms", "max_error_rate"]


def test_verdict_cache_rules_and_missing_values():
    hybrid = br.verdict(result(hit=0.0, expected=False), {"min_cache_hit_rate": 0.5})
    assert hybrid["status"] == "pass" and "not applicable" in hybrid["checks"][0]["message"]
    no_report = br.verdict(result(hit=None), {"min_cache_hit_rate": 0.5})
    assert no_report["status"] == "fail" and "--enable-cache-report" in no_report["reasons"][0]
    nostream = result()
    nostream["summary"]["ttft_ms"] = stats(None, None, None, n=0)
    assert br.verdict(nostream, {"ttft_p90_ms": 100})["status"] == "fail"
    bound = br.verdict(result(bound=True), {"fail_on_client_bound": True})
    assert bound["status"] == "fail" and "client CPU" in bound["reasons"][0]


# ------------------------------------------------------------------ documents
def test_station_and_fleet_reports_validate_against_the_shipped_schema(schema):
    a = br.station_report("station-a", result(), "runbook", {"ttft_p90_ms": 100})
    b = br.station_report("station-b", result(ttft=(60.0, 200.0, 300.0)), "runbook", {"ttft_p90_ms": 100})
    jsonschema.validate(a, schema)
    jsonschema.validate(b, schema)
    fleet = br.fleet_report([b, a], "runbook", {"ttft_p90_ms": 100})
    jsonschema.validate(fleet, schema)
    assert fleet["schema_version"] == 1 and fleet["kind"] == "fleet"
    assert [s["host"] for s in fleet["stations"]] == ["station-a", "station-b"]
    assert fleet["verdict"] == {"status": "fail", "failed_hosts": ["station-b"]}
    unavailable = copy.deepcopy(a)
    unavailable["metrics"] = {"sglang:prompt_tokens_total": 10.0, "sglang:num_aborted_requests_total": None,
                              "cached_tokens_by_source": {"device": 3.0}}
    jsonschema.validate(unavailable, schema)
    broken = copy.deepcopy(a)
    del broken["summary"]["ttft_ms"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    # The files carry the same document.
    assert json.loads(br.station_files(a)["report.json"])["host"] == "station-a"


def test_fleet_flags_outliers_beyond_two_mad():
    reports = [br.station_report("s%d" % i, result(ttft=(40.0 + i, 80.0, 120.0))) for i in range(4)]
    reports.append(br.station_report("slow", result(ttft=(400.0, 800.0, 900.0))))
    fleet = br.fleet_report(reports)
    assert fleet["spread"]["ttft_ms_p50"]["outliers"] == ["slow"]
    assert [s["outlier_metrics"] for s in fleet["stations"] if s["host"] == "slow"] == [["ttft_ms_p50"]]
    assert fleet["verdict"]["status"] == "no_slo"


def test_per_turn_csv_columns():
    a = br.station_report("a", result())
    rows = list(csv.reader(io.StringIO(br.per_turn_csv([a]))))
    assert tuple(rows[0]) == br.PER_TURN_COLUMNS
    assert rows[0][:3] == ["turn", "n", "errors"] and "cached_tokens_p50" in rows[0] and "hit_rate" in rows[0]
    assert len(rows) == 4 and rows[1][0] == "1"
    fleet_rows = list(csv.reader(io.StringIO(br.per_turn_csv([a, br.station_report("b", result())]))))
    assert fleet_rows[0][0] == "host" and len(fleet_rows) == 7


def test_summary_markdown_has_the_runbook_table_and_verdict():
    md = br.station_markdown(br.station_report("a", result(), "runbook", {"ttft_p90_ms": 50}))
    assert "| Turn | Median wall time (ms) | P90 wall time (ms) | Median prompt tokens | Median cached prefill tokens" in md
    assert "Median TTFT (ms)" in md and "**Verdict: FAIL**" in md and "FAIL ttft_p90_ms" in md
    assert "| 2 | 200 | 240 | 160 | 70 | 42.0 | 80.0 | 0.800 | 0 |" in md
    assert "/metrics unavailable" in md


# ------------------------------------------------------------------ HTML
def _svgs(html):
    return re.findall(r"<svg.*?</svg>", html, re.S)


def test_html_is_self_contained_with_one_series_per_station():
    reports = [br.station_report(h, result()) for h in ("st-a", "st-b", "st-c")]
    fleet = br.fleet_report(reports)
    for html in (br.fleet_html(fleet), br.station_html(reports[0])):
        assert html.startswith("<!DOCTYPE html>")
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
        assert not re.search(r"<script|<link|@import|url\(", html, re.I)
        assert "<svg" in html
    svgs = _svgs(br.fleet_html(fleet))
    assert len(svgs) == 4
    for svg in svgs:
        assert sorted(re.findall(r'data-series="([^"]+)"', svg)) == ["st-a", "st-b", "st-c"]
        assert svg.count("<polyline") == 3
    single = _svgs(br.station_html(reports[0]))
    assert all(re.findall(r'data-series="([^"]+)"', svg) == ["st-a"] for svg in single)


def test_html_escapes_station_names_and_handles_missing_data():
    r = result()
    r["distribution"] = {"ttft_ms": [], "e2e_ms": []}
    rep = br.station_report("<b>x</b>", r)
    html = br.station_html(rep)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "no data" in html


def test_nice_ticks_cover_the_range():
    ticks = br._nice_ticks(0, 87)
    assert ticks[0] <= 0 and ticks[-1] >= 87 and len(ticks) <= 8


def test_station_report_carries_no_server_credential():
    res = result()
    res["server"].update(api_key="sk-live-1", launch_command="sglang serve --admin-api-key adm-live-2")
    res["config"]["hf_token"] = "hf_live_3"
    report = br.station_report("st", res, "runbook", extra={"command": ["sglang", "--api-key", "sk-live-1"]})
    text = "".join(br.station_files(report).values())
    for secret in ("sk-live-1", "adm-live-2", "hf_live_3"):
        assert secret not in text
    assert report["server"]["api_key"] == "<redacted>" and report["server"]["page_size"] == 1
    assert report["provenance"]["command"] == ["sglang", "--api-key", "<redacted>"]
    assert res["server"]["api_key"] == "sk-live-1", "the module result itself is left alone"
