"""Keeps the SGLang exchange layer single: one client per kind of use, one reading of an answer.

A new module that opens its own HTTP connection, parses SSE itself or computes its own time to
first token fails here, naming the file and the line, and the place to use instead.
"""
import ast
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLUGINS = os.path.join(ROOT, "plugins")

# Who may import what: the synchronous client is sglang_http (requests), the benchmark's concurrent
# load the asyncio transport of sglang_http_async (docs/benchmark.md, "Transport choice").
TRANSPORT_OWNERS = {
    "requests": {"module_utils/sglang_http.py"},
    "urllib3": {"module_utils/sglang_http.py"},
    "asyncio": {"module_utils/sglang_http_async.py", "module_utils/benchmark_load.py", "module_utils/benchmark.py"},
}
FORBIDDEN_TRANSPORTS = ("http.client", "urllib.request", "socket", "ssl.wrap_socket", "aiohttp", "httpx",
                        "ansible.module_utils.urls", "http.server")
SSL_OWNERS = {"module_utils/sglang_http.py"}

# Chat answers are read by sglang_exchange only.
EXCHANGE = "module_utils/sglang_exchange.py"


def plugin_files():
    for folder, _dirs, files in os.walk(PLUGINS):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, PLUGINS), path


def imports(path):
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module


@pytest.mark.parametrize("relative,path", sorted(plugin_files()))
def test_no_other_http_client(relative, path):
    for line, name in imports(path):
        top = name.split(".")[0]
        for forbidden in FORBIDDEN_TRANSPORTS:
            assert not (name == forbidden or name.startswith(forbidden + ".")), (
                "%s:%d imports %s: talk to SGLang through module_utils/sglang_http.py (SGLangClient) instead"
                % (relative, line, name))
        if top in TRANSPORT_OWNERS:
            assert relative in TRANSPORT_OWNERS[top], (
                "%s:%d imports %s, which only %s may use: go through SGLangClient / sglang_module.SGLangModule"
                % (relative, line, name, ", ".join(sorted(TRANSPORT_OWNERS[top]))))
        if top == "ssl":
            assert relative in SSL_OWNERS, "%s:%d imports ssl: the TLS context comes from SGLangClient.ssl_context()" % (
                relative, line)


# What computing a time to first token, or reading SSE, looks like outside sglang_exchange.
TTFT_COMPUTED = re.compile(r"\b(ttft|ttfo|ttfb|tpot|itl|t_first\w*)\b\s*=\s*[^=\n]*(perf_counter|monotonic|\bnow\b|-\s*\w*t_send)")
SSE_PARSED = re.compile(r"""(b?["']data:["']|startswith\(\s*b?["']data:)""")
USAGE_PARSED = re.compile(r"""\[\s*["']prompt_tokens_details["']\s*\]|\.get\(\s*["']prompt_tokens_details["']""")


@pytest.mark.parametrize("relative,path", sorted(plugin_files()))
def test_one_reading_of_a_chat_answer(relative, path):
    if relative == EXCHANGE:
        return
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            code = line.split("#", 1)[0]
            assert not TTFT_COMPUTED.search(code), (
                "%s:%d computes a latency figure itself: take it from sglang_exchange.ChatExchange "
                "(the one definition of TTFT, TPOT and ITL)" % (relative, number))
            assert not SSE_PARSED.search(code), (
                "%s:%d parses SSE itself: use sglang_exchange.SSEDecoder / ChatExchange.add_payload" % (relative, number))
            assert not USAGE_PARSED.search(code), (
                "%s:%d reads cached tokens itself: use sglang_exchange.cached_tokens_of / ChatExchange.cached_tokens"
                % (relative, number))


def test_the_guard_sees_what_it_forbids():
    # The patterns must match the code they are meant to keep out, or the tests above pass vacuously.
    assert TTFT_COMPUTED.search("ttft = first - t_send")
    assert TTFT_COMPUTED.search("rec.ttft = now - started")
    assert not TTFT_COMPUTED.search("ttft=exchange.ttft")
    assert SSE_PARSED.search('if line.startswith("data:"):')
    assert SSE_PARSED.search("if line[:5] == b\"data:\":")
    assert USAGE_PARSED.search('details = usage.get("prompt_tokens_details")')


SGLANG_GROUP_MODULES = ("sglang_wait", "sglang_smoke_test", "sglang_cache_check", "sglang_structured_output_check",
                        "sglang_benchmark", "sglang_diagnose", "sglang_server_load")


@pytest.mark.parametrize("name", SGLANG_GROUP_MODULES)
def test_sglang_modules_build_on_the_module_base(name):
    path = os.path.join(PLUGINS, "modules", name + ".py")
    names = [module for _line, module in imports(path)]
    assert "ansible_collections.dgx_station.inference.plugins.module_utils.sglang_module" in names, (
        "%s must build on sglang_module.SGLangModule (shared options, client, model, errors, close)" % name)
    assert "ansible.module_utils.basic" not in names or name == "sglang_structured_output_check", (
        "%s builds its own AnsibleModule; SGLangModule does that" % name)
