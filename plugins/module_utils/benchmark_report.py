# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark reports: report.json, per_turn.csv, summary.md and a self-contained report.html.

Input is what the sglang_benchmark module returned, per Station. Output per Station and
for the fleet (all Stations of one run side by side). The HTML page has inline SVG
plots drawn here: no script, no external stylesheet, font or image, so it opens
offline. The JSON follows docs/schemas/benchmark-report.schema.json (schema_version 1).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import datetime
import io
import json
import math
from html import escape

from ansible_collections.dgx_station.inference.plugins.module_utils import report_html
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import redact

SCHEMA_VERSION = 1
GENERATOR = "dgx_station.inference.sglang_benchmark_report"

# The module result keys a Station report carries.
RESULT_KEYS = ("summary", "per_turn", "structured_output", "server", "metrics", "client", "distribution",
               "token_agreement", "config")

# SLO thresholds understood by verdict(): name -> (where the value is, comparison, label).
SLO_KEYS = ("ttft_p90_ms", "e2e_p90_ms", "tpot_p90_ms", "min_cache_hit_rate", "max_error_rate",
            "min_structured_valid_rate", "fail_on_client_bound")

PER_TURN_COLUMNS = ("turn", "n", "errors", "ttft_ms_p50", "ttft_ms_p90", "tpot_ms_p50", "e2e_ms_p50", "e2e_ms_p90",
                    "prompt_tokens_p50", "cached_tokens_p50", "cold_prefill_tokens_p50", "completion_tokens_p50",
                    "hit_rate")

DASHES = ("", "7 3", "2 3", "10 3 2 3")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _get(d, *path):
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


# --------------------------------------------------------------------------- verdicts
def _check(name, value, threshold, ok, message):
    return dict(name=name, threshold=threshold, value=value, ok=ok, message=message)


def verdict(report, slo):
    """PASS/FAIL of one Station report against the SLO thresholds that are set (None = not set).

    status: pass (every set check holds), fail (at least one does not), no_slo (nothing set).
    A check whose value is missing fails, except the cache-hit check on a model whose prefix
    cache is not expected to carry over (hybrid models), which is "not applicable".
    """
    slo = dict((k, v) for k, v in (slo or {}).items() if v is not None and v is not False)
    summary = report.get("summary") or {}
    checks = []

    def upper(name, value, what):
        if name not in slo:
            return
        limit = slo[name]
        if value is None:
            checks.append(_check(name, None, limit, False, "%s not measured" % what))
        else:
            checks.append(_check(name, value, limit, value <= limit, "%s = %s, limit %s" % (what, value, limit)))

    upper("ttft_p90_ms", _get(summary, "ttft_ms", "p90"), "TTFT p90 (ms)")
    upper("e2e_p90_ms", _get(summary, "e2e_ms", "p90"), "E2E p90 (ms)")
    upper("tpot_p90_ms", _get(summary, "tpot_ms", "p90"), "TPOT p90 (ms)")
    upper("max_error_rate", summary.get("error_rate"), "error rate")
    if "min_cache_hit_rate" in slo:
        limit = slo["min_cache_hit_rate"]
        value = summary.get("cache_hit_rate")
        if _get(report, "server", "prefix_cache_expected") is False:
            checks.append(_check("min_cache_hit_rate", value, limit, True,
                                 "cache hit rate not applicable: this model's prefix cache does not carry across requests"))
        elif value is None:
            checks.append(_check("min_cache_hit_rate", None, limit, False,
                                 "no cached tokens reported: start SGLang with --enable-cache-report"))
        else:
            checks.append(_check("min_cache_hit_rate", value, limit, value >= limit,
                                 "cache hit rate = %s, minimum %s" % (value, limit)))
    if "min_structured_valid_rate" in slo:
        limit = slo["min_structured_valid_rate"]
        so = report.get("structured_output") or {}
        if not so.get("requests"):
            checks.append(_check("min_structured_valid_rate", None, limit, True, "no structured-output request: not applicable"))
        else:
            value = round(float(so.get("valid", 0)) / so["requests"], 4)
            checks.append(_check("min_structured_valid_rate", value, limit, value >= limit,
                                 "structured outputs valid %d/%d" % (so.get("valid", 0), so["requests"])))
    if slo.get("fail_on_client_bound"):
        bound = bool(summary.get("client_bound"))
        checks.append(_check("fail_on_client_bound", bound, False, not bound,
                             "client-bound run: " + "; ".join(_get(report, "client", "client_bound_reasons") or [])
                             if bound else "the client did not limit the run"))
    if not checks:
        status = "no_slo"
    else:
        status = "pass" if all(c["ok"] for c in checks) else "fail"
    return dict(status=status, checks=checks, reasons=[c["message"] for c in checks if not c["ok"]])


