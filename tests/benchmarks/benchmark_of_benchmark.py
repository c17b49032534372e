# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the benchmark: how much does our client cost, and how exact is its TTFT?

Prints figures and PASS/FAIL against two goals; it is not a timed test and CI does not run it.

  python tests/benchmarks/benchmark_of_benchmark.py [--quick] [--json] [--transport-only] [--transport-rounds N]

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
3. Transport choice (issue 14), on the zero-delay simulator of 1 and after its rows: the same closed-loop
   streaming workload (same plan and payloads, concurrency 8 and 64, same pinning, warm-up, GC off while
   measuring, one shared per-event consumer) driven by the hand-written transport
   (sglang_http_async.AsyncConnection.start()/Exchange.events()) and by aiohttp (one ClientSession,
   TCPConnector(limit=concurrency), SSE read line by line from resp.content, perf_counter per line).
   Runs alternate A-B-B-A per concurrency so order effects cancel. Prints request rate, CPU per request
   and capacity per core of both and the library / hand-written ratios; rule (docs/benchmark.md,
   "Transport choice"): keep the hand-written transport only if the library costs more than 15% of the
   request rate. aiohttp is a measurement dependency (requirements.txt); without it that side is skipped.
   --transport-only runs just this part.
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
TRANSPORT_CONCURRENCY = (8, 64)
TRANSPORT_RULE_PCT = 15
TRANSPORT_CONVERSATIONS = {8: 200, 64: 400}  # x 5 turns per run; 2 runs per transport per round (A-B-B-A)


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
    from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient, parse_prometheus
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_load as load
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_stats as stats
    cfg = dict(model="Qwen/Qwen3-8B", num_conversations=conversations, turns_per_conversation=turns,
               concurrency=concurrency, max_tokens=max_tokens, temperature=0.0, seed=7,
               chat_template_kwargs={"enable_thinking": False}, system_prompt=None, prompt_words=24, ignore_eos=False,
               stream=stream, warmup_requests=2, flush_cache=True, structured_output_fraction=0.0,
               structured_output_schema=load.DEFAULT_STRUCTURED_SCHEMA, max_duration_s=max_duration)
    client = SGLangClient(base_url=base_url, timeout=60)
    scrape = {}

    def before():
        client.flush_cache()
        scrape["before"] = client.metrics_text()
    state = load.run_load(client, cfg, cfg["model"], None, dict(before_measure=before))
    client.close()
    scrape["after"] = client.metrics_text()
    summary, _per_turn, _so, diag, _dist = stats.aggregate(state, cfg)
    server_ttft = None
    if scrape.get("before") and scrape.get("after"):
        b = parse_prometheus(scrape["before"])[0]
        a = parse_prometheus(scrape["after"])[0]
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
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_load as load
    plan = load.build_plan(conversations, turns, 7, 24)
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
                # finish_reason as SGLang sends it: an answer without one is an unfinished (failed) answer.
                writer.write(event({"choices": [{"index": 0, "delta": {"content": repr(time.perf_counter())},
                                                 "finish_reason": "stop"}]}))
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
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_load as load
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_stats as stats
    from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http_async import AsyncConnection

    async def main():
        conn = AsyncConnection(SGLangClient(base_url=base_url, timeout=10))
        deltas, ttfts = [], []
        for i in range(requests_n):
            rec = load.Record(1, i + 1)
            content = await load.run_request(conn, {"messages": [{"role": "user", "content": "x"}]}, rec, True)
            if content is not None and i >= 3:
                deltas.append((rec.t_send + rec.ttft - float(content)) * 1000.0)
                ttfts.append(rec.ttft * 1000.0)
        conn.close()
        return deltas, ttfts
    deltas, ttfts = asyncio.run(main())
    return dict(requests=len(deltas), client_delay_ms=stats.describe(deltas), ttft_ms=stats.describe(ttfts))


