"""Prometheus text exposition of the `sglang:` metrics (names, types and labels of SGLang 0.5.23)."""
import bisect

TTFT_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400]
E2E_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400]
ITL_BUCKETS = [0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08, 0.1,
               0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0]
TPOT_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
QUEUE_BUCKETS = [0.0, 0.1, 0.2, 0.5, 1, 2, 3, 4, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300,
                 400, 500, 600, 1200, 1800, 2400]
TOKEN_BUCKETS = [100, 300, 500, 700, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000,
                 12000, 15000, 20000, 22000, 25000, 30000, 35000, 40000, 66000, 99000, 132000, 300000,
                 600000, 900000, 1100000]


def _fmt(v):
    if isinstance(v, float) and v == float("inf"):
        return "+Inf"
    return repr(float(v))


def _labels(pairs):
    return "{" + ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"')) for k, v in pairs) + "}"


class Metric:
    def __init__(self, name, kind, doc, base, extra=()):
        self.name, self.kind, self.doc, self.base, self.extra = name, kind, doc, base, tuple(extra)
        self.values = {}

    def key(self, labels):
        return tuple([str(labels.get(k, "")) for k in self.extra])


class Counter(Metric):
    def inc(self, amount=1, **labels):
        k = self.key(labels)
        self.values[k] = self.values.get(k, 0.0) + amount

    def render(self, out):
        name = self.name + "_total"
        out.append("# HELP %s %s" % (name, self.doc))
        out.append("# TYPE %s counter" % name)
        for k, v in self.values.items():
            out.append("%s%s %s" % (name, _labels(self.base + tuple(zip(self.extra, k))), _fmt(v)))


class Gauge(Metric):
    def set(self, value, **labels):
        self.values[self.key(labels)] = float(value)

    def render(self, out):
        out.append("# HELP %s %s" % (self.name, self.doc))
        out.append("# TYPE %s gauge" % self.name)
        for k, v in self.values.items():
            out.append("%s%s %s" % (self.name, _labels(self.base + tuple(zip(self.extra, k))), _fmt(v)))


class Histogram(Metric):
    def __init__(self, name, doc, base, buckets, extra=()):
        super().__init__(name, "histogram", doc, base, extra)
        self.buckets = list(buckets)

    def observe(self, value, **labels):
        k = self.key(labels)
        h = self.values.get(k)
        if h is None:
            h = self.values[k] = [[0] * len(self.buckets), 0, 0.0]
        i = bisect.bisect_left(self.buckets, value)
        if i < len(self.buckets):
            h[0][i] += 1
        h[1] += 1
        h[2] += value

    def render(self, out):
        out.append("# HELP %s %s" % (self.name, self.doc))
        out.append("# TYPE %s histogram" % self.name)
        for k, (counts, count, total) in self.values.items():
            labels = self.base + tuple(zip(self.extra, k))
            acc = 0
            for b, c in zip(self.buckets, counts):
                acc += c
                out.append("%s_bucket%s %s" % (self.name, _labels(labels + (("le", _fmt(b)),)), _fmt(acc)))
            out.append("%s_bucket%s %s" % (self.name, _labels(labels + (("le", "+Inf"),)), _fmt(count)))
            out.append("%s_count%s %s" % (self.name, _labels(labels), _fmt(count)))
            out.append("%s_sum%s %s" % (self.name, _labels(labels), _fmt(total)))