# --------------------------------------------------------------------------- report documents
def station_report(host, result, run_name="benchmark", slo=None, extra=None):
    """The report.json document of one Station from its sglang_benchmark result (credentials redacted)."""
    report = dict(schema_version=SCHEMA_VERSION, kind="station", generator=GENERATOR, generated_at=_now(),
                  run=run_name, host=host)
    for key in RESULT_KEYS:
        if key in result:
            report[key] = redact(result[key])
    report.setdefault("token_agreement", None)
    report.setdefault("config", {})
    if extra:
        report["provenance"] = redact(extra)
    report["slo"] = dict((k, v) for k, v in (slo or {}).items() if v is not None)
    report["verdict"] = verdict(report, slo)
    return report


def _median(values):
    data = sorted(values)
    if not data:
        return None
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2.0


FLEET_METRICS = (("ttft_ms_p50", ("summary", "ttft_ms", "p50")), ("e2e_ms_p50", ("summary", "e2e_ms", "p50")),
                 ("output_tokens_per_s", ("summary", "output_tokens_per_s")), ("requests_per_s", ("summary", "requests_per_s")),
                 ("cache_hit_rate", ("summary", "cache_hit_rate")))


def fleet_report(reports, run_name="benchmark", slo=None):
    """The fleet report: every Station report, a row per Station, the spread and the outliers (> 2 x MAD)."""
    reports = sorted(reports, key=lambda r: r["host"])
    rows = []
    for r in reports:
        s = r.get("summary") or {}
        rows.append(dict(
            host=r["host"], model=_get(r, "server", "model"), version=_get(r, "server", "version"),
            requests=s.get("requests"), errors=s.get("errors"), requests_per_s=s.get("requests_per_s"),
            output_tokens_per_s=s.get("output_tokens_per_s"), ttft_ms_p50=_get(s, "ttft_ms", "p50"),
            ttft_ms_p90=_get(s, "ttft_ms", "p90"), e2e_ms_p50=_get(s, "e2e_ms", "p50"), e2e_ms_p90=_get(s, "e2e_ms", "p90"),
            cache_hit_rate=s.get("cache_hit_rate"), client_bound=bool(s.get("client_bound")),
            verdict=_get(r, "verdict", "status"), outlier_metrics=[]))
    spread = {}
    for name, path in FLEET_METRICS:
        values = [(row, _get(rep, *path)) for row, rep in zip(rows, reports)]
        present = [v for _row, v in values if v is not None]
        med = _median(present)
        mad = _median([abs(v - med) for v in present]) if present else None
        outliers = []
        if len(present) >= 3 and mad:
            for row, v in values:
                if v is not None and abs(v - med) > 2 * mad:
                    outliers.append(row["host"])
                    row["outlier_metrics"].append(name)
        spread[name] = dict(n=len(present), median=med, mad=mad, min=min(present) if present else None,
                            max=max(present) if present else None, outliers=outliers)
    failed = [row["host"] for row in rows if row["verdict"] == "fail"]
    statuses = set(row["verdict"] for row in rows)
    status = "fail" if failed else ("no_slo" if statuses <= set(["no_slo"]) else "pass")
    return dict(schema_version=SCHEMA_VERSION, kind="fleet", generator=GENERATOR, generated_at=_now(), run=run_name,
                slo=dict((k, v) for k, v in (slo or {}).items() if v is not None), stations=rows, spread=spread,
                verdict=dict(status=status, failed_hosts=failed), reports=reports)


