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
from ansible_collections.dgx_station.inference.plugins.module_utils import report_html, report_templates

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMA_PATH = os.path.join(REPO, "docs", "schemas", "benchmark-report.schema.json")


def stats(p50, p90, p99, n=10, p95=None):
    """A describe() block of the benchmark (with p95 and low_sample, as issue 14 has it)."""
    low = [name for name, minimum in (("p90", 10), ("p95", 20), ("p99", 100)) if n < minimum] if n else []
    return dict(n=n, mean=p50, min=None if p50 is None else p50 / 2, p50=p50, p90=p90,
                p95=p95 if p95 is not None else p90, p99=p99, max=p99, low_sample=low)


IMAGE = "lmsysorg/sglang:v0.5.23-cu129-gb300"
DIGEST = "sha256:" + "d" * 64
IMAGE_ID = "sha256:" + "1" * 64


def result(ttft=(40.0, 80.0, 120.0), hit=0.6, errors=0, model="Qwen/Qwen3-8B", expected=True, bound=False, succeeded=None,
           warmup_errors=0, digest=DIGEST):
    per_turn = []
    for t in range(1, 4):
        per_turn.append(dict(turn=t, n=10, errors=0, e2e_ms_p50=100.0 * t, e2e_ms_p90=120.0 * t, ttft_ms_p50=ttft[0] + t,
                             ttft_ms_p90=ttft[1], tpot_ms_p50=5.0, prompt_tokens_p50=80.0 * t, cached_tokens_p50=70.0 * (t - 1),
                             cold_prefill_tokens_p50=80.0, completion_tokens_p50=16.0, hit_rate=0.0 if t == 1 else 0.8))
    return dict(
        summary=dict(requests=30, succeeded=30 - errors if succeeded is None else succeeded, errors=errors,
                     error_rate=round(errors / 30.0, 4), error_kinds={},
                     not_sent=0, aborted=0, truncated=False, duration_s=3.0, requests_per_s=10.0, output_tokens_per_s=160.0,
                     total_tokens_per_s=1234.5,
                     ttft_ms=stats(*ttft, n=26), ttfo_ms=stats(ttft[0] + 1, ttft[1] + 1, ttft[2] + 1, n=26),
                     ttfb_ms=stats(2.0, 3.0, 4.0, n=26), e2e_ms=stats(200.0, 300.0, 400.0, n=26),
                     tpot_ms=stats(5.0, 6.0, 7.0, n=26), itl_ms=stats(4.5, 6.5, 8.5, n=400, p95=7.5),
                     cache_hit_rate=hit, client_bound=bound),
        per_turn=per_turn,
        structured_output=dict(requests=4, valid=4, invalid=0, failed=0, valid_rate=1.0,
                               ttft_ms=stats(91.0, 92.0, 93.0, n=4), e2e_ms=stats(701.0, 702.0, 703.0, n=4)),
        server=dict(version="0.5.23", model=model, page_size=1, enable_cache_report=True, disable_radix_cache=False,
                    attention_backend="flashinfer", context_length=8192, mem_fraction_static=0.85, enable_metrics=False,
                    prefix_cache_expected=expected,
                    prefix_cache_reason=None if expected else "hybrid model: its linear-attention state is not prefix-cached"),
        server_after=dict(version="0.5.23", model=model, page_size=1),
        server_changed={},
        provenance=dict(collection_version="0.1.0", model=model, sglang_version="0.5.23", image=IMAGE, image_digest=digest,
                        image_id=IMAGE_ID, gpu=dict(name="NVIDIA GB300", memory_total_mib=285696, driver_version="580.95.05"), station=None),
        metrics="unavailable",
        client=dict(cpu_per_request_ms=0.2, dispatch_lag_ms=stats(0.1, 0.2, 0.3), loop_lag_ms=stats(0.1, 0.2, 0.3),
                    client_bound=bound, client_bound_reasons=["client CPU 95% of one core > 80%"] if bound else []),
        warmup=dict(requests=1, errors=warmup_errors, error_kinds={"http_503": 1} if warmup_errors else {}, error_samples=[]),
        notes=[],
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
    assert ok["status"] == "pass" and ok["reasons"] == []
    assert sorted(c["name"] for c in ok["checks"] if c["kind"] == "slo") == [
        "e2e_p90_ms", "max_error_rate", "min_cache_hit_rate", "min_structured_valid_rate", "ttft_p90_ms"]
    bad = br.verdict(result(errors=3), {"ttft_p90_ms": 50, "max_error_rate": 0.05})
    assert bad["status"] == "fail"
    assert [c["name"] for c in bad["checks"] if not c["ok"]] == ["max_error_rate", "ttft_p90_ms"]


def test_verdict_cache_rules_and_missing_values():
    hybrid = br.verdict(result(hit=0.0, expected=False), {"min_cache_hit_rate": 0.5})
    cache = [c for c in hybrid["checks"] if c["name"] == "min_cache_hit_rate"][0]
    assert hybrid["status"] == "pass" and "not applicable" in cache["message"]
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
    assert fleet["verdict"]["status"] == "fail" and fleet["verdict"]["failed_hosts"] == ["station-b"]
    assert fleet["verdict"]["reasons"] == {"station-b": ["TTFT p90 (ms) = 200.0, limit 100"]}
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


# ------------------------------------------------------------------ verdicts: the run checks always apply
RUNBOOK_SLO = {"ttft_p90_ms": None, "itl_p90_ms": None, "tpot_p90_ms": None, "e2e_p90_ms": None, "min_cache_hit_rate": None,
               "max_error_rate": 0.0, "min_structured_valid_rate": 1.0, "fail_on_client_bound": False}
CLEARED_SLO = dict((k, None) for k in br.SLO_KEYS if k != "fail_on_client_bound")


def _checks(v):
    return dict((c["name"], c) for c in v["checks"])


def test_no_successful_request_fails_even_without_any_threshold():
    v = br.verdict(result(errors=30, succeeded=0), {})
    assert v["status"] == "fail"
    assert "no request succeeded (0 of 30)" in v["reasons"]
    assert _checks(v)["requests_succeeded"]["kind"] == "run"


def test_the_error_rate_is_checked_without_a_threshold_against_the_benchmarks_own_limit():
    v = br.verdict(result(errors=3), CLEARED_SLO)
    check = _checks(v)["max_error_rate"]
    assert v["status"] == "fail" and check["kind"] == "run" and check["threshold"] == 0.0
    assert check["message"] == "error rate = 0.1 (3 errors of 30), the benchmark's limit 0.0"
    allowed = result(errors=3)
    allowed["config"]["max_error_rate"] = 0.2
    assert br.verdict(allowed, CLEARED_SLO)["status"] == "no_slo"
    # A threshold of the SLO wins over the benchmark's own one, and counts as an SLO check.
    set_ = _checks(br.verdict(allowed, {"max_error_rate": 0.05}))["max_error_rate"]
    assert set_["kind"] == "slo" and set_["status"] == "fail" and set_["threshold"] == 0.05


def test_a_failed_warm_up_fails_the_verdict():
    v = br.verdict(result(warmup_errors=1), {})
    assert v["status"] == "fail" and v["reasons"] == ["warm-up failed: 1 of 1 request(s) failed"]
    assert _checks(br.verdict(result(), {}))["warmup"]["status"] == "pass"
    # An older result: the warm-up counts in client.
    old = result()
    del old["warmup"]
    old["client"].update(warmup_requests=2, warmup_errors=2)
    assert br.verdict(old, {})["reasons"] == ["warm-up failed: 2 of 2 request(s) failed"]
    del old["client"]["warmup_errors"]
    assert _checks(br.verdict(old, {}))["warmup"]["status"] == "not_applicable"


def test_no_slo_only_when_every_threshold_is_cleared_and_the_report_names_them():
    v = br.verdict(result(), CLEARED_SLO)
    assert v["status"] == "no_slo" and v["not_set"] == list(br.SLO_KEYS)
    assert all(c["kind"] == "run" and c["ok"] for c in v["checks"])
    report = br.station_report("a", result(), "custom", CLEARED_SLO)
    md = br.station_markdown(report)
    assert "**Verdict: NO SLO**" in md
    assert "No SLO threshold set: ttft_p90_ms, itl_p90_ms, tpot_p90_ms, e2e_p90_ms, min_cache_hit_rate, max_error_rate" in md
    assert "No SLO threshold set: ttft_p90_ms" in br.station_html(report)


def test_the_runbook_preset_gives_pass_or_fail_never_no_slo():
    good = [br.station_report(h, result(), "runbook", RUNBOOK_SLO) for h in ("a", "b")]
    assert [r["verdict"]["status"] for r in good] == ["pass", "pass"]
    fleet = br.fleet_report(good, "runbook", RUNBOOK_SLO)
    assert fleet["verdict"]["status"] == "pass" and fleet["verdict"]["message"] == "2/2 Stations pass"
    assert fleet["verdict"]["not_set"] == ["ttft_p90_ms", "itl_p90_ms", "tpot_p90_ms", "e2e_p90_ms", "min_cache_hit_rate",
                                           "fail_on_client_bound"]
    bad = good + [br.station_report("c", result(errors=1), "runbook", RUNBOOK_SLO)]
    fleet = br.fleet_report(bad, "runbook", RUNBOOK_SLO)
    assert fleet["verdict"]["status"] == "fail" and fleet["verdict"]["failed_hosts"] == ["c"]
    assert "**Fleet verdict: FAIL** (failed: c)" in br.fleet_markdown(fleet)
    # No Station at all is no pass either.
    assert br.fleet_report([], "runbook", RUNBOOK_SLO)["verdict"]["status"] == "fail"


def test_a_failed_benchmark_result_is_a_fail_with_its_message(schema):
    failed = dict(failed=True, msg="warm-up failed: HTTP 503 from /v1/chat/completions", error_kind="http_503", changed=False)
    report = br.station_report("st-x", failed, "runbook", RUNBOOK_SLO)
    jsonschema.validate(report, schema)
    assert report["failed"] is True and report["error_kind"] == "http_503"
    v = report["verdict"]
    assert v["status"] == "fail"
    assert v["reasons"][0] == "the benchmark failed: warm-up failed: HTTP 503 from /v1/chat/completions"
    # Nothing measured: the SLO checks are not applicable, the run checks fail.
    assert _checks(v)["min_structured_valid_rate"]["status"] == "not_applicable"
    md = br.station_markdown(report)
    html = br.station_html(report)
    assert "**The benchmark FAILED: warm-up failed: HTTP 503" in md and "**Verdict: FAIL**" in md
    assert "The benchmark FAILED: warm-up failed: HTTP 503" in html and "n/a" in md
    # What the benchmark returns when its warm-up failed: no figures, failure_kind, warmup.
    warm = dict(failed=True, msg="The warm-up failed, so nothing was measured: 1 of 1 warm-up requests failed (http_503 x1).",
                failure_kind="warmup", warmup=dict(requests=1, errors=1, error_kinds={"http_503": 1}, error_samples=[]),
                server=dict(version="0.5.23", model="Qwen/Qwen3-8B"), provenance=dict(collection_version="0.1.0"), notes=[])
    report = br.station_report("st-w", warm, "runbook", RUNBOOK_SLO)
    jsonschema.validate(report, schema)
    assert report["failure_kind"] == "warmup" and report["provenance"]["sglang_version"] == "0.5.23"
    assert [c["name"] for c in report["verdict"]["checks"] if c["status"] == "fail"] == [
        "benchmark_run", "warmup", "requests_succeeded"]
    assert _checks(report["verdict"])["max_error_rate"]["status"] == "not_applicable"
    # failure_kind without failed (a result passed on some other way) is a failed run too.
    assert br.station_report("st-v", dict(warm, failed=False))["verdict"]["status"] == "fail"
    # With its figures (the module failed on the error rate after measuring) the report carries them.
    measured = dict(result(errors=30, succeeded=0), failed=True, msg="no request succeeded")
    report = br.station_report("st-y", measured, "runbook", RUNBOOK_SLO)
    jsonschema.validate(report, schema)
    assert report["summary"]["errors"] == 30 and report["verdict"]["status"] == "fail"
    fleet = br.fleet_report([report, br.station_report("st-z", result(), "runbook", RUNBOOK_SLO)], "runbook", RUNBOOK_SLO)
    jsonschema.validate(fleet, schema)
    assert fleet["verdict"]["failed_hosts"] == ["st-y"]
    assert fleet["verdict"]["reasons"]["st-y"][0] == "the benchmark failed: no request succeeded"
    assert "- st-y: the benchmark failed: no request succeeded" in br.fleet_markdown(fleet)
    assert "the benchmark failed: no request succeeded" in br.fleet_html(fleet)


def test_a_cache_threshold_is_not_applicable_with_the_servers_reason():
    v = br.verdict(result(hit=0.0, expected=False), {"min_cache_hit_rate": 0.5})
    cache = _checks(v)["min_cache_hit_rate"]
    assert v["status"] == "pass" and cache["status"] == "not_applicable" and cache["ok"] is True
    assert cache["message"] == "cache hit rate not applicable: hybrid model: its linear-attention state is not prefix-cached"
    report = br.station_report("h", result(hit=0.0, expected=False), "runbook", {"min_cache_hit_rate": 0.5})
    md = br.station_markdown(report)
    assert "- N/A min_cache_hit_rate: cache hit rate not applicable: hybrid model" in md
    assert "Prefix cache not expected to carry across requests: hybrid model" in md
    assert '<span class="not_applicable">N/A</span> min_cache_hit_rate' in br.station_html(report)


def test_itl_threshold_and_low_sample_note():
    v = br.verdict(result(), {"itl_p90_ms": 6.0})
    assert v["status"] == "fail" and v["reasons"] == ["ITL p90 (ms) = 6.5, limit 6.0"]
    assert br.verdict(result(), {"itl_p90_ms": 7.0})["status"] == "pass"
    old = result()
    del old["summary"]["itl_ms"]
    assert br.verdict(old, {"itl_p90_ms": 7.0})["reasons"] == ["ITL p90 (ms) not measured"]
    few = result(ttft=(40.0, 80.0, 120.0))
    few["summary"]["ttft_ms"] = stats(40.0, 80.0, 120.0, n=8)
    assert br.verdict(few, {"ttft_p90_ms": 100})["checks"][-1]["message"] == \
        "TTFT p90 (ms) = 80.0, limit 100 (low sample: n = 8, p90 needs 10)"


# ------------------------------------------------------------------ rendering
def test_itl_is_shown_next_to_tpot_with_p95_and_total_tokens_per_s():
    report = br.station_report("a", result(), "runbook", RUNBOOK_SLO)
    md = br.station_markdown(report)
    lines = md.splitlines()
    itl = [i for i, line in enumerate(lines) if line.startswith("| ITL (ms) |")][0]
    assert lines[itl] == "| ITL (ms) | 400 | 4.5 | 4.5 | 6.5 | 7.5 | 8.5 | 8.5 |"
    assert lines[itl + 1].startswith("| TPOT (ms) |")
    assert "| Chat requests | n | mean | p50 | p90 | p95 | p99 | max |" in md
    assert "| TTFO, first content (ms) | 26 | 41.0 |" in md
    assert "1234.5 total tok/s (prompt + completion)" in md
    html = br.station_html(report)
    assert html.index("<td class=\"l\">ITL (ms)</td>") < html.index("<td class=\"l\">TPOT (ms)</td>")
    assert "<th>total tok/s</th>" in html and "<td>1234.5</td>" in html
    fleet = br.fleet_report([report], "runbook", RUNBOOK_SLO)
    row = fleet["stations"][0]
    assert (row["itl_ms_p50"], row["itl_ms_p90"], row["total_tokens_per_s"]) == (4.5, 6.5, 1234.5)
    fmd = br.fleet_markdown(fleet)
    assert "| ITL p50 | ITL p90 | TPOT p50 | TPOT p90 |" in fmd and "| 4.5 | 6.5 | 5.0 | 6.0 |" in fmd
    assert "itl_ms_p50" in fleet["spread"] and "total_tokens_per_s" in fleet["spread"]


def test_low_sample_percentiles_are_marked_with_a_footnote():
    report = br.station_report("a", result(), "runbook", RUNBOOK_SLO)
    md = br.station_markdown(report)
    # n = 26: p99 low; ITL n = 400: nothing low.
    assert "| TTFT (ms) | 26 | 40.0 | 40.0 | 80.0 | 80.0 | 120* | 120 |" in md
    assert "| ITL (ms) | 400 | 4.5 | 4.5 | 6.5 | 7.5 | 8.5 | 8.5 |" in md
    # Structured output, n = 4: p90, p95, p99 all low.
    assert "| TTFT (ms) | 4 | 91.0 | 91.0 | 92.0* | 92.0* | 93.0* | 93.0 |" in md
    assert ("`*` low sample, indicative only: p90 from fewer than 10 samples, p95 from fewer than 20 samples, "
            "p99 from fewer than 100 samples") in md
    html = br.station_html(report)
    assert '120<span class="low"' in html and "p99 from fewer than 100 samples" in html
    # An older result without low_sample is marked from its n the same way.
    old = result()
    for block in old["summary"].values():
        if isinstance(block, dict):
            block.pop("low_sample", None)
    assert "| TTFT (ms) | 26 | 40.0 | 40.0 | 80.0 | 80.0 | 120* | 120 |" in br.station_markdown(br.station_report("a", old))
    # Enough samples everywhere: no mark, no footnote.
    many = result()
    many["summary"] = dict((k, dict(v, n=500, low_sample=[]) if isinstance(v, dict) and "p50" in v else v)
                           for k, v in many["summary"].items())
    many["structured_output"]["requests"] = 0
    md = br.station_markdown(br.station_report("a", many))
    assert "*" not in md.split("| Chat requests |")[1].split("**Verdict")[0].replace("`*`", "") and "low sample" not in md


def test_fleet_marks_low_sample_percentiles():
    few = result()
    few["summary"]["ttft_ms"] = stats(40.0, 80.0, 120.0, n=8)
    fleet = br.fleet_report([br.station_report("a", few), br.station_report("b", result())])
    md = br.fleet_markdown(fleet)
    assert "| a | Qwen/Qwen3-8B | 0.5.23 | 30 | 0 | 10.00 | 160 | 1234.5 | 40.0 | 80.0* |" in md
    assert "`*` low sample, indicative only: p90 from fewer than 10 samples" in md
    assert '80.0<span class="low"' in br.fleet_html(fleet)


def test_provenance_per_station_and_in_the_fleet():
    a = br.station_report("st-a", result(), "runbook", RUNBOOK_SLO)
    assert a["provenance"] == dict(station="st-a", collection_version="0.1.0", model="Qwen/Qwen3-8B", sglang_version="0.5.23",
                                   image=IMAGE, image_digest=DIGEST, image_id=IMAGE_ID,
                                   gpu=dict(name="NVIDIA GB300", memory_total_mib=285696, driver_version="580.95.05"))
    md = br.station_markdown(a)
    assert ("Provenance: station st-a, collection dgx_station.inference 0.1.0, model Qwen/Qwen3-8B, SGLang 0.5.23, image %s, "
            "image digest %s, image ID %s, GPU NVIDIA GB300 (285696 MiB, driver 580.95.05)." % (IMAGE, DIGEST, IMAGE_ID)) in md
    html = br.station_html(a)
    assert "<h2>Provenance</h2>" in html and DIGEST in html and "dgx_station.inference 0.1.0" in html
    b = br.station_report("st-b", result(digest="sha256:" + "e" * 64), "runbook", RUNBOOK_SLO)
    fleet = br.fleet_report([a, b], "runbook", RUNBOOK_SLO)
    assert fleet["stations"][0]["image_digest"] == DIGEST and fleet["stations"][0]["gpu"] == \
        "NVIDIA GB300 (285696 MiB, driver 580.95.05)"
    assert fleet["provenance_differs"] == {"image_digest": {DIGEST: ["st-a"], "sha256:" + "e" * 64: ["st-b"]}}
    fmd = br.fleet_markdown(fleet)
    assert "| st-a | 0.1.0 | Qwen/Qwen3-8B | 0.5.23 | %s | sha256:dddddddddddd | sha256:111111111111 | NVIDIA GB300" % IMAGE in fmd
    assert "- Stations differ in image_digest: " in fmd
    assert "sha256:eeeeeeeeeeee" in br.fleet_html(fleet)
    # An older result without provenance: filled from server, unknown fields n/a.
    old = result()
    del old["provenance"]
    old["server"]["version"] = "0.5.22"
    report = br.station_report("st-c", old)
    assert report["provenance"]["sglang_version"] == "0.5.22" and report["provenance"]["image"] is None
    assert "image n/a, image digest n/a, GPU n/a" in br.station_markdown(report)
    # Several repo digests of one image: all shown, each shortened in the fleet.
    many = result(digest=["lmsysorg/sglang@" + DIGEST, "mirror/sglang@sha256:" + "c" * 64])
    fleet = br.fleet_report([br.station_report("st-d", many)])
    assert "| sglang@" not in br.fleet_markdown(fleet) and "sha256:dddddddddddd, sha256:cccccccccccc" in br.fleet_markdown(fleet)


def test_structured_output_latency_is_apart_from_chat_latency():
    report = br.station_report("a", result(), "runbook", RUNBOOK_SLO)
    md = br.station_markdown(report)
    chat, structured = md.split("| Structured-output requests |")
    assert "| TTFT (ms) | 26 | 40.0 |" in chat and "91.0" not in chat
    assert "| TTFT (ms) | 4 | 91.0 |" in structured and "| E2E (ms) | 4 | 701 |" in structured
    assert "Chat requests (structured output excluded):" in md
    html = br.station_html(report)
    assert html.index("<h2>Chat requests</h2>") < html.index("<h2>Structured output</h2>") < html.index("<td>91.0</td>")
    fleet = br.fleet_report([report])
    assert "| a | 4 | 4 | 1.000 | 91.0 | 92.0* | 701 | 702* |" in br.fleet_markdown(fleet)
    cut = result()
    cut["structured_output"].update(valid=1, invalid=3, invalid_cut_by_max_tokens=3, valid_rate=0.25)
    report = br.station_report("a", cut)
    assert "Structured outputs valid 1/4 (invalid 3, 3 of them cut by max_tokens, failed 0), valid rate 0.250." in \
        br.station_markdown(report)
    assert "<th>Invalid, cut by max_tokens</th>" in br.station_html(report)
    # The older result's structured figures (ttft_ms_p50 only) still show.
    old = result()
    old["structured_output"] = dict(requests=4, valid=4, invalid=0, failed=0, ttft_ms_p50=55.0, e2e_ms_p50=650.0)
    md = br.station_markdown(br.station_report("a", old))
    assert "| TTFT (ms) | 4 | n/a | 55.0 | n/a |" in md


def test_server_changes_are_shown_only_when_there_are_some():
    quiet = br.station_report("a", result())
    assert "changed during the run" not in br.station_markdown(quiet) and "changed during the run" not in br.station_html(quiet)
    # The benchmark's form: field -> {before, after}.
    res = result()
    res["server_changed"] = {"page_size": {"before": 1, "after": 16}}
    assert "**Server settings changed during the run**: page_size 1 -> 16." in br.station_markdown(br.station_report("a", res))
    # null: the second /server_info failed.
    res["server_changed"] = None
    assert br.SERVER_UNKNOWN_NOTE in br.station_markdown(br.station_report("a", res))
    # The list form: field names, values from server and server_after.
    res = result()
    res["server_after"] = dict(res["server"], page_size=16, version="0.5.24")
    res["server_changed"] = ["page_size", "version"]
    report = br.station_report("a", res)
    assert "**Server settings changed during the run**: page_size 1 -> 16; version 0.5.23 -> 0.5.24." in br.station_markdown(report)
    html = br.station_html(report)
    assert "Server settings changed during the run" in html and "<td class=\"l\">0.5.24</td>" in html
    fleet = br.fleet_report([report, br.station_report("b", result())])
    assert fleet["stations"][0]["server_changed"] == ["page_size", "version"] and fleet["stations"][1]["server_changed"] == []
    assert "- a: server settings changed during the run: page_size 1 -> 16; version 0.5.23 -> 0.5.24" in br.fleet_markdown(fleet)


def test_the_benchmarks_warnings_are_shown():
    res = result()
    res["notes"] = ["/flush_cache failed (HTTP 404): turn 1 may hit the cache of an earlier run"]
    report = br.station_report("a", res)
    assert "Warning from the benchmark: /flush_cache failed (HTTP 404)" in br.station_markdown(report)
    assert "Warning from the benchmark: /flush_cache failed (HTTP 404)" in br.station_html(report)
    assert "a: warning from the benchmark: /flush_cache failed" in br.fleet_markdown(br.fleet_report([report]))


def test_missing_fields_render_as_na_never_a_crash(schema):
    bare = dict(summary=dict(requests=2, succeeded=2, errors=0, error_rate=0.0), per_turn=[dict(turn=1)], server={},
                structured_output={}, client={}, distribution={})
    report = br.station_report("bare", bare, "custom", {"itl_p90_ms": 5})
    files = br.station_files(report)
    assert "| ITL (ms) | n/a | n/a | n/a | n/a | n/a | n/a | n/a |" in files["summary.md"]
    assert "n/a total tok/s" in files["summary.md"] and "<svg" in files["report.html"]
    assert report["verdict"]["reasons"] == ["ITL p90 (ms) not measured"]
    fleet = br.fleet_report([report, br.station_report("odd", dict(summary=dict(requests="?"), server_changed="page_size"))])
    assert "n/a" in br.fleet_files(fleet)["summary.md"] and "<svg" in br.fleet_html(fleet)


def test_the_check_kinds_and_statuses_validate(schema):
    report = br.station_report("a", result(hit=0.0, expected=False), "runbook", dict(RUNBOOK_SLO, min_cache_hit_rate=0.5,
                                                                                     itl_p90_ms=10.0))
    jsonschema.validate(report, schema)
    assert set(c["status"] for c in report["verdict"]["checks"]) == {"pass", "not_applicable"}
    broken = copy.deepcopy(report)
    broken["verdict"]["checks"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    # A finished run still needs every section; only a failed one may lack them.
    partial = copy.deepcopy(report)
    del partial["summary"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(partial, schema)
    partial["failed"], partial["msg"] = True, "boom"
    jsonschema.validate(partial, schema)


# ------------------------------------------------------------------ templates
def test_pages_come_from_the_templates_with_every_placeholder_filled():
    reports = [br.station_report(h, result()) for h in ("st-a", "st-b")]
    fleet = br.fleet_report(reports)
    for html in (br.station_html(reports[0]), br.fleet_html(fleet)):
        assert not re.search(r"\$[a-z_{]", html), "a template placeholder was left"
        assert html.startswith("<!DOCTYPE html>\n<html lang=\"en\">") and html.endswith("</body></html>\n")
    station = br.station_html(reports[0])
    order = ["<h2>Provenance</h2>", "<h2>Chat requests</h2>", "<h2>Structured output</h2>", "<h2>Per turn</h2>", "<h2>Plots</h2>"]
    assert [station.index(h) for h in order] == sorted(station.index(h) for h in order)
    assert report_templates.PAGE.template.count("$") == 3
    assert report_html.page("t<", "<p>x</p>", "b{}") == (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>t&lt;</title><style>b{}</style></head>"
        "<body>\n<p>x</p>\n</body></html>\n")