# --------------------------------------------------------------------------- transport comparison (issue 14)
# The same closed-loop streaming workload driven by two transports, to decide whether the hand-written
# asyncio transport (module_utils/sglang_http_async) is worth keeping over a library. Both sides use the
# same plan, payloads, warm-up, GC handling and per-event consumer; only the wire handling differs:
#   handwritten: AsyncConnection.start() + Exchange.events() (public API only), one connection per worker;
#   aiohttp:     one ClientSession with TCPConnector(limit=concurrency), SSE read line by line from
#                resp.content, perf_counter() taken per line as it is returned.
TRANSPORTS = ("handwritten", "aiohttp")


def runq_wait_s():
    """Seconds this thread has spent runnable but not running (Linux schedstat), or None."""
    try:
        with open("/proc/thread-self/schedstat") as handle:
            return int(handle.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def aiohttp_version():
    try:
        import aiohttp
    except ImportError:
        return None
    return aiohttp.__version__


async def _consume(events, t_send):
    """Fold (perf_counter, event) pairs into (content, ttft_s, t_end); the same work for both transports."""
    parts = []
    first = t_end = usage = None
    done = False
    async for now, event in events:
        if event is None:
            continue
        if event == "[DONE]":
            done = True
            t_end = now
            continue
        choices = event.get("choices")
        if choices:
            text = (choices[0].get("delta") or {}).get("content")
            if text:
                parts.append(text)
                if first is None:
                    first = now
        if event.get("usage"):
            usage = event["usage"]
    if not done or usage is None:
        raise RuntimeError("incomplete stream (no [DONE] or no usage event)")
    return "".join(parts), (None if first is None else first - t_send), t_end


def client_transport(base_url, transport, conversations, turns, concurrency, max_tokens, max_duration):
    """One transport, closed loop, streaming: concurrency workers, each runs whole conversations."""
    import asyncio
    import collections
    import gc
    from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_load as load
    from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark_stats as stats
    perf = time.perf_counter
    model = "Qwen/Qwen3-8B"
    cfg = dict(max_tokens=max_tokens, temperature=0.0, stream=True, seed=7,
               chat_template_kwargs={"enable_thinking": False})
    client = SGLangClient(base_url=base_url, timeout=60)
    url = base_url + load.CHAT_PATH

    if transport == "handwritten":
        from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http_async import AsyncConnection

        async def make_slots():
            return [AsyncConnection(client) for _slot in range(concurrency)], None

        async def one(slot, payload):
            exchange = await slot.start("POST", load.CHAT_PATH, payload)
            if exchange.status != 200:
                raise RuntimeError("HTTP %s: %s" % (exchange.status, (await exchange.read_text())[:200]))
            return await _consume(exchange.events(), exchange.t_send)

        async def close(slots, _session):
            for slot in slots:
                slot.close()
    else:
        import aiohttp
        headers = client.headers(json_body=True)

        async def make_slots():
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                            timeout=aiohttp.ClientTimeout(total=60))
            return [session] * concurrency, session

        async def lines(resp):
            async for line in resp.content:
                now = perf()
                if line[:5] == b"data:":
                    payload = line[5:].strip().decode("utf-8", "replace")
                    yield now, payload if payload == "[DONE]" else json.loads(payload)

        async def one(session, payload):
            t_send = perf()
            async with session.post(url, json=payload, headers=headers) as resp:
                if resp.status != 200:
                    raise RuntimeError("HTTP %s: %s" % (resp.status, (await resp.text())[:200]))
                return await _consume(lines(resp), t_send)

        async def close(_slots, session):
            await session.close()

    counts = dict(ok=0, errors=0)
    ttfts = []

    async def worker(slot, work, deadline):
        while work and perf() < deadline:
            conv = work.popleft()
            messages = []
            for text in conv["users"]:
                messages.append({"role": "user", "content": text})
                try:
                    content, ttft, _t_end = await one(slot, load.make_payload(cfg, model, messages, False))
                except Exception:  # pylint: disable=broad-except
                    counts["errors"] += 1
                    break
                counts["ok"] += 1
                ttfts.append(ttft)
                messages.append({"role": "assistant", "content": content})

    async def main():
        slots, session = await make_slots()
        try:
            # Warm-up: one request per slot, all at once, so every connection is open before the clock starts.
            warm = load.build_plan(concurrency, 1, 7, 24, namespace="warmup")
            await asyncio.gather(*(one(slot, load.make_payload(cfg, model, [{"role": "user", "content": c["users"][0]}],
                                                               False)) for slot, c in zip(slots, warm)))
            work = collections.deque(load.build_plan(conversations, turns, 7, 24))
            gc.collect()
            gc.disable()
            wait0, cpu0, t0 = runq_wait_s(), time.process_time(), perf()
            await asyncio.wait_for(asyncio.gather(*(worker(slot, work, t0 + max_duration) for slot in slots)),
                                   max_duration + 10)
            cpu, dur, wait1 = time.process_time() - cpu0, perf() - t0, runq_wait_s()
            gc.enable()
            return cpu, dur, (None if wait0 is None or wait1 is None else wait1 - wait0)
        finally:
            await close(slots, session)

    loop = asyncio.new_event_loop()
    try:
        cpu, dur, waited = loop.run_until_complete(main())
    finally:
        loop.close()
    n = counts["ok"] + counts["errors"]
    return dict(transport=transport, concurrency=concurrency, requests=n, ok=counts["ok"], errors=counts["errors"],
                duration_s=round(dur, 4), cpu_s=round(cpu, 4), rps=round(counts["ok"] / dur, 1),
                cpu_per_request_ms=round(cpu * 1000 / n, 4) if n else None, cpu_fraction=round(cpu / dur, 3),
                runq_wait_s=None if waited is None else round(waited, 4),
                ttft_ms=stats.describe([t * 1000.0 for t in ttfts if t is not None]))


