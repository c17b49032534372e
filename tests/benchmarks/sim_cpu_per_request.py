"""How much CPU the SGLang simulator spends per request under 64 concurrent SSE streams.

Not a test: run it by hand, e.g.

    python3 tests/benchmarks/sim_cpu_per_request.py                  # starts its own simulator
    python3 tests/benchmarks/sim_cpu_per_request.py --base-url http://127.0.0.1:30000 --pid 1234

It prints the simulator's own CPU seconds per request (utime+stime from /proc/<pid>/stat) and the
request rate. Standard library only; the client is asyncio so it stays cheap too.
"""
import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
SIM_BIN = os.path.join(os.path.dirname(HERE), "sim", "bin", "sglang")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / float(ticks)  # utime, stime


async def one_stream(host, port, body):
    reader, writer = await asyncio.open_connection(host, port)
    data = json.dumps(body).encode()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                 b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(data), data))
    raw = await reader.read()
    writer.close()
    ok = raw.startswith(b"HTTP/1.1 200") and b"data: [DONE]" in raw
    return ok, raw.count(b"data: ")


async def drive(host, port, concurrency, total, max_tokens, prompt_words):
    queue = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    results = []

    async def worker(w):
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            system = "You are a helpful assistant. " + " ".join("ctx%d" % (k % 50) for k in range(prompt_words))
            body = {"model": "bench", "stream": True, "max_tokens": max_tokens, "ignore_eos": True,
                    "stream_options": {"include_usage": True},
                    "messages": [{"role": "system", "content": system},
                                 {"role": "user", "content": "conversation %d turn %d" % (w, i)}]}
            results.append(await one_stream(host, port, body))

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return results


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", help="use a running simulator (needs --pid)")
    ap.add_argument("--pid", type=int, help="pid of the running simulator")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--requests", type=int, default=640)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--prompt-words", type=int, default=200)
    ap.add_argument("--decode-tokens-per-s", default="200",
                    help="SGLANG_SIM_DECODE_TOKENS_PER_S for a simulator this script starts")
    args = ap.parse_args()

    proc = None
    if args.base_url:
        if not args.pid:
            ap.error("--base-url needs --pid")
        u = urlsplit(args.base_url)
        host, port, pid = u.hostname, u.port, args.pid
    else:
        host, port = "127.0.0.1", free_port()
        env = dict(os.environ, SGLANG_SIM_BOOT_SECONDS="0", SGLANG_SIM_DECODE_TOKENS_PER_S=args.decode_tokens_per_s,
                   SGLANG_SIM_MAX_RUNNING=str(max(args.concurrency, 1)))
        proc = subprocess.Popen([sys.executable, SIM_BIN, "serve", "--model-path", "Qwen/Qwen3-8B", "--host", host,
                                 "--port", str(port), "--context-length", "8192", "--mem-fraction-static", "0.85",
                                 "--attention-backend", "flashinfer", "--enable-cache-report"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        pid = proc.pid
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection((host, port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.5)  # warm-up request
    try:
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        results = asyncio.run(drive(host, port, args.concurrency, args.requests, args.max_tokens, args.prompt_words))
        wall, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    ok = sum(1 for good, unused_events in results if good)
    events = sum(n for unused_ok, n in results)
    print("requests: %d ok / %d, concurrency %d, %d tokens each, %d SSE events" % (
        ok, len(results), args.concurrency, args.max_tokens, events))
    print("wall time: %.2f s, requests/s: %.1f" % (wall, len(results) / wall))
    print("simulator CPU: %.2f s total, %.2f ms per request, %.0f%% of one core" % (
        cpu, 1000.0 * cpu / max(len(results), 1), 100.0 * cpu / wall))
    return 0 if ok == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