# --------------------------------------------------------------------------- CSV and Markdown
def _fmt(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if digits == 0 or value == int(value) and abs(value) >= 100:
            return "%d" % round(value)
        return ("%%.%df" % digits) % value
    return str(value)


def per_turn_csv(reports):
    """per_turn.csv text; with several Stations a leading `host` column."""
    out = io.StringIO()
    multi = len(reports) > 1
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((("host",) if multi else ()) + PER_TURN_COLUMNS)
    for r in reports:
        for row in r.get("per_turn") or []:
            values = tuple("" if row.get(c) is None else row.get(c) for c in PER_TURN_COLUMNS)
            writer.writerow(((r["host"],) if multi else ()) + values)
    return out.getvalue()


def _verdict_md(v):
    lines = ["**Verdict: %s**" % v["status"].upper().replace("_", " ")]
    for c in v.get("checks", []):
        lines.append("- %s %s: %s" % ("PASS" if c["ok"] else "FAIL", c["name"], c["message"]))
    return lines


def station_markdown(report):
    s = report.get("summary") or {}
    srv = report.get("server") or {}
    cfg = report.get("config") or {}
    lines = ["# SGLang benchmark: %s (%s)" % (report["host"], report["run"]), ""]
    lines.append("Model `%s`, SGLang %s, page_size %s, attention %s, cache report %s, radix cache %s." % (
        srv.get("model"), srv.get("version"), srv.get("page_size"), srv.get("attention_backend"),
        _fmt(srv.get("enable_cache_report")), "off" if srv.get("disable_radix_cache") else "on"))
    lines.append("%s conversations x %s turns, concurrency %s, max_tokens %s, stream %s, seed %s." % (
        cfg.get("num_conversations"), cfg.get("turns_per_conversation"), cfg.get("concurrency"), cfg.get("max_tokens"),
        _fmt(cfg.get("stream")), cfg.get("seed")))
    lines.append("")
    lines.append("| Turn | Median wall time (ms) | P90 wall time (ms) | Median prompt tokens | Median cached prefill tokens "
                 "| Median TTFT (ms) | P90 TTFT (ms) | Hit rate | Errors |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in report.get("per_turn") or []:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["turn"], _fmt(row.get("e2e_ms_p50")), _fmt(row.get("e2e_ms_p90")), _fmt(row.get("prompt_tokens_p50"), 0),
            _fmt(row.get("cached_tokens_p50"), 0), _fmt(row.get("ttft_ms_p50")), _fmt(row.get("ttft_ms_p90")),
            _fmt(row.get("hit_rate"), 3), row.get("errors")))
    lines.append("")
    lines.append("| Overall | p50 | p90 | p99 |")
    lines.append("|---|---:|---:|---:|")
    for key, label in (("ttft_ms", "TTFT (ms)"), ("e2e_ms", "E2E (ms)"), ("tpot_ms", "TPOT (ms)")):
        st = s.get(key) or {}
        lines.append("| %s | %s | %s | %s |" % (label, _fmt(st.get("p50")), _fmt(st.get("p90")), _fmt(st.get("p99"))))
    lines.append("")
    so = report.get("structured_output") or {}
    client = report.get("client") or {}
    lines.append("- Requests %s, errors %s (%s), not sent %s, duration %s s%s" % (
        s.get("requests"), s.get("errors"), ", ".join("%s %s" % kv for kv in sorted((s.get("error_kinds") or {}).items())) or "none",
        s.get("not_sent"), _fmt(s.get("duration_s"), 2), ", TRUNCATED by max_duration_s" if s.get("truncated") else ""))
    lines.append("- %s req/s, %s output tok/s, cache hit rate %s" % (
        _fmt(s.get("requests_per_s"), 2), _fmt(s.get("output_tokens_per_s"), 1), _fmt(s.get("cache_hit_rate"), 3)))
    lines.append("- Structured outputs valid %s/%s" % (so.get("valid", 0), so.get("requests", 0)))
    metrics = report.get("metrics")
    if isinstance(metrics, dict):
        lines.append("- Server counters: " + ", ".join("%s +%s" % (k.replace("sglang:", ""), _fmt(v, 0))
                                                       for k, v in sorted(metrics.items()) if isinstance(v, (int, float))))
    else:
        lines.append("- Server counters: /metrics unavailable (add --enable-metrics to see them)")
    lines.append("- Client: %s ms CPU per request, %s of a core, dispatch lag p99 %s ms, client-bound %s" % (
        _fmt(client.get("cpu_per_request_ms"), 3), _fmt(client.get("cpu_fraction_of_core"), 2),
        _fmt(_get(client, "dispatch_lag_ms", "p99"), 2), _fmt(bool(client.get("client_bound")))))
    lines.append("")
    lines.extend(_verdict_md(report["verdict"]))
    lines.append("")
    return "\n".join(lines)


