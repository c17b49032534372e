"""The scheduler: continuous batching, chunked prefill, radix prefix cache, KV pool accounting, timing."""
import asyncio
import collections
import time

from . import logs
from .radix import RadixCache


class Req:
    __slots__ = (
        "rid", "prompt_ids", "out_ids", "out_pieces", "finish_reason", "matched_stop", "is_stream",
        "log_metrics", "structured", "sink", "arrival", "t_admit", "t_first", "t_finish", "prefix_len",
        "last_node", "prefilled", "out_pos", "private", "done", "aborted", "insert_cache", "user",
    )

    def __init__(self, rid, prompt_ids, out_ids, out_pieces, finish_reason, matched_stop, sink,
                 is_stream=False, log_metrics=True, structured=False, insert_cache=True, user=True):
        self.rid = rid
        self.prompt_ids = prompt_ids
        self.out_ids = out_ids
        self.out_pieces = out_pieces
        self.finish_reason = finish_reason
        self.matched_stop = matched_stop
        self.sink = sink
        self.is_stream = is_stream
        self.log_metrics = log_metrics
        self.structured = structured
        self.insert_cache = insert_cache
        self.user = user
        self.arrival = time.monotonic()
        self.t_admit = self.t_first = self.t_finish = None
        self.prefix_len = None
        self.last_node = None
        self.prefilled = 0
        self.out_pos = 0
        self.private = 0
        self.done = False
        self.aborted = False


