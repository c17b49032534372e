"""sglang_cache_check against recorded SGLang exchanges and Prefill log lines."""
import pytest

from ansible.module_utils import basic

from sglang_replay import ReplayServer, load_fixture

from ansible_collections.dgx_station.inference.plugins.modules import sglang_cache_check
from ansible_collections.dgx_station.inference.plugins.module_utils import sglang_checks


def replay(name, **kwargs):
    return ReplayServer(load_fixture(name)["exchanges"], **kwargs)


def test_two_turns_hit_with_log_file(run_module, tmp_path):
    log = tmp_path / "server.log"
    log.write_text("[2026-11-27 09:00:00] Prefill batch, #new-seq: 1, #new-token: 212, #cached-token: 0, old run\n")
    with replay("cache_two_turns", log_path=str(log)) as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url, "flush_cache": True,
                                                              "log_file": str(log), "log_wait": 0})
        chats = server.requests_to("/v1/chat/completions")
        flushes = server.requests_to("/flush_cache")
    assert not failed, result["msg"]
    assert result["cache_hit"] is True and result["applicable"] is True and result["flushed"] is True
    assert len(flushes) == 1 and result["page_size"] == 1
    turn1, turn2 = result["turns"]
    assert turn1 == dict(turn=1, prompt_tokens=212, completion_tokens=64, cached_tokens=0, lower_bound=None,
                         log_cached_tokens=0, log_match="exact", hit=None, finish_reason="stop", latency_s=turn1["latency_s"])
    assert turn2["lower_bound"] == 204 and turn2["cached_tokens"] == 211 and turn2["hit"] is True
    assert turn2["log_cached_tokens"] == 211 and turn2["log_match"] == "exact"
    assert "turn 2: 211 cached tokens >= bound 204 (log #cached-token: 211)" in result["reason"]
    assert len(result["log_prefill_lines"]) == 3  # the old line before the start is not read
    # the conversation: system prompt long enough, answer re-sent verbatim
    first, second = chats[0]["json"]["messages"], chats[1]["json"]["messages"]
    assert first[0]["role"] == "system" and first[0]["content"].startswith("You are an expert physics tutor")
    assert len(first[0]["content"].split()) >= 128 and result["system_prompt_words"] >= 128
    assert first[1]["content"] == "What is the difference between speed and velocity?"
    assert second[:2] == first and second[2]["role"] == "assistant" and second[2]["content"].startswith("Speed is a scalar")
    assert second[3]["content"].startswith("Can you give me another example")
    assert chats[0]["json"]["max_tokens"] == 256 and chats[0]["json"]["temperature"] == 0.0


def test_docker_logs_are_read_with_since(run_module, monkeypatch):
    calls = []
    lines = "\n".join([
        "[2026-11-27 10:00:00] Prefill batch, #new-seq: 1, #new-token: 1, #cached-token: 0, token usage: 0.00, #running-req: 0, #queue-req: 0, ",
        "[2026-11-27 10:00:01] Prefill batch, #new-seq: 1, #new-token: 212, #cached-token: 0, token usage: 0.00, #running-req: 0, #queue-req: 0, ",
        "[2026-11-27 10:00:02] Prefill batch, #new-seq: 1, #new-token: 90, #cached-token: 211, token usage: 0.00, #running-req: 0, #queue-req: 0, ",
    ])

    def run_command(self, args, **kwargs):
        calls.append(args)
        return 0, "", lines  # SGLang logs on stderr

    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, *a, **k: "/usr/bin/docker")
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    with replay("cache_two_turns") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url, "container_name": "sglang-server"})
    assert not failed
    assert calls[0][:3] == ["/usr/bin/docker", "logs", "--since"] and calls[0][-1] == "sglang-server"
    assert int(calls[0][3]) > 1700000000
    assert result["log_source"] == "docker logs sglang-server"
    assert [t["log_cached_tokens"] for t in result["turns"]] == [0, 211]


def test_docker_logs_failure_is_a_warning(run_module, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, *a, **k: "/usr/bin/docker")
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, args, **k: (1, "", "Error response from daemon: No such container: nope"))
    with replay("cache_two_turns") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url, "container_name": "nope"})
    assert not failed and result["cache_hit"] is True
    assert [t["log_match"] for t in result["turns"]] == ["none", "none"]


def test_page_size_64_three_turns(run_module):
    with replay("cache_three_turns_page64") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url, "turns": 3})
        chats = server.requests_to("/v1/chat/completions")
    assert not failed, result["msg"]
    assert result["page_size"] == 64
    assert [t["lower_bound"] for t in result["turns"]] == [None, 192, 256]
    assert [t["hit"] for t in result["turns"]] == [None, True, True]
    assert len(chats[2]["json"]["messages"]) == 6
    assert chats[2]["json"]["messages"][5]["content"] == "How does acceleration relate to velocity in that example?"


def test_miss_fails_with_the_numbers(run_module):
    with replay("cache_miss") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url})
    assert failed and result["cache_hit"] is False
    assert result["turns"][1]["hit"] is False
    assert "turn 2: 0 cached tokens < bound 204" in result["msg"]


