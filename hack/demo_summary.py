"""Print what `make demo` produced: each Station's validation result and the fleet benchmark."""
import glob
import json
import os
import sys

reports = sys.argv[1] if len(sys.argv) > 1 else "reports"

for path in sorted(glob.glob(os.path.join(reports, "validate", "*.json"))):
    with open(path) as handle:
        report = json.load(handle)
    checks = report.get("checks", {})
    smoke = checks.get("smoke", {}).get("result", {})
    cache = checks.get("cache", {}).get("result", {})
    structured = checks.get("structured", {}).get("result", {})
    print("\n%s: %s  (model %s)  -> %s" % (
        report.get("station"), "PASSED" if report.get("passed") else "FAILED", report.get("model"), path))
    for failure in report.get("failures", []):
        print("  failure: %s" % failure)
    if smoke:
        print("  smoke: %s completion tokens in %.3f s, finish_reason %s" % (
            smoke.get("completion_tokens"), smoke.get("latency_s") or 0, smoke.get("finish_reason")))
    if cache:
        turns = ", ".join("turn %s: %s/%s cached (bound %s, log %s)" % (
            t.get("turn"), t.get("cached_tokens"), t.get("prompt_tokens"), t.get("lower_bound"), t.get("log_cached_tokens"))
            for t in cache.get("turns", []))
        print("  prefix cache: cache_hit=%s applicable=%s; %s" % (cache.get("cache_hit"), cache.get("applicable"), turns))
    if structured:
        samples = structured.get("samples") or []
        print("  structured output: %d of %d samples valid against the schema" % (
            sum(1 for sample in samples if sample.get("valid")), len(samples)))

for summary in sorted(glob.glob(os.path.join(reports, "benchmark", "*", "fleet", "summary.md"))):
    print("\n----- benchmark, %s -----" % summary)
    with open(summary) as handle:
        print(handle.read())
    html = os.path.join(os.path.dirname(summary), "report.html")
    if os.path.exists(html):
        print("HTML report (works offline): %s" % html)