class Engine:
    def __init__(self, cfg, metrics=None):
        self.cfg = cfg
        self.metrics = metrics
        self.capacity = cfg["max_total_num_tokens"]
        self.tree = RadixCache(cfg["page_size"], disabled=cfg["disable_prefix_cache"])
        self.waiting = collections.deque()
        self.running = []
        self.chunked = None
        self.private = 0
        self.reserved = 0
        self.hung = False
        self.last_gen_throughput = 0.0
        self.cache_hit_rate = 0.0
        self.decode_iters = 0
        self._decode_tokens_since_log = 0
        self._last_decode_log = time.monotonic()
        self._last_prefill_log = time.monotonic()
        self._carry = 0.0
        self._wake = asyncio.Event()
        self.on_complete = None
        self.task = None
        # Cumulative figures of /v1/loads (Scheduler.total_prefill_* and decode_moment_totals).
        self.total_prefill_uncached_tokens = 0
        self.total_prefill_busy_us = 0
        self.decode_moment_totals = [0.0] * 6

    # ----- accounting -----
    def used_tokens(self):
        return self.tree.total_size + self.private

    def pool_used(self):
        """SGLang's `num_used`: the pool minus free and evictable (cached, unreferenced) tokens."""
        return max(0, self.used_tokens() - self.tree.evictable_size())

    def usage(self):
        return min(1.0, self.pool_used() / float(self.capacity)) if self.capacity else 0.0

    def available(self):
        return self.capacity - self.used_tokens() - self.reserved

    def num_running(self):
        return len(self.running) + (1 if self.chunked is not None else 0)

    def busy(self):
        return bool(self.waiting or self.running or self.chunked is not None)

    # ----- API -----
    def start(self):
        self.task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self):
        """The scheduler leaves its event loop (ShutdownReq); whatever is still queued or running never finishes."""
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def submit(self, req):
        self.waiting.append(req)
        self._wake.set()

    def abort(self, req):
        if req.done:
            return
        req.aborted = True
        if req in self.waiting:
            self.waiting.remove(req)
        if req in self.running:
            self.running.remove(req)
        if self.chunked is req:
            self.chunked = None
        self._release(req, insert=False)
        req.done = True
        if self.metrics is not None and req.log_metrics:
            self.metrics.num_aborted_requests.inc()

    def flush(self):
        if self.busy():
            return False
        self.tree.reset()
        return True

    # ----- internals -----
    def _release(self, req, insert):
        if req.t_admit is None:
            return
        self.private -= req.private
        self.reserved -= len(req.out_ids) - req.out_pos
        req.private = 0
        if insert and req.insert_cache:
            seq = req.prompt_ids + req.out_ids[:req.out_pos]
            self.tree.insert(seq[:-1])
        if req.last_node is not None:
            self.tree.dec_lock(req.last_node)
            req.last_node = None

    def _admit(self, req):
        """Match the prefix and reserve KV space; False when the pool cannot hold it yet."""
        if req.prefix_len is None:
            max_prefix = len(req.prompt_ids) - 1
            n, node = self.tree.match_prefix(req.prompt_ids[:max_prefix]) if max_prefix > 0 else (0, self.tree.root)
            req.prefix_len, req.last_node = n, node
            self.tree.inc_lock(node)
        need = len(req.prompt_ids) - req.prefix_len + len(req.out_ids)
        avail = self.available()
        if need > avail:
            avail += self.tree.evict(need - avail)
        if need > avail and (self.running or self.chunked is not None):
            return False
        req.t_admit = time.monotonic()
        req.prefilled = req.prefix_len
        uncached = len(req.prompt_ids) - req.prefix_len
        req.private = uncached
        self.private += uncached
        self.reserved += len(req.out_ids)
        return True

    def _finish(self, req):
        req.done = True
        req.t_finish = time.monotonic()
        self._release(req, insert=True)
        m = self.metrics
        if m is not None and req.log_metrics:
            s = "true" if req.is_stream else "false"
            n_out = req.out_pos
            m.prompt_tokens.inc(len(req.prompt_ids), is_streaming=s)
            m.generation_tokens.inc(n_out, is_streaming=s)
            m.num_requests.inc(is_streaming=s)
            if req.prefix_len:
                m.cached_tokens.inc(req.prefix_len, cache_source="device")
            ttft = (req.t_first or req.t_finish) - req.arrival
            m.ttft.observe(ttft, is_streaming=s)
            m.e2e.observe(req.t_finish - req.arrival, is_streaming=s)
            if n_out > 1:
                per = (req.t_finish - req.t_first) / (n_out - 1)
                m.tpot.observe(per, is_streaming=s)
                m.itl.observe(per)
            m.queue_time.observe((req.t_admit or req.arrival) - req.arrival)
            m.prompt_hist.observe(len(req.prompt_ids))
            m.uncached_prompt_hist.observe(len(req.prompt_ids) - (req.prefix_len or 0))
            m.generation_hist.observe(n_out)
            if req.structured:
                m.num_so_requests.inc()
        try:
            req.sink.finish(req)
        finally:
            if self.on_complete is not None and req.user:
                self.on_complete(req)

    def _usage_text(self, used=None):
        if used is None:
            u = self.usage()
        else:
            u = min(1.0, used / float(self.capacity)) if self.capacity else 0.0
        if self.cfg.get("hybrid"):
            slots = float(self.cfg.get("max_mamba_cache_size") or 64)
            return "full token usage: %.2f, mamba usage: %.2f" % (u, min(1.0, self.num_running() / slots))
        return "token usage: %.2f" % u

    def update_gauges(self):
        m = self.metrics
        if m is None:
            return
        m.num_running_reqs.set(self.num_running())
        m.num_queue_reqs.set(len(self.waiting))
        m.num_grammar_queue_reqs.set(0)
        m.token_usage.set(round(self.usage(), 2))
        m.num_used_tokens.set(self.pool_used())
        m.kv_used_tokens.set(self.pool_used())
        m.kv_available_tokens.set(max(0, self.capacity - self.used_tokens()))
        m.kv_evictable_tokens.set(self.tree.evictable_size())
        m.cache_hit_rate.set(self.cache_hit_rate)
        m.gen_throughput.set(self.last_gen_throughput)
        m.utilization.set(0.0)

    async def _loop(self):
        cfg = self.cfg
        loop = asyncio.get_running_loop()
        while True:
            if self.hung:
                await loop.create_future()
            if self.waiting or self.chunked is not None:
                if await self._prefill_step():
                    continue
            if self.running:
                await self._decode_step()
                continue
            if self.waiting or self.chunked is not None:
                # Nothing running and the pool could not take the head request: retry shortly.
                await asyncio.sleep(cfg["tick"])
                continue
            self._wake.clear()
            await self._wake.wait()

    async def _prefill_step(self):
        cfg = self.cfg
        budget = cfg["chunked_prefill_size"] if cfg["chunked_prefill_size"] > 0 else 1 << 62
        batch = []
        if self.chunked is not None:
            r = self.chunked
            self.chunked = None
            take = min(len(r.prompt_ids) - r.prefilled, budget)
            batch.append((r, take, False))
            budget -= take
            if r.prefilled + take < len(r.prompt_ids):
                self.chunked = r
        while self.chunked is None and self.waiting and budget > 0 and \
                len(self.running) + len(batch) < cfg["max_running"]:
            r = self.waiting[0]
            if r.t_admit is None and not self._admit(r):
                break
            self.waiting.popleft()
            remaining = len(r.prompt_ids) - r.prefilled
            take = min(remaining, budget)
            batch.append((r, take, True))
            budget -= take
            if take < remaining:
                self.chunked = r
        if not batch:
            return False
        new_tokens = sum(take for unused_req, take, unused_first in batch)
        cached = sum(r.prefix_len for r, unused_take, first in batch if first)
        now = time.monotonic()
        gap = max(now - self._last_prefill_log, 1e-6)
        self._last_prefill_log = now
        pending = sum(len(r.prompt_ids) for r in self.waiting)
        logs.log("Prefill batch, #new-seq: %d, #new-token: %d, #cached-token: %d, %s, #running-req: %d, "
                 "#queue-req: %d, #pending-token: %d, cuda graph: False, input throughput (token/s): %.2f"
                 % (len(batch), new_tokens, cached, self._usage_text(), len(self.running), len(self.waiting),
                    pending, new_tokens / gap))
        self.cache_hit_rate = cached / float(cached + new_tokens) if (cached + new_tokens) else 0.0
        if self.metrics is not None:
            self.metrics.prefill_effective_tokens.inc(new_tokens, mode="input")
            self.metrics.prefill_effective_tokens.inc(cached, mode="device_hit")
            self.metrics.realtime_tokens.inc(new_tokens, mode="prefill_compute")
            self.metrics.realtime_tokens.inc(cached, mode="prefill_cache")
            self.update_gauges()
        duration = new_tokens / cfg["prefill_tps"] + cfg["ttft_s"]
        t_start = time.monotonic()
        await asyncio.sleep(duration)
        self.total_prefill_busy_us += int((time.monotonic() - t_start) * 1e6)
        self.total_prefill_uncached_tokens += new_tokens
        while self.hung:
            await asyncio.get_running_loop().create_future()
        now = time.monotonic()
        for r, take, unused_first in batch:
            if r.aborted:
                continue
            r.prefilled += take
            if r.prefilled < len(r.prompt_ids):
                continue
            r.t_first = now
            r.out_pos = 1
            r.private += 1
            self.private += 1
            self.reserved -= 1
            r.sink.tokens(r, 0, 1)
            if r.out_pos >= len(r.out_ids) or r.aborted:
                if not r.aborted:
                    self._finish(r)
            else:
                self.running.append(r)
        self._last_decode = time.monotonic()
        return True

    async def _decode_step(self):
        cfg = self.cfg
        start = getattr(self, "_last_decode", time.monotonic())
        await asyncio.sleep(cfg["tick"])
        while self.hung:
            await asyncio.get_running_loop().create_future()
        now = time.monotonic()
        self._last_decode = now
        bs = len(self.running)
        rate = cfg["decode_tps"] / (1.0 + cfg["batch_slowdown"] * max(0, bs - 1))
        steps = (now - start) * rate + self._carry
        k = int(steps)
        self._carry = steps - k
        if k <= 0 or not bs:
            return
        produced = 0
        still = []
        # The batch's KV while it decodes (the decode line is logged before its finished requests are released).
        pool_during = self.pool_used()
        for r in list(self.running):
            if r.aborted:
                continue
            n = min(k, len(r.out_ids) - r.out_pos)
            if n > 0:
                start_pos = r.out_pos
                r.out_pos += n
                r.private += n
                self.private += n
                self.reserved -= n
                produced += n
                r.sink.tokens(r, start_pos, r.out_pos)
            if r.aborted:
                continue
            if r.out_pos >= len(r.out_ids):
                self._finish(r)
            else:
                still.append(r)
        self.running = [r for r in still if not r.aborted and not r.done]
        # k decode iterations of batch size bs took (now - start): SGLang's decode step-time moment sums.
        step_us = (now - start) * 1e6
        t = self.decode_moment_totals
        t[0] += k
        t[1] += k * bs
        t[2] += step_us
        t[3] += k * bs * bs
        t[4] += bs * step_us
        t[5] += produced
        self._decode_tokens_since_log += produced
        if self.metrics is not None:
            self.metrics.realtime_tokens.inc(produced, mode="decode")
        before = self.decode_iters // cfg["decode_log_interval"]
        self.decode_iters += k
        if self.decode_iters // cfg["decode_log_interval"] > before:
            gap = max(now - self._last_decode_log, 1e-6)
            self.last_gen_throughput = self._decode_tokens_since_log / gap
            self._decode_tokens_since_log = 0
            self._last_decode_log = now
            logs.log("Decode batch, #running-req: %d, #token: %d, %s, cuda graph: True, gen throughput (token/s): "
                     "%.2f, #queue-req: %d" % (bs, pool_during + produced, self._usage_text(pool_during + produced),
                                               self.last_gen_throughput,
                                               len(self.waiting)))
            self.update_gauges()