def test_no_cache_report_names_the_flag(run_module):
    with replay("cache_no_report") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url})
        chats = server.requests_to("/v1/chat/completions")
    assert failed and "--enable-cache-report" in result["msg"] and "enable_cache_report: false" in result["msg"]
    assert chats == []  # diagnosed from /server_info before sending anything


def test_no_details_and_flag_unknown_names_the_flag(run_module):
    exchanges = load_fixture("cache_no_report")["exchanges"]
    for exchange in exchanges:
        if exchange["request"]["path"] == "/server_info":
            del exchange["response"]["json"]["enable_cache_report"]
    with ReplayServer(exchanges) as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url})
    assert failed and "prompt_tokens_details is missing or null" in result["msg"]
    assert "--enable-cache-report" in result["msg"] and "not reported" in result["msg"]


def test_radix_cache_disabled_is_not_applicable(run_module):
    with replay("cache_radix_disabled") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url})
    assert not failed
    assert result["applicable"] is False and result["cache_hit"] is None
    assert "--disable-radix-cache" in result["reason"]
    assert [t["hit"] for t in result["turns"]] == [None, None]


def test_hybrid_model_is_not_applicable(run_module):
    with replay("cache_hybrid") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url})
    assert not failed
    assert result["applicable"] is False and "hybrid mamba/SSM" in result["reason"]
    assert result["model"] == "Qwen/Qwen3.6-35B-A3B"


def test_check_mode_does_not_flush(run_module):
    with replay("cache_two_turns") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url, "flush_cache": True}, check_mode=True)
        flushes = server.requests_to("/flush_cache")
    assert not failed and result["flushed"] is False and flushes == []


def test_turns_must_be_at_least_two(run_module):
    failed, result = run_module(sglang_cache_check.main, {"turns": 1})
    assert failed and "at least 2" in result["msg"]


def test_http_errors(run_module):
    with replay("unauthorized") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url})
    assert failed and "api_key" in result["msg"] and result["error_kind"] == "unauthorized"
    with replay("booting") as server:
        failed, result = run_module(sglang_cache_check.main, {"base_url": server.base_url})
    assert failed and "still loading" in result["msg"]


@pytest.mark.parametrize("prev,comp,prompt,page,count,tol,expected", [
    (212, 64, 301, 1, False, 0, 204),     # page 1: previous prompt minus the 8-token template tail
    (212, 64, 301, 64, False, 0, 192),    # floor((212 - 8)/64)*64
    (212, 64, 301, 64, True, 0, 256),     # with completion: floor((276 - 8)/64)*64
    (212, 64, 301, 1, False, 16, 188),    # minus miss_tolerance too
    (300, 64, 301, 1, True, 0, 300),      # capped at prompt_tokens - 1
    (40, 10, 60, 64, False, 0, 0),        # never below 0
])
def test_cache_lower_bound(prev, comp, prompt, page, count, tol, expected):
    assert sglang_checks.cache_lower_bound(prev, comp, prompt, page, count, tol) == expected


def test_prefill_line_variants_and_matching():
    text = "\n".join([
        "[2026-11-27 10:00:00] Prefill batch, #new-seq: 1, #new-token: 1, #cached-token: 0, token usage: 0.00, "
        "#running-req: 0, #queue-req: 0, #pending-token: 0, cuda graph: False, input throughput (token/s): 12.00",
        "[2026-11-27 10:00:01 TP0] Prefill batch. #new-seq: 1, #new-token: 212, #cached-token: 0, token usage: 0.00, #running-req: 0, #queue-req: 0, ",
        "[2026-11-27 10:00:02] Prefill batch [77], #new-seq: 1, #new-token: 90, #cached-token: 211, token usage: 0.01",
        "[2026-11-27 10:00:03] Decode batch, #running-req: 1, #token: 300, token usage: 0.00, cuda graph: True, gen throughput (token/s): 80.00, #queue-req: 0",
    ])
    lines = sglang_checks.parse_prefill_lines(text)
    assert [(l["new_tokens"], l["cached_tokens"]) for l in lines] == [(1, 0), (212, 0), (90, 211)]
    matches = sglang_checks.match_prefill_lines([212, 301], lines)
    assert [(m[0]["cached_tokens"], m[1]) for m in matches] == [(0, "exact"), (211, "exact")]
    # sizes differ (e.g. another tokenization) but one line per turn: paired by order
    matches = sglang_checks.match_prefill_lines([210, 299], lines)
    assert [(m[0]["cached_tokens"], m[1]) for m in matches] == [(0, "order"), (211, "order")]
    assert sglang_checks.match_prefill_lines([5, 6, 7], lines) == [(None, "none")] * 3


def test_system_prompt_extension():
    text = sglang_checks.extend_system_prompt(sglang_checks.PHYSICS_SYSTEM_PROMPT, 300)
    assert text.startswith(sglang_checks.PHYSICS_SYSTEM_PROMPT) and len(text.split()) >= 300
    assert "Guideline 1:" in text
    assert sglang_checks.extend_system_prompt("short", 1) == "short"