def compare_transports(base_url, concurrencies, conversations, turns, rounds, max_tokens=16, max_duration=20):
    """Per concurrency, rounds x (A, B, B, A) child runs (order effects cancel); totals per transport."""
    have_aiohttp = aiohttp_version() is not None
    kinds = TRANSPORTS if have_aiohttp else TRANSPORTS[:1]
    out = {}
    for concurrency in concurrencies:
        runs = dict((kind, []) for kind in kinds)
        for _round in range(rounds):
            for kind in (kinds + tuple(reversed(kinds))):
                runs[kind].append(run_child("transport", base_url, transport=kind, conversations=conversations[concurrency],
                                            turns=turns, concurrency=concurrency, max_tokens=max_tokens,
                                            max_duration=max_duration))
        for kind in kinds:
            rs = runs[kind]
            ok = sum(r["ok"] for r in rs)
            n = sum(r["requests"] for r in rs)
            dur = sum(r["duration_s"] for r in rs)
            cpu = sum(r["cpu_s"] for r in rs)
            out["%s_c%d" % (kind, concurrency)] = dict(
                transport=kind, concurrency=concurrency, runs=len(rs), requests=n, ok=ok,
                errors=sum(r["errors"] for r in rs), rps=round(ok / dur, 1), cpu_per_request_ms=round(cpu * 1000 / n, 4),
                cpu_fraction=round(cpu / dur, 3), capacity_per_core=round(n / cpu, 0),
                runq_wait_fraction=(None if any(r["runq_wait_s"] is None for r in rs)
                                    else round(sum(r["runq_wait_s"] for r in rs) / dur, 3)),
                ttft_p50_ms=sorted(r["ttft_ms"]["p50"] for r in rs)[len(rs) // 2], per_run_rps=[r["rps"] for r in rs])
    return out


def print_transports(results, concurrencies):
    version = aiohttp_version()
    print("")
    print("transport comparison (zero delays, streaming, closed loop; same plan, payloads, warm-up and consumer)")
    if version is None:
        print("aiohttp is not importable: the library side of the comparison is SKIPPED "
              "(.venv/bin/pip install -r requirements.txt adds it)")
    header = ("transport", "requests", "errors", "req/s", "CPU/req ms", "CPU/core", "cap/core", "TTFT p50", "runq wait")
    print("%-26s %8s %7s %9s %12s %10s %10s %9s %10s" % header)
    for concurrency in concurrencies:
        for kind in TRANSPORTS:
            r = results.get("%s_c%d" % (kind, concurrency))
            if r is None:
                continue
            label = "%s c%d" % ("aiohttp %s" % version if kind == "aiohttp" else "hand-written", concurrency)
            print("%-26s %8d %7d %9.1f %12s %10s %10.0f %9s %10s" % (
                label, r["requests"], r["errors"], r["rps"], fmt(r["cpu_per_request_ms"], 4), fmt(r["cpu_fraction"]),
                r["capacity_per_core"], fmt(r["ttft_p50_ms"], 3), fmt(r["runq_wait_fraction"], 3)))
        a, h = results.get("aiohttp_c%d" % concurrency), results.get("handwritten_c%d" % concurrency)
        if a and h:
            print("%-26s library / hand-written: request rate %.3f, capacity per core %.3f (CPU/request %.2fx)" % (
                "", a["rps"] / h["rps"], a["capacity_per_core"] / h["capacity_per_core"],
                a["cpu_per_request_ms"] / h["cpu_per_request_ms"]))
    costs = ["%.1f%% at c%d" % (100.0 * (1 - results["aiohttp_c%d" % c]["rps"] / results["handwritten_c%d" % c]["rps"]), c)
             for c in concurrencies if "aiohttp_c%d" % c in results and "handwritten_c%d" % c in results]
    if costs:
        print("rule (docs/benchmark.md, Transport choice): keep the hand-written transport only if the library costs more")
        print("than %d%% of the request rate; in this run the library costs %s (decide on the median of 3 runs)"
              % (TRANSPORT_RULE_PCT, ", ".join(costs)))
    print("cap/core = requests per second of client CPU (1 / CPU per request); runq wait = share of the measured time")
    print("the client was runnable but not running (other processes on CPU 0): a high one makes req/s unreliable")


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
    ap.add_argument("--transport-only", action="store_true",
                    help="run only the transport comparison (hand-written asyncio vs aiohttp)")
    ap.add_argument("--transport-rounds", type=int, default=1,
                    help="A-B-B-A rounds per concurrency in the transport comparison (default 1)")
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
        fn = dict(ours=client_ours, baseline=client_baseline, probe=client_probe, transport=client_transport)[args.child]
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
        if not args.transport_only:
            conv = int(240 * scale)
            results["ours_stream_c64"] = run_child("ours", sim.base_url, conversations=conv, turns=5, concurrency=64,
                                                   stream=True, max_tokens=16, max_duration=20)
            results["ours_nostream_c64"] = run_child("ours", sim.base_url, conversations=conv, turns=5, concurrency=64,
                                                     stream=False, max_tokens=16, max_duration=20)
            results["ours_stream_c8"] = run_child("ours", sim.base_url, conversations=int(120 * scale), turns=5,
                                                  concurrency=8, stream=True, max_tokens=16, max_duration=20)
            results["baseline_requests_t8"] = run_child("baseline", sim.base_url, conversations=int(120 * scale), turns=5,
                                                        threads=8, max_tokens=16, max_duration=20)
        # After the rows above, so their conditions stay what they were before this comparison was added.
        results["transports"] = compare_transports(
            sim.base_url, TRANSPORT_CONCURRENCY, dict((c, int(n * scale)) for c, n in TRANSPORT_CONVERSATIONS.items()),
            turns=5, rounds=max(1, args.transport_rounds))
    finally:
        sim.stop()
    if args.transport_only:
        print_transports(results["transports"], TRANSPORT_CONCURRENCY)
        print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())
        if args.json:
            print(json.dumps(results, indent=2))
        return 0

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
    print_transports(results["transports"], TRANSPORT_CONCURRENCY)
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