def fleet_markdown(fleet):
    lines = ["# SGLang benchmark fleet report (%s)" % fleet["run"], ""]
    lines.append("| Station | Model | Version | Requests | Errors | req/s | out tok/s | TTFT p50 | TTFT p90 | E2E p50 | E2E p90 "
                 "| Hit rate | Client-bound | Verdict | Outlier |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
    for row in fleet["stations"]:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["host"], row["model"], row["version"], row["requests"], row["errors"], _fmt(row["requests_per_s"], 2),
            _fmt(row["output_tokens_per_s"]), _fmt(row["ttft_ms_p50"]), _fmt(row["ttft_ms_p90"]), _fmt(row["e2e_ms_p50"]),
            _fmt(row["e2e_ms_p90"]), _fmt(row["cache_hit_rate"], 3), _fmt(row["client_bound"]), row["verdict"],
            ", ".join(row["outlier_metrics"]) or "-"))
    lines.append("")
    failed = fleet["verdict"]["failed_hosts"]
    status = fleet["verdict"]["status"].upper().replace("_", " ")
    lines.append("**Fleet verdict: %s**%s" % (status, " (failed: %s)" % ", ".join(failed) if failed else ""))
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- SVG plots
def _nice_ticks(lo, hi, count=5):
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = mag
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            step = m * mag
            break
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _tick_label(v):
    if abs(v) >= 1000:
        return "%gk" % (v / 1000.0)
    return "%g" % v


