# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the benchmark: how much does our client cost, and how exact is its TTFT?

Prints figures and PASS/FAIL against two goals; it is not a timed test and CI does not run it.

  python tests/benchmarks/benchmark_of_benchmark.py [--quick] [--json]

What it does, all on loopback against the SGLang simulator (tests/sim):

1. Saturation, zero delays (SGLANG_SIM_PREFILL/DECODE_TOKENS_PER_S huge, SGLANG_SIM_TICK_MS=0):
   multi-turn conversations as fast as possible with
     - ours: the sglang_benchmark load generator (module_utils/benchmark.py), asyncio,
       one keep-alive connection per in-flight conversation, streaming, concurrency 64;
     - ours, non-streaming, same concurrency;
     - baseline: the runbook script's approach: 8 threads, a fresh requests.post per request
       (no Session, so no connection reuse), non-streaming.
   Each client runs in its own process pinned to CPU 0 and the simulator to CPU 1 (when the
   machine has 2 or more CPUs), so "client CPU per request" (process CPU time / requests) is
   the client's alone. Goal: ours (streaming, concurrency 8 like the baseline's 8 threads) >= 3x the
   baseline's requests per second.
2. TTFT accuracy, SGLANG_SIM_TTFT_MS=50 (every prefill takes 50 ms; decode stays instant):
   the simulator sends the role chunk and the first token together after the prefill, so the
   server-side TTFT of an unqueued request is the injected 50 ms plus the simulator's own
   event-loop jitter. Below saturation (one conversation at a time, so no request ever waits
   behind another one's prefill) the TTFT error is measured TTFT minus 50 ms, at p50 and p99.
   This upper-bounds the client's error (the simulator's jitter is included). The server's
   own mean TTFT (sglang:time_to_first_token_seconds sum/count delta from /metrics) is printed
   next to the client's mean: their difference is the client + loopback share alone.
   A second row at concurrency 8 is shown for information (there requests queue behind
   other prefills inside the simulator, so only the mean comparison is meaningful).
   Goals: error <= 2 ms at p50 and <= 10 ms at p99.
Bounded: every phase has a request count and a time limit.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SIM_BIN = os.path.join(REPO, "tests", "sim", "bin", "sglang")
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)

TTFT_MS = 50.0
GOAL_RATE_RATIO = 3.0
GOAL_TTFT_P50_MS = 2.0
GOAL_TTFT_P99_MS = 10.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpu):
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            pass


