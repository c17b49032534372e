"""sglang_structured_output_check against recorded SGLang exchanges."""
import pytest

from sglang_replay import ReplayServer, load_fixture

from ansible_collections.dgx_station.inference.plugins.modules import sglang_structured_output_check as structured


def replay(name):
    return ReplayServer(load_fixture(name)["exchanges"])


def test_every_sample_validates(run_module):
    with replay("structured_valid") as server:
        failed, result = run_module(structured.main, {"base_url": server.base_url, "samples": 3})
        requests = server.requests_to("/v1/chat/completions")
    assert not failed, result["msg"]
    assert result["valid"] is True and result["valid_fraction"] == 1.0 and result["valid_samples"] == 3
    assert result["errors"] == []
    assert [s["sample"] for s in result["samples"]] == [1, 2, 3]
    assert result["parsed"]["languages"][0] == {"name": "Python", "primary_use": "Data science and scripting", "year_created": 1991}
    body = requests[0]["json"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "languages"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["languages"]
    assert "strict" not in body["response_format"]["json_schema"]
    assert body["max_tokens"] == 512
    assert body["messages"][0]["content"] == "List three programming languages with their primary use case and year created."


def test_violations_are_listed_with_json_paths(run_module):
    with replay("structured_invalid") as server:
        failed, result = run_module(structured.main, {"base_url": server.base_url, "samples": 3})
    assert failed and result["valid"] is False
    assert result["valid_samples"] == 1 and result["valid_fraction"] == pytest.approx(0.3333, abs=1e-4)
    paths = [(e["sample"], e["path"], e["validator"]) for e in result["errors"]]
    assert (2, "$.languages[0].year_created", "type") in paths
    assert (2, "$.languages[1]", "required") in paths
    assert (3, "$", "json") in paths
    assert "finish_reason length" in [e for e in result["errors"] if e["sample"] == 3][0]["message"]
    assert "1 of 3 samples valid" in result["msg"] and "$.languages[0].year_created" in result["msg"]
    assert result["parsed"] is None  # last sample was not JSON


def test_min_valid_fraction_allows_some_failures(run_module):
    with replay("structured_invalid") as server:
        failed, result = run_module(structured.main, {"base_url": server.base_url, "samples": 3, "min_valid_fraction": 0.3})
    assert not failed and result["valid"] is True and len(result["errors"]) == 3


def test_own_schema_and_strict(run_module):
    schema = {"type": "object", "properties": {"languages": {"type": "array", "maxItems": 2}}, "required": ["languages"]}
    with replay("structured_valid") as server:
        failed, result = run_module(structured.main, {"base_url": server.base_url, "schema": schema, "schema_name": "languages",
                                                      "strict": True})
        body = server.requests_to("/v1/chat/completions")[0]["json"]
    assert failed
    assert result["errors"][0]["validator"] == "maxItems" and result["errors"][0]["path"] == "$.languages"
    assert body["response_format"]["json_schema"]["strict"] is True


def test_invalid_schema_is_refused_before_sending(run_module):
    failed, result = run_module(structured.main, {"base_url": "http://127.0.0.1:9", "schema": {"type": "nonsense"}})
    assert failed and "not a valid JSON Schema" in result["msg"]


def test_missing_jsonschema_library(run_module, monkeypatch):
    monkeypatch.setattr(structured, "JSONSCHEMA_IMPORT_ERROR", "Traceback: ImportError")
    failed, result = run_module(structured.main, {})
    assert failed and "jsonschema" in result["msg"]


def test_http_errors(run_module):
    with replay("unauthorized") as server:
        failed, result = run_module(structured.main, {"base_url": server.base_url})
    assert failed and "api_key" in result["msg"]