def svg_line_chart(title, series, x_label, y_label, integer_x=False, width=560, height=320, markers=True):
    """An inline SVG line chart. series: [(name, color, [(x, y), ...])]; points with y None are skipped."""
    left, right, top, bottom = 64, 16, 34, 74
    pw, ph = width - left - right, height - top - bottom
    pts = [(x, y) for _n, _c, data in series for x, y in data if x is not None and y is not None]
    out = ['<svg class="chart" role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
           % (width, height, width, height),
           '<title>%s</title>' % escape(title),
           '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (width, height),
           '<text x="%d" y="20" class="ct">%s</text>' % (left, escape(title))]
    if not pts:
        out.append('<text x="%d" y="%d" class="na">no data</text>' % (left + pw // 2 - 30, top + ph // 2))
        out.append("</svg>")
        return "\n".join(out)
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    x_lo, x_hi = min(xs), max(xs)
    if integer_x:
        x_ticks = list(range(int(x_lo), int(x_hi) + 1))
        x_lo, x_hi = x_lo - 0.25, x_hi + 0.25
        if x_hi - x_lo < 1:
            x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    else:
        x_ticks = _nice_ticks(x_lo, x_hi)
        x_lo, x_hi = x_ticks[0], x_ticks[-1]
    y_ticks = _nice_ticks(min([0.0] + ys), max(ys))
    y_lo, y_hi = y_ticks[0], y_ticks[-1]

    def sx(x):
        return left + (x - x_lo) / float(x_hi - x_lo or 1) * pw

    def sy(y):
        return top + ph - (y - y_lo) / float(y_hi - y_lo or 1) * ph

    out.append('<g class="grid">')
    for t in y_ticks:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>' % (left, sy(t), left + pw, sy(t)))
        out.append('<text x="%d" y="%.1f" class="yt">%s</text>' % (left - 6, sy(t) + 4, _tick_label(t)))
    for t in x_ticks:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>' % (sx(t), top, sx(t), top + ph))
        out.append('<text x="%.1f" y="%d" class="xt">%s</text>' % (sx(t), top + ph + 16, _tick_label(t)))
    out.append("</g>")
    out.append('<rect x="%d" y="%d" width="%d" height="%d" class="frame"/>' % (left, top, pw, ph))
    out.append('<text x="%d" y="%d" class="xl">%s</text>' % (left + pw // 2, top + ph + 34, escape(x_label)))
    out.append('<text transform="translate(14 %d) rotate(-90)" class="yl">%s</text>' % (top + ph // 2, escape(y_label)))
    for index, (name, color, data) in enumerate(series):
        clean = [(x, y) for x, y in data if x is not None and y is not None]
        if not clean:
            continue
        path = " ".join("%.1f,%.1f" % (sx(x), sy(y)) for x, y in clean)
        dash = DASHES[index % len(DASHES)]
        out.append('<g class="series" data-series="%s">' % escape(name, quote=True))
        out.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>' % (
            color, ' stroke-dasharray="%s"' % dash if dash else "", path))
        if markers and len(clean) <= 40:
            for x, y in clean:
                out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s, %s</title></circle>'
                           % (sx(x), sy(y), color, escape(name), _tick_label(x), ("%.3g" % y)))
        out.append("</g>")
    # Legend under the plot, wrapping.
    lx, ly = left, top + ph + 52
    for name, color, _data in series:
        label = escape(name)
        w = 24 + 7 * len(name)
        if lx + w > width - right:
            lx, ly = left, ly + 16
        out.append('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>' % (lx, ly - 4, color))
        out.append('<text x="%d" y="%d" class="lg">%s</text>' % (lx + 18, ly, label))
        lx += w
    out.append("</svg>")
    return "\n".join(out)


def _series(reports, fn):
    return [(r["host"], PALETTE[i % len(PALETTE)], fn(r)) for i, r in enumerate(reports)]


def _per_turn_points(key):
    return lambda r: [(row["turn"], row.get(key)) for row in (r.get("per_turn") or [])]


def _cdf_points(key):
    def fn(r):
        q = _get(r, "distribution", key) or []
        n = len(q)
        return [(v, 100.0 * i / (n - 1)) for i, v in enumerate(q)] if n > 1 else [(v, 100.0) for v in q]
    return fn


def charts(reports):
    """The four plots of a report page, one series per Station."""
    return [
        svg_line_chart("TTFT by turn (median)", _series(reports, _per_turn_points("ttft_ms_p50")), "turn", "TTFT p50 (ms)",
                       integer_x=True),
        svg_line_chart("Cached prefill tokens by turn (median)", _series(reports, _per_turn_points("cached_tokens_p50")),
                       "turn", "cached tokens p50", integer_x=True),
        svg_line_chart("TTFT distribution (CDF)", _series(reports, _cdf_points("ttft_ms")), "TTFT (ms)", "% of requests",
                       markers=False),
        svg_line_chart("End-to-end latency distribution (CDF)", _series(reports, _cdf_points("e2e_ms")), "E2E latency (ms)",
                       "% of requests", markers=False),
    ]


# --------------------------------------------------------------------------- HTML
# The shared page look (report_html.BASE_CSS) plus the chart rules of this report.
_CSS = report_html.BASE_CSS + """.charts{display:flex;flex-wrap:wrap;gap:14px}
svg.chart{border:1px solid #d0d0d0;background:#fff}
svg .ct{font-size:14px;font-weight:bold;fill:#1b1b1b}
svg .grid line{stroke:#e4e4e4;stroke-width:1}
svg .frame{fill:none;stroke:#888}
svg .xt{font-size:11px;fill:#444;text-anchor:middle}svg .yt{font-size:11px;fill:#444;text-anchor:end}
svg .xl,svg .yl{font-size:12px;fill:#333;text-anchor:middle}svg .lg{font-size:12px;fill:#333}
svg .na{font-size:13px;fill:#888}
ul.checks{font-size:13px}
"""


_table = report_html.table


def _verdict_html(v):
    out = ['<p>Verdict: <span class="%s">%s</span></p>' % (v["status"], escape(v["status"].upper().replace("_", " ")))]
    if v.get("checks"):
        out.append('<ul class="checks">')
        for c in v["checks"]:
            out.append('<li><span class="%s">%s</span> %s: %s</li>' % (
                "pass" if c["ok"] else "fail", "PASS" if c["ok"] else "FAIL", escape(c["name"]), escape(c["message"])))
        out.append("</ul>")
    return "".join(out)


def _page(title, body):
    return report_html.page(title, body, _CSS)


def _per_turn_table(report):
    rows = []
    for row in report.get("per_turn") or []:
        rows.append([escape(str(row["turn"])), _fmt(row.get("n")), _fmt(row.get("e2e_ms_p50")), _fmt(row.get("e2e_ms_p90")),
                     _fmt(row.get("prompt_tokens_p50"), 0), _fmt(row.get("cached_tokens_p50"), 0), _fmt(row.get("ttft_ms_p50")),
                     _fmt(row.get("ttft_ms_p90")), _fmt(row.get("hit_rate"), 3), _fmt(row.get("errors"))])
    return _table(["Turn", "n", "Median wall (ms)", "P90 wall (ms)", "Median prompt tok", "Median cached tok",
                   "Median TTFT (ms)", "P90 TTFT (ms)", "Hit rate", "Errors"], rows)


def station_html(report):
    s = report.get("summary") or {}
    srv = report.get("server") or {}
    client = report.get("client") or {}
    body = ["<h1>SGLang benchmark: %s</h1>" % escape(report["host"]),
            '<div class="meta">run %s &middot; generated %s &middot; model %s &middot; SGLang %s &middot; page_size %s'
            ' &middot; attention %s</div>' % (escape(str(report["run"])), escape(report["generated_at"]), escape(str(srv.get("model"))),
                                              escape(str(srv.get("version"))), escape(str(srv.get("page_size"))),
                                              escape(str(srv.get("attention_backend"))))]
    body.append(_verdict_html(report["verdict"]))
    body.append("<h2>Summary</h2>")
    rows = []
    for key, label in (("ttft_ms", "TTFT (ms)"), ("e2e_ms", "E2E (ms)"), ("tpot_ms", "TPOT (ms)")):
        st = s.get(key) or {}
        rows.append([label, _fmt(st.get("n")), _fmt(st.get("p50")), _fmt(st.get("p90")), _fmt(st.get("p99"))])
    body.append(_table(["Metric", "n", "p50", "p90", "p99"], rows))
    body.append(_table(["Requests", "Errors", "Not sent", "Duration (s)", "req/s", "out tok/s", "Cache hit rate",
                        "Structured valid", "Client CPU/req (ms)", "Client-bound"],
                       [[_fmt(s.get("requests")), _fmt(s.get("errors")), _fmt(s.get("not_sent")), _fmt(s.get("duration_s"), 2),
                         _fmt(s.get("requests_per_s"), 2), _fmt(s.get("output_tokens_per_s")), _fmt(s.get("cache_hit_rate"), 3),
                         "%s/%s" % (_get(report, "structured_output", "valid") or 0, _get(report, "structured_output", "requests") or 0),
                         _fmt(client.get("cpu_per_request_ms"), 3), _fmt(bool(s.get("client_bound")))]], left_cols=0))
    body.append("<h2>Per turn</h2>")
    body.append(_per_turn_table(report))
    body.append("<h2>Plots</h2>")
    body.append('<div class="charts">%s</div>' % "\n".join(charts([report])))
    return _page("SGLang benchmark %s" % report["host"], "\n".join(body))


def fleet_html(fleet):
    reports = fleet["reports"]
    body = ["<h1>SGLang benchmark fleet report</h1>",
            '<div class="meta">run %s &middot; generated %s &middot; %d Stations</div>' % (
                escape(str(fleet["run"])), escape(fleet["generated_at"]), len(reports))]
    status = fleet["verdict"]["status"]
    body.append('<p>Fleet verdict: <span class="%s">%s</span>%s</p>' % (
        status, status.upper().replace("_", " "),
        " (failed: %s)" % escape(", ".join(fleet["verdict"]["failed_hosts"])) if fleet["verdict"]["failed_hosts"] else ""))
    rows = []
    for row in fleet["stations"]:
        rows.append([escape(row["host"]), escape(str(row["model"])), _fmt(row["requests"]), _fmt(row["errors"]),
                     _fmt(row["requests_per_s"], 2), _fmt(row["output_tokens_per_s"]), _fmt(row["ttft_ms_p50"]),
                     _fmt(row["ttft_ms_p90"]), _fmt(row["e2e_ms_p50"]), _fmt(row["e2e_ms_p90"]), _fmt(row["cache_hit_rate"], 3),
                     _fmt(row["client_bound"]), '<span class="%s">%s</span>' % (row["verdict"], escape(row["verdict"])),
                     escape(", ".join(row["outlier_metrics"]) or "-")])
    body.append(_table(["Station", "Model", "Requests", "Errors", "req/s", "out tok/s", "TTFT p50", "TTFT p90", "E2E p50",
                        "E2E p90", "Hit rate", "Client-bound", "Verdict", "Outlier (>2 MAD)"], rows, left_cols=2))
    body.append("<h2>Plots (one line per Station)</h2>")
    body.append('<div class="charts">%s</div>' % "\n".join(charts(reports)))
    for r in reports:
        body.append("<h2>%s: per turn</h2>" % escape(r["host"]))
        body.append(_per_turn_table(r))
    return _page("SGLang benchmark fleet", "\n".join(body))


# --------------------------------------------------------------------------- files
def station_files(report):
    """{file name: text} of one Station's report directory."""
    return {
        "report.json": json.dumps(report, indent=2, sort_keys=True) + "\n",
        "per_turn.csv": per_turn_csv([report]),
        "summary.md": station_markdown(report),
        "report.html": station_html(report),
    }


def fleet_files(fleet):
    return {
        "report.json": json.dumps(fleet, indent=2, sort_keys=True) + "\n",
        "per_turn.csv": per_turn_csv(fleet["reports"]),
        "summary.md": fleet_markdown(fleet),
        "report.html": fleet_html(fleet),
    }