class Sim:
    """The simulator in a subprocess, pinned to CPU 1."""

    def __init__(self, env, log_path):
        self.port = free_port()
        self.base_url = "http://127.0.0.1:%d" % self.port
        full_env = dict(os.environ, SGLANG_SIM_BOOT_SECONDS="0", PYTHONUNBUFFERED="1")
        full_env.update(env)
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, SIM_BIN, "serve", "--model-path", "Qwen/Qwen3-8B", "--host", "127.0.0.1",
                 "--port", str(self.port), "--enable-cache-report", "--attention-backend", "flashinfer",
                 "--enable-metrics", "--context-length", "8192"],
                stdout=log, stderr=subprocess.STDOUT, env=full_env, preexec_fn=lambda: pin(1))
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("simulator exited:\n" + open(log_path).read())
            if "fired up and ready" in open(log_path, errors="replace").read() and self._health() == 200:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("simulator not ready:\n" + open(log_path).read())

    def _health(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", "/health")
            return c.getresponse().status
        except OSError:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --------------------------------------------------------------------------- clients (run in a child process)
def client_ours(base_url, conversations, turns, concurrency, stream, max_tokens, max_duration):
    from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark
    cfg = dict(model="Qwen/Qwen3-8B", num_conversations=conversations, turns_per_conversation=turns,
               concurrency=concurrency, max_tokens=max_tokens, temperature=0.0, seed=7,
               chat_template_kwargs={"enable_thinking": False}, system_prompt=None, prompt_words=24, ignore_eos=False,
               stream=stream, warmup_requests=2, flush_cache=True, structured_output_fraction=0.0,
               structured_output_schema=benchmark.DEFAULT_STRUCTURED_SCHEMA, max_duration_s=max_duration)
    client = SGLangClient(base_url=base_url, timeout=60)
    scrape = {}

    def before():
        client.flush_cache()
        scrape["before"] = client.metrics_text()
    state = benchmark.run_load(client, cfg, cfg["model"], None, dict(before_measure=before))
    client.close()
    scrape["after"] = client.metrics_text()
    summary, _per_turn, _so, diag, _dist = benchmark.aggregate(state, cfg)
    server_ttft = None
    if scrape.get("before") and scrape.get("after"):
        b = benchmark.parse_prometheus(scrape["before"])[0]
        a = benchmark.parse_prometheus(scrape["after"])[0]
        n = a.get("sglang:time_to_first_token_seconds_count", 0) - b.get("sglang:time_to_first_token_seconds_count", 0)
        s = a.get("sglang:time_to_first_token_seconds_sum", 0) - b.get("sglang:time_to_first_token_seconds_sum", 0)
        server_ttft = s / n * 1000.0 if n else None
    return dict(requests=summary["requests"], ok=summary["succeeded"], errors=summary["errors"],
                duration_s=summary["duration_s"], rps=summary["requests_per_s"], cpu_s=diag["cpu_s"],
                cpu_per_request_ms=diag["cpu_per_request_ms"], cpu_fraction=diag["cpu_fraction_of_core"],
                ttft_ms=summary["ttft_ms"], e2e_ms=summary["e2e_ms"], dispatch_lag_ms=diag["dispatch_lag_ms"],
                loop_lag_ms=diag["loop_lag_ms"], client_bound=summary["client_bound"], server_ttft_mean_ms=server_ttft)


def client_baseline(base_url, conversations, turns, threads, max_tokens, max_duration):
    """The runbook script's pattern: ThreadPool of 8, requests.post per call (no Session), no streaming."""
    import requests
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark
    plan = benchmark.build_plan(conversations, turns, 7, 24)
    work = queue.Queue()
    for conv in plan:
        work.put(conv)
    url = base_url + "/v1/chat/completions"
    counts = dict(ok=0, errors=0)
    lock = threading.Lock()
    deadline = time.perf_counter() + max_duration

    def worker():
        while time.perf_counter() < deadline:
            try:
                conv = work.get_nowait()
            except queue.Empty:
                return
            messages = []
            for text in conv["users"]:
                messages.append({"role": "user", "content": text})
                try:
                    r = requests.post(url, json=dict(model="Qwen/Qwen3-8B", messages=messages, max_tokens=max_tokens,
                                                     temperature=0.0, chat_template_kwargs={"enable_thinking": False}),
                                      timeout=120)
                    r.raise_for_status()
                    content = r.json()["choices"][0]["message"]["content"]
                except Exception:
                    with lock:
                        counts["errors"] += 1
                    break
                with lock:
                    counts["ok"] += 1
                messages.append({"role": "assistant", "content": content})

    requests.post(url, json=dict(model="Qwen/Qwen3-8B", messages=[{"role": "user", "content": "warm up"}], max_tokens=4),
                  timeout=60)
    cpu0, t0 = time.process_time(), time.perf_counter()
    pool = [threading.Thread(target=worker) for _thread in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    cpu, dur = time.process_time() - cpu0, time.perf_counter() - t0
    n = counts["ok"] + counts["errors"]
    return dict(requests=n, ok=counts["ok"], errors=counts["errors"], duration_s=round(dur, 3),
                rps=round(counts["ok"] / dur, 1), cpu_s=round(cpu, 3), cpu_per_request_ms=round(cpu * 1000 / n, 4) if n else None,
                cpu_fraction=round(cpu / dur, 3))


def null_server(port, delay_s):
    """Supplementary exact probe: a raw asyncio server that writes the role chunk at once and the first
    content chunk delay_s later, with its own perf_counter() at write time as the content. perf_counter
    is CLOCK_MONOTONIC on Linux, shared by all processes, so client arrival - server write is the
    client + kernel share of each TTFT, per request."""
    import asyncio

    def event(obj):
        data = ("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj))).encode()
        return b"%x\r\n%s\r\n" % (len(data), data)

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
                await reader.readexactly(length[0] if length else 0)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                writer.write(event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}))
                await writer.drain()
                await asyncio.sleep(delay_s)
                writer.write(event({"choices": [{"index": 0, "delta": {"content": repr(time.perf_counter())}}]}))
                writer.write(event({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}))
                writer.write(event("[DONE]") + b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


def client_probe(base_url, requests_n):
    """Sequential requests on one kept-alive connection of our transport against null_server."""
    import asyncio
    from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark
    from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http_async import AsyncConnection

    async def main():
        conn = AsyncConnection(SGLangClient(base_url=base_url, timeout=10))
        deltas, ttfts = [], []
        for i in range(requests_n):
            rec = benchmark.Record(1, i + 1)
            content = await benchmark.run_request(conn, {"messages": [{"role": "user", "content": "x"}]}, rec, True)
            if content is not None and i >= 3:
                deltas.append((rec.t_send + rec.ttft - float(content)) * 1000.0)
                ttfts.append(rec.ttft * 1000.0)
        conn.close()
        return deltas, ttfts
    deltas, ttfts = asyncio.run(main())
    return dict(requests=len(deltas), client_delay_ms=benchmark.describe(deltas), ttft_ms=benchmark.describe(ttfts))


def run_child(kind, base_url, **kw):
    """Run one client in a fresh process pinned to CPU 0; returns its JSON result."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, "--base-url", base_url, "--kw", json.dumps(kw)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.get("max_duration", 30) + 60, check=False)
    if out.returncode != 0:
        raise RuntimeError("%s client failed:\n%s" % (kind, out.stderr[-3000:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report
def fmt(v, d=2):
    return "-" if v is None else ("%.*f" % (d, v))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--quick", action="store_true", help="smaller request counts")
    ap.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    ap.add_argument("--child")
    ap.add_argument("--base-url")
    ap.add_argument("--kw")
    args = ap.parse_args()
    if args.child:
        pin(0)
        kw = json.loads(args.kw)
        if args.child == "nullserver":
            pin(1)
            null_server(**kw)
            return 0
        fn = dict(ours=client_ours, baseline=client_baseline, probe=client_probe)[args.child]
        print(json.dumps(fn(args.base_url, **kw)))
        return 0

    scale = 0.4 if args.quick else 1.0
    tmp = os.environ.get("TMPDIR", "/tmp")
    results = {}
    print("benchmark of the benchmark: %d CPUs, client pinned to CPU 0, simulator to CPU 1; load average %.2f %.2f %.2f"
          % ((os.cpu_count() or 1,) + os.getloadavg()))

    sim = Sim(dict(SGLANG_SIM_PREFILL_TOKENS_PER_S="1e12", SGLANG_SIM_DECODE_TOKENS_PER_S="1e12", SGLANG_SIM_TICK_MS="0"),
              os.path.join(tmp, "bob-sim-zero.log"))
    try:
        conv = int(240 * scale)
        results["ours_stream_c64"] = run_child("ours", sim.base_url, conversations=conv, turns=5, concurrency=64,
                                               stream=True, max_tokens=16, max_duration=20)
        results["ours_nostream_c64"] = run_child("ours", sim.base_url, conversations=conv, turns=5, concurrency=64,
                                                 stream=False, max_tokens=16, max_duration=20)
        results["ours_stream_c8"] = run_child("ours", sim.base_url, conversations=int(120 * scale), turns=5, concurrency=8,
                                              stream=True, max_tokens=16, max_duration=20)
        results["baseline_requests_t8"] = run_child("baseline", sim.base_url, conversations=int(120 * scale), turns=5,
                                                    threads=8, max_tokens=16, max_duration=20)
    finally:
        sim.stop()

    sim = Sim(dict(SGLANG_SIM_PREFILL_TOKENS_PER_S="1e12", SGLANG_SIM_DECODE_TOKENS_PER_S="1e12", SGLANG_SIM_TICK_MS="0",
                   SGLANG_SIM_TTFT_MS=str(TTFT_MS)), os.path.join(tmp, "bob-sim-ttft.log"))
    try:
        results["ttft_c1"] = run_child("ours", sim.base_url, conversations=int(50 * scale) or 8, turns=5, concurrency=1,
                                       stream=True, max_tokens=16, max_duration=30)
        results["ttft_c8"] = run_child("ours", sim.base_url, conversations=int(40 * scale) or 8, turns=5, concurrency=8,
                                       stream=True, max_tokens=16, max_duration=30)
    finally:
        sim.stop()

    port = free_port()
    null = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", "nullserver", "--kw",
                             json.dumps(dict(port=port, delay_s=TTFT_MS / 1000.0))])
    try:
        time.sleep(0.5)
        results["probe_exact"] = run_child("probe", "http://127.0.0.1:%d" % port, requests_n=int(200 * scale) + 3)
    finally:
        null.terminate()
        null.wait(5)

    print("")
    header = ("saturation (zero delays)", "requests", "errors", "req/s", "CPU/req ms", "CPU/core", "lag p99", "bound")
    print("%-26s %8s %7s %9s %12s %10s %10s %8s" % header)
    for key in ("ours_stream_c64", "ours_nostream_c64", "ours_stream_c8", "baseline_requests_t8"):
        r = results[key]
        print("%-26s %8d %7d %9.1f %12s %10s %10s %8s" % (
            key, r["requests"], r["errors"], r["rps"], fmt(r["cpu_per_request_ms"], 3), fmt(r["cpu_fraction"]),
            fmt((r.get("dispatch_lag_ms") or {}).get("p99")), r.get("client_bound", "-")))
    print("")
    header = ("TTFT (injected 50 ms)", "requests", "p50 ms", "p99 ms", "mean ms", "server mean", "err p50 ms", "err p99 ms")
    print("%-26s %8s %10s %10s %10s %12s %14s %14s" % header)
    for key in ("ttft_c1", "ttft_c8"):
        r = results[key]
        t = r["ttft_ms"]
        print("%-26s %8d %10s %10s %10s %12s %14s %14s" % (
            key, r["requests"], fmt(t["p50"]), fmt(t["p99"]), fmt(t["mean"]), fmt(r["server_ttft_mean_ms"]),
            fmt(t["p50"] - TTFT_MS), fmt(t["p99"] - TTFT_MS)))
        if r["server_ttft_mean_ms"] is not None:
            print("%-26s client mean - server mean = %s ms (client + loopback + simulator HTTP share)" % (
                "", fmt(t["mean"] - r["server_ttft_mean_ms"], 3)))
        print("%-26s client event-loop lag p50/p99/max = %s/%s/%s ms (late wake-ups: CPU contention)" % (
            "", fmt(r["loop_lag_ms"]["p50"]), fmt(r["loop_lag_ms"]["p99"]), fmt(r["loop_lag_ms"]["max"])))

    probe = results["probe_exact"]
    print("%-26s %8d client share of TTFT (arrival - server write, same clock) p50/p99/max = %s/%s/%s ms"
          % ("exact probe (null server)", probe["requests"], fmt(probe["client_delay_ms"]["p50"], 3),
             fmt(probe["client_delay_ms"]["p99"], 3), fmt(probe["client_delay_ms"]["max"], 3)))

    # Same concurrency as the baseline's 8 threads: the fair comparison (c64 is shown for information).
    ratio = results["ours_stream_c8"]["rps"] / results["baseline_requests_t8"]["rps"]
    cpu_ratio = results["baseline_requests_t8"]["cpu_per_request_ms"] / results["ours_stream_c8"]["cpu_per_request_ms"]
    c1 = results["ttft_c1"]["ttft_ms"]
    goals = [
        ("request rate >= %gx the threads+requests baseline at equal concurrency 8 (measured %.2fx; CPU/request %.2fx lower)"
         % (GOAL_RATE_RATIO, ratio, cpu_ratio), ratio >= GOAL_RATE_RATIO),
        ("TTFT error p50 <= %g ms below saturation (measured %.2f ms)" % (GOAL_TTFT_P50_MS, c1["p50"] - TTFT_MS),
         abs(c1["p50"] - TTFT_MS) <= GOAL_TTFT_P50_MS),
        ("TTFT error p99 <= %g ms below saturation (measured %.2f ms)" % (GOAL_TTFT_P99_MS, c1["p99"] - TTFT_MS),
         abs(c1["p99"] - TTFT_MS) <= GOAL_TTFT_P99_MS),
    ]
    print("")
    ours_cap = 1000.0 / results["ours_stream_c8"]["cpu_per_request_ms"]
    base_cap = 1000.0 / results["baseline_requests_t8"]["cpu_per_request_ms"]
    print("client capacity per core (1 / CPU per request): ours streaming %.0f req/s, baseline %.0f req/s; the measured"
          % (ours_cap, base_cap))
    print("rates above are bounded by the simulator (one Python process on one core) whenever the client CPU/core < 1")
    for text, ok in goals:
        print("%s  %s" % ("PASS" if ok else "FAIL", text))
    print("load average at the end: %.2f %.2f %.2f (other processes on the machine add jitter to the p99)"
          % os.getloadavg())
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
