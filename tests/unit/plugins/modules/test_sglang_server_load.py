# -*- coding: utf-8 -*-
"""sglang_server_load: SGLang's /v1/loads (and the /metrics fallback), and the wait until idle."""
import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient, SGLangError
from ansible_collections.dgx_station.inference.plugins.modules import sglang_server_load as mod


class Answer(object):
    def __init__(self, status, text):
        self.status = status
        self.text = text

    def json(self):
        import json
        return json.loads(self.text)


class ScriptedClient(SGLangClient):
    """An SGLangClient whose HTTP answers come from a script of (path prefix -> answers)."""

    def __init__(self, script):
        SGLangClient.__init__(self, base_url="http://127.0.0.1:1")
        self.script = script
        self.paths = []

    def request(self, method, path, body=None, timeout=None, expect=(200,)):
        self.paths.append(path)
        for prefix, answers in self.script.items():
            if path.startswith(prefix):
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if isinstance(answer, SGLangError):
                    raise answer
                if expect is not None and answer.status not in expect:
                    raise self.status_error(path, answer)
                return answer
        raise AssertionError("unexpected path %s" % path)


def loads(*pairs):
    import json
    return Answer(200, json.dumps({"version": "0.5.23", "loads": [
        {"dp_rank": i, "num_running_reqs": r, "num_waiting_reqs": w} for i, (r, w) in enumerate(pairs)]}))


def test_loads_are_summed_over_dp_ranks():
    client = ScriptedClient({"/v1/loads": [loads((2, 1), (3, 0))]})
    figures = client.server_load()
    assert (figures["running"], figures["waiting"], figures["source"]) == (5, 1, "/v1/loads")
    assert client.paths == ["/v1/loads?include=core,queues"]


def test_requests_waiting_for_a_grammar_count_as_queued():
    import json
    body = {"loads": [{"dp_rank": 0, "num_running_reqs": 0, "num_waiting_reqs": 0,
                       "queues": {"waiting": 0, "grammar": 2, "paused": 0, "retracted": 1, "prealloc_ready": 0}}]}
    client = ScriptedClient({"/v1/loads": [Answer(200, json.dumps(body))]})
    assert client.server_load()["waiting"] == 3


def test_metrics_fallback_when_there_is_no_load_endpoint():
    metrics = ('sglang:num_running_reqs{model_name="m",tp_rank="0"} 2.0\n'
               'sglang:num_queue_reqs{model_name="m",tp_rank="0"} 4.0\n')
    client = ScriptedClient({"/v1/loads": [Answer(404, '{"detail":"Not Found"}')], "/metrics": [Answer(200, metrics)]})
    figures = client.server_load()
    assert (figures["running"], figures["waiting"], figures["source"]) == (2, 4, "/metrics")


def test_no_figures_at_all_names_the_fix():
    client = ScriptedClient({"/v1/loads": [Answer(404, "{}")], "/metrics": [Answer(404, "{}")]})
    with pytest.raises(SGLangError, match="--enable-metrics"):
        client.server_load()


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_wait_idle_needs_consecutive_idle_readings():
    clock = Clock()
    client = ScriptedClient({"/v1/loads": [loads((1, 0)), loads((0, 0)), loads((0, 1)), loads((0, 0)), loads((0, 0))]})
    result = mod.wait_idle(client, timeout=60, poll_interval=1, settle_polls=2, clock=clock, sleep=clock.sleep)
    assert result["idle"] and not result["timed_out"]
    assert result["readings"] == 5


def test_wait_idle_reports_the_deadline_without_failing():
    clock = Clock()
    client = ScriptedClient({"/v1/loads": [loads((3, 2))]})
    result = mod.wait_idle(client, timeout=5, poll_interval=1, settle_polls=2, clock=clock, sleep=clock.sleep)
    assert result["timed_out"] and not result["idle"]
    assert (result["running"], result["waiting"]) == (3, 2)
    assert result["waited_s"] == 5


def test_a_server_that_is_gone_has_nothing_in_flight():
    clock = Clock()
    client = ScriptedClient({"/v1/loads": [SGLangError("Connection refused", "connection_refused")]})
    result = mod.wait_idle(client, timeout=5, poll_interval=1, settle_polls=2, clock=clock, sleep=clock.sleep)
    assert result["idle"] and not result["reachable"]


def test_other_errors_are_raised():
    clock = Clock()
    client = ScriptedClient({"/v1/loads": [Answer(401, '{"error": "Unauthorized"}')]})
    with pytest.raises(SGLangError, match="api_key"):
        mod.wait_idle(client, timeout=5, poll_interval=1, settle_polls=2, clock=clock, sleep=clock.sleep)
