"""/metrics of the simulator: SGLang's names, types and labels, and counters that really count."""
import json
import re

from _sim_http import chat, request, sse

LINE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')


def scrape(sim):
    st, hdrs, text = request(sim.base_url, "GET", "/metrics")
    assert st == 200 and hdrs["content-type"].startswith("text/plain")
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            unused_hash, unused_type, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            m = LINE.match(line)
            assert m, line
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group("labels") or ""))
            samples.append((m.group("name"), labels, float(m.group("value"))))
    return types, samples


def value(samples, name, **labels):
    return sum(v for n, lab, v in samples if n == name and all(lab.get(k) == x for k, x in labels.items()))


def test_metric_names_types_labels(start_sim):
    sim = start_sim("--enable-metrics", "--served-model-name", "served")
    chat(sim.base_url, [{"role": "user", "content": "hello"}], max_tokens=5)
    types, samples = scrape(sim)
    expected = {
        "sglang:num_running_reqs": "gauge", "sglang:num_queue_reqs": "gauge", "sglang:cache_hit_rate": "gauge",
        "sglang:token_usage": "gauge", "sglang:gen_throughput": "gauge", "sglang:max_total_num_tokens": "gauge",
        "sglang:num_used_tokens": "gauge", "sglang:kv_evictable_tokens": "gauge", "sglang:context_len": "gauge",
        "sglang:page_size": "gauge",
        "sglang:prompt_tokens_total": "counter", "sglang:generation_tokens_total": "counter",
        "sglang:cached_tokens_total": "counter", "sglang:num_requests_total": "counter",
        "sglang:num_aborted_requests_total": "counter", "sglang:num_so_requests_total": "counter",
        "sglang:realtime_tokens_total": "counter", "sglang:prefill_effective_tokens_total": "counter",
        "sglang:time_to_first_token_seconds": "histogram", "sglang:e2e_request_latency_seconds": "histogram",
        "sglang:inter_token_latency_seconds": "histogram", "sglang:queue_time_seconds": "histogram",
        "sglang:request_time_per_output_token_seconds": "histogram",
        "sglang:prompt_tokens_histogram": "histogram", "sglang:http_requests_total": "counter",
    }
    for name, kind in expected.items():
        assert types.get(name) == kind, name
    for name, unused_labels, unused_value in samples:
        assert name.startswith("sglang:")
    sched = [lab for n, lab, unused_value in samples if n == "sglang:num_running_reqs"][0]
    assert sched == {"model_name": "served", "engine_type": "unified", "tp_rank": "0", "pp_rank": "0",
                     "moe_ep_rank": "0"}
    tok = [lab for n, lab, unused_value in samples if n == "sglang:prompt_tokens_total"][0]
    assert tok == {"model_name": "served", "engine_type": "unified", "is_streaming": "false"}
    modes = {lab["mode"] for n, lab, unused_value in samples if n == "sglang:prefill_effective_tokens_total"}
    assert modes == {"input", "device_hit", "host_hit", "storage_hit"}
    assert value(samples, "sglang:page_size") == 1
    assert value(samples, "sglang:context_len") == 8192
    si = json.loads(request(sim.base_url, "GET", "/server_info")[2])
    assert value(samples, "sglang:max_total_num_tokens") == si["max_total_num_tokens"]
    buckets = [lab["le"] for n, lab, unused_value in samples if n == "sglang:time_to_first_token_seconds_bucket"]
    assert buckets[0] == "0.1" and buckets[-1] == "+Inf"


def test_counters_count(start_sim):
    sim = start_sim("--enable-metrics")
    unused_types, before = scrape(sim)
    msgs = [{"role": "system", "content": " ".join("sys%d" % i for i in range(80))},
            {"role": "user", "content": "q"}]
    a = chat(sim.base_url, msgs, max_tokens=7, ignore_eos=True)
    b = chat(sim.base_url, msgs, max_tokens=5, ignore_eos=True)
    st, hdrs, events = sse(sim.base_url, "/v1/chat/completions",
                           {"messages": msgs, "max_tokens": 3, "ignore_eos": True, "stream": True,
                            "stream_options": {"include_usage": True}})
    c = json.loads(events[-2])["usage"]
    unused_types, after = scrape(sim)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    usages = [a["usage"], b["usage"], c]
    assert delta("sglang:num_requests_total", is_streaming="false") == 2
    assert delta("sglang:num_requests_total", is_streaming="true") == 1
    assert delta("sglang:prompt_tokens_total") == sum(u["prompt_tokens"] for u in usages)
    assert delta("sglang:generation_tokens_total") == 15
    cached = sum(u["prompt_tokens_details"]["cached_tokens"] for u in usages)
    assert cached > 0 and delta("sglang:cached_tokens_total", cache_source="device") == cached
    assert delta("sglang:time_to_first_token_seconds_count") == 3
    assert delta("sglang:e2e_request_latency_seconds_count", is_streaming="true") == 1
    assert delta("sglang:prefill_effective_tokens_total", mode="device_hit") == cached
    assert delta("sglang:http_requests_total", endpoint="/v1/chat/completions", method="POST") == 3
    assert delta("sglang:http_responses_total", endpoint="/v1/chat/completions", status_code="200") == 3
    hit = value(after, "sglang:cache_hit_rate")
    assert abs(hit - c["prompt_tokens_details"]["cached_tokens"] / c["prompt_tokens"]) < 0.01
    assert value(after, "sglang:num_running_reqs") == 0
    # structured-output requests count separately
    chat(sim.base_url, [{"role": "user", "content": "j"}], response_format={"type": "json_object"})
    unused_types, last = scrape(sim)
    assert value(last, "sglang:num_so_requests_total") - value(after, "sglang:num_so_requests_total") == 1
