"""sglang_module.SGLangModule: the base every SGLang-facing module builds on."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from sglang_replay import ReplayServer, load_fixture  # noqa: E402

from ansible_collections.dgx_station.inference.plugins.module_utils import sglang_module  # noqa: E402
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangError  # noqa: E402
from ansible_collections.dgx_station.inference.plugins.modules import sglang_smoke_test, sglang_structured_output_check  # noqa: E402


def probe_main():
    module = sglang_module.SGLangModule(argument_spec={})

    def body():
        model, served = module.resolve_model()
        module.result["model"] = model
        raise SGLangError("boom with key sk-secret inside", "server_error", status=500,
                          body={"detail": "sk-secret", "launch_command": "sglang serve --api-key sk-secret"})
    module.run(body)


def test_errors_become_documented_fields_without_the_key(run_module):
    with ReplayServer(load_fixture("smoke_ok")["exchanges"]) as server:
        failed, result = run_module(probe_main, dict(base_url=server.base_url, api_key="sk-secret"))
    assert failed and result["error_kind"] == "server_error" and result["status"] == 500
    assert result["model"] == "Qwen/Qwen3-8B"
    assert "sk-secret" not in repr(result)


def test_a_model_the_server_does_not_list_fails_at_once(run_module):
    with ReplayServer(load_fixture("smoke_ok")["exchanges"]) as server:
        failed, result = run_module(sglang_structured_output_check.main, dict(base_url=server.base_url, model="typo/model"))
        chat_requests = server.requests_to("/v1/chat/completions")
    assert failed and result["error_kind"] == "model_not_served"
    assert "typo/model" in result["msg"] and "Qwen/Qwen3-8B" in result["msg"]
    assert chat_requests == []


def test_missing_requests_names_the_library_and_the_role(run_module, monkeypatch):
    monkeypatch.setattr(sglang_module, "HAS_REQUESTS", False)
    monkeypatch.setattr(sglang_module, "REQUESTS_IMPORT_ERROR", "ImportError: No module named 'requests'")
    failed, result = run_module(sglang_smoke_test.main, dict(base_url="http://127.0.0.1:1"))
    assert failed and "requests" in result["msg"] and "python_venv" in result["msg"]


def test_bad_base_url_and_timeout_fail_before_any_request(run_module):
    failed, result = run_module(sglang_smoke_test.main, dict(base_url="127.0.0.1:30000"))
    assert failed and "base_url" in result["msg"] and "http://" in result["msg"]
    failed, result = run_module(sglang_smoke_test.main, dict(timeout=0))
    assert failed and "timeout must be > 0" in result["msg"]