class Metrics:
    def __init__(self, model_name):
        sched = (("model_name", model_name), ("engine_type", "unified"), ("tp_rank", "0"), ("pp_rank", "0"),
                 ("moe_ep_rank", "0"))
        tok = (("model_name", model_name), ("engine_type", "unified"))

        def g(n, d, extra=()):
            return Gauge("sglang:" + n, "gauge", d, sched, extra)

        self.num_running_reqs = g("num_running_reqs", "The number of running requests.")
        self.num_queue_reqs = g("num_queue_reqs", "The number of requests in the waiting queue.")
        self.num_grammar_queue_reqs = g("num_grammar_queue_reqs", "The number of requests in the grammar waiting queue.")
        self.cache_hit_rate = g("cache_hit_rate", "The prefix cache hit rate.")
        self.token_usage = g("token_usage", "The token usage.")
        self.num_used_tokens = g("num_used_tokens", "The number of used tokens.")
        self.kv_used_tokens = g("kv_used_tokens", "The number of KV tokens in use.")
        self.kv_available_tokens = g("kv_available_tokens", "The number of available KV tokens.")
        self.kv_evictable_tokens = g("kv_evictable_tokens", "The number of evictable KV tokens.")
        self.gen_throughput = g("gen_throughput", "The generation throughput (token/s).")
        self.utilization = g("utilization", "The utilization.")
        self.max_total_num_tokens = g("max_total_num_tokens", "Maximum total number of tokens in the KV cache pool.")
        self.context_len = g("context_len", "The context length.")
        self.page_size = g("page_size", "The page size of the KV cache.")

        def c(n, d, extra=(), labels=tok):
            return Counter("sglang:" + n, "counter", d, labels, extra)

        self.prompt_tokens = c("prompt_tokens", "Number of prefill tokens processed.", ("is_streaming",))
        self.generation_tokens = c("generation_tokens", "Number of generation tokens processed.", ("is_streaming",))
        self.cached_tokens = c("cached_tokens", "Number of cached prompt tokens.", ("cache_source",))
        self.num_requests = c("num_requests", "Number of requests processed.", ("is_streaming",))
        self.num_aborted_requests = c("num_aborted_requests", "Number of requests aborted.")
        self.num_so_requests = c("num_so_requests", "Number of structured output requests processed.")
        self.realtime_tokens = c("realtime_tokens", "The number of tokens processed in real time.", ("mode",), sched)
        self.prefill_effective_tokens = c("prefill_effective_tokens", "Prefill tokens by source.", ("mode",), sched)
        for mode in ("input", "device_hit", "host_hit", "storage_hit"):
            self.prefill_effective_tokens.inc(0, mode=mode)

        def h(n, d, b, extra=(), labels=tok):
            return Histogram("sglang:" + n, d, labels, b, extra)

        self.ttft = h("time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS,
                      ("is_streaming",))
        self.itl = h("inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS)
        self.tpot = h("request_time_per_output_token_seconds", "Histogram of time per output token in seconds.",
                      TPOT_BUCKETS, ("is_streaming",))
        self.e2e = h("e2e_request_latency_seconds", "Histogram of End-to-end request latency in seconds",
                     E2E_BUCKETS, ("is_streaming",))
        self.queue_time = h("queue_time_seconds", "Histogram of queueing time in seconds.", QUEUE_BUCKETS, (), sched)
        self.prompt_hist = h("prompt_tokens_histogram", "Histogram of prompt token length.", TOKEN_BUCKETS)
        self.uncached_prompt_hist = h("uncached_prompt_tokens_histogram", "Histogram of uncached prompt token length.",
                                      TOKEN_BUCKETS)
        self.generation_hist = h("generation_tokens_histogram", "Histogram of generation token length.", TOKEN_BUCKETS)
        http_base = ()
        self.http_requests = Counter("sglang:http_requests", "counter", "Total number of HTTP requests.", http_base,
                                     ("endpoint", "method"))
        self.http_responses = Counter("sglang:http_responses", "counter", "Total number of HTTP responses.", http_base,
                                      ("endpoint", "method", "status_code"))
        self.http_active = Gauge("sglang:http_requests_active", "gauge", "Number of active HTTP requests.", http_base,
                                 ("endpoint", "method"))
        self._active = {}
        self.order = [
            self.num_running_reqs, self.num_queue_reqs, self.num_grammar_queue_reqs, self.cache_hit_rate,
            self.token_usage, self.num_used_tokens, self.kv_used_tokens, self.kv_available_tokens,
            self.kv_evictable_tokens, self.gen_throughput, self.utilization, self.max_total_num_tokens,
            self.context_len, self.page_size, self.realtime_tokens, self.prefill_effective_tokens, self.queue_time,
            self.prompt_tokens, self.generation_tokens, self.cached_tokens, self.num_requests,
            self.num_aborted_requests, self.num_so_requests, self.ttft, self.itl, self.tpot, self.e2e,
            self.prompt_hist, self.uncached_prompt_hist, self.generation_hist, self.http_requests,
            self.http_responses, self.http_active,
        ]

    def http_begin(self, endpoint, method):
        self.http_requests.inc(endpoint=endpoint, method=method)
        k = (endpoint, method)
        self._active[k] = self._active.get(k, 0) + 1
        self.http_active.set(self._active[k], endpoint=endpoint, method=method)

    def http_end(self, endpoint, method, status):
        self.http_responses.inc(endpoint=endpoint, method=method, status_code=str(status))
        k = (endpoint, method)
        self._active[k] = max(0, self._active.get(k, 1) - 1)
        self.http_active.set(self._active[k], endpoint=endpoint, method=method)

    def render(self):
        out = []
        for m in self.order:
            m.render(out)
        return "\n".join(out) + "\n"
