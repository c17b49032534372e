# -*- coding: utf-8 -*-
"""The pure parts of the steady-traffic client (tests/fleet/steady_traffic.py): SSE end detection,
plain-body checks, percentiles, the worst gap, the stream spread, URL and argument checks, the summary."""
import importlib.util
import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "fleet", "steady_traffic.py")
_spec = importlib.util.spec_from_file_location("steady_traffic", SCRIPT)
st = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(st)

HEAD = '{"id":"1","object":"chat.completion.chunk","created":1,"model":"Qwen/Qwen3-8B","choices":['
ROLE = "data: " + HEAD + '{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'
CONTENT = "data: " + HEAD + '{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}'
REASONING = "data: " + HEAD + '{"index":0,"delta":{"reasoning_content":"hm"},"finish_reason":null}]}'
FINISH = "data: " + HEAD + '{"index":0,"delta":{},"finish_reason":"stop"}]}'
ABORT = "data: " + HEAD + '{"index":0,"delta":{},"finish_reason":{"type":"abort"}}]}'
USAGE = "data: " + HEAD + '],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
ERROR = 'data: {"error":{"object":"error","message":"boom","type":"BAD_REQUEST","code":400}}'
DONE = "data: [DONE]"


def events(*lines):
    """SSE lines as a server writes them: each event followed by a blank line."""
    out = []
    for line in lines:
        out += [line, ""]
    return out


# --------------------------------------------------------------------------- SSE end detection
@pytest.mark.parametrize("lines, verdict", [
    (events(ROLE, CONTENT, CONTENT, FINISH, USAGE, DONE), None),
    (events(ROLE, REASONING, FINISH, DONE), None),
    ([line + "\r" for line in events(ROLE, CONTENT, DONE)], None),              # CRLF line ends
    (events(ROLE, CONTENT, FINISH, ": keep-alive comment", DONE), None),
    ([ROLE, "", CONTENT, "", DONE], None),                                        # no blank line after [DONE]
    (events(ROLE, CONTENT, FINISH), "broken_stream_no_done"),                   # cut before [DONE]
    (events(ROLE, CONTENT), "broken_stream_no_done"),
    ([], "broken_stream_no_done"),                                              # empty body
    (events(ROLE, FINISH, DONE), "broken_stream_no_content"),                   # role chunk only
    (events(ROLE, CONTENT, ERROR, DONE), "broken_stream_error_event"),          # SGLang's mid-stream error
    (["event: error", "data: upstream gone", "", DONE, ""], "broken_stream_error_event"),
    (events(ROLE, "data: {not json", DONE), "broken_stream_bad_event"),
    (events(ROLE, "data: [1, 2]", CONTENT, DONE), "broken_stream_bad_event"),
    (events(ROLE, CONTENT, ABORT, DONE), "broken_stream_aborted"),
    (events(ROLE, CONTENT, DONE, CONTENT), "broken_stream_data_after_done"),
])
def test_stream_verdict(lines, verdict):
    assert st.classify_stream(lines)[0] == verdict


def test_first_content_event_is_reported_once_for_ttft():
    check = st.StreamCheck()
    fired = [check.feed(line) for line in events(ROLE, CONTENT, CONTENT, DONE)]
    # ROLE, "", CONTENT, "" (<- completes the first content event), CONTENT, "", DONE, ""
    assert fired == [False, False, False, True, False, False, False, False]
    assert check.content_chunks == 2
    assert check.verdict() is None


def test_multi_line_data_event_is_joined():
    check = st.StreamCheck()
    for line in ["data: " + HEAD + '{"index":0,', 'data: "delta":{"content":"x"}}]}', "", DONE, ""]:
        check.feed(line)
    assert check.content_chunks == 1 and check.verdict() is None


def test_error_detail_names_the_error():
    check = st.StreamCheck()
    for line in events(ROLE, ERROR, DONE):
        check.feed(line)
    assert "boom" in check.detail()


# --------------------------------------------------------------------------- plain bodies
def test_plain_body_checks():
    good = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                    "finish_reason": "stop"}]}).encode()
    assert st.check_body(good) is None
    assert st.check_body(b"{truncated")[0] == "bad_body"
    assert st.check_body(b"[]")[0] == "bad_body"
    assert st.check_body(b'{"choices": []}')[0] == "bad_body"
    assert st.check_body(b'{"object": "error", "message": "x"}')[0] == "bad_body"
    assert st.check_body(b'{"choices": [{"index": 0}]}')[0] == "bad_body"
    aborted = json.dumps({"choices": [{"message": {"content": ""}, "finish_reason": {"type": "abort"}}]}).encode()
    assert st.check_body(aborted)[0] == "bad_body"


# --------------------------------------------------------------------------- percentile, gap, spread
def test_percentile():
    assert st.percentile([], 50) is None
    assert st.percentile([7.0], 99) == 7.0
    assert st.percentile([3, 1, 2], 50) == 2
    assert st.percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    values = list(range(1, 101))  # 1..100
    assert st.percentile(values, 0) == 1
    assert st.percentile(values, 100) == 100
    assert st.percentile(values, 99) == pytest.approx(99.01)
    assert st.percentile(values, 50) == pytest.approx(50.5)


def test_worst_gap():
    assert st.worst_gap([]) == (None, None, None)
    assert st.worst_gap([5.0]) == (None, None, None)
    gap, start, end = st.worst_gap([10.0, 10.5, 14.0, 11.0, 11.2])   # unsorted input
    assert (gap, start, end) == (pytest.approx(2.8), 11.2, 14.0)
    assert st.worst_gap(iter([1.0, 1.0]))[0] == 0.0


@pytest.mark.parametrize("ratio, expected", [(0.5, 50), (0.0, 0), (1.0, 100), (0.25, 25), (0.1, 10), (0.3, 30)])
def test_stream_ratio_is_spread_evenly(ratio, expected):
    picks = [st.is_streamed(i, ratio) for i in range(100)]
    assert sum(picks) == expected
    if ratio == 0.5:
        assert picks[:4] == [False, True, False, True]


# --------------------------------------------------------------------------- URL and arguments
@pytest.mark.parametrize("url", ["http://127.0.0.1:31080", "http://localhost:8000/", "http://[::1]:30080/prefix"])
def test_loopback_urls_are_accepted(url):
    host, port, _prefix = st.check_url(url)
    assert host in st.LOOPBACK_HOSTS and port > 0


@pytest.mark.parametrize("url", ["http://10.0.0.5:30080", "http://example.com", "https://127.0.0.1:443",
                                 "http://127.0.0.2:30080", "http://user:pw@127.0.0.1:1", "ftp://localhost", "127.0.0.1:80",
                                 "http://0.0.0.0:30080", "http://127.0.0.1:99999"])
def test_other_urls_are_refused(url):
    with pytest.raises(ValueError):
        st.check_url(url)


@pytest.mark.parametrize("argv", [
    ["--url", "http://192.168.1.10:30080"],
    ["--url", "http://127.0.0.1:1", "--rate", "0"],
    ["--url", "http://127.0.0.1:1", "--rate", "nan"],
    ["--url", "http://127.0.0.1:1", "--duration-s", "-1"],
    ["--url", "http://127.0.0.1:1", "--duration-s", "1e9"],
    ["--url", "http://127.0.0.1:1", "--max-requests", "0"],
    ["--url", "http://127.0.0.1:1", "--stream-ratio", "1.5"],
    ["--url", "http://127.0.0.1:1", "--concurrency", "0"],
    ["--url", "http://127.0.0.1:1", "--out", "/nonexistent-dir/x.json"],
    ["--rate", "10"],                                   # no --url
])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        st.main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().out == ""


def test_defaults():
    args = st.parse_args(["--url", "http://127.0.0.1:31080"])
    assert (args.model, args.rate, args.stream_ratio) == ("Qwen/Qwen3-8B", 10.0, 0.5)
    assert args.duration_s > 0 and args.max_requests > 0 and args.concurrency > 0 and args.max_tokens <= 64


# --------------------------------------------------------------------------- summary
def _record(i, ok, streamed, end, kind=None, worker="w1", ttft=None, latency=0.1):
    return dict(id=i, start=end - latency, end=end, ok=ok, streamed=streamed, status=200 if ok else 503, error_kind=kind,
                error=None if ok else kind, ttft_s=ttft, latency_s=latency, worker=worker)


def test_summary_counts_gaps_and_workers():
    records = [
        _record(0, True, False, 100.0),
        _record(1, True, True, 100.2, ttft=0.01, worker="w2"),
        _record(2, False, False, 100.3, kind="http_503", worker=None),
        _record(3, False, True, 100.4, kind="broken_stream_no_done"),
        _record(4, True, False, 101.5, worker=None),
        _record(5, False, False, 101.6, kind="http_503"),
        _record(6, False, False, 101.7, kind="http_503"),
        _record(7, False, False, 101.8, kind="http_503"),
    ]
    doc = st.summarize(records, dict(url="http://127.0.0.1:1"), 99.0, 102.0, "duration")
    assert (doc["sent"], doc["ok"], doc["failed"], doc["broken_streams"]) == (8, 3, 5, 1)
    assert doc["errors"]["http_503"]["count"] == 4
    assert len(doc["errors"]["http_503"]["examples"]) == st.EXAMPLES_PER_KIND
    assert doc["errors"]["broken_stream_no_done"]["count"] == 1
    assert doc["worst_gap_s"] == pytest.approx(1.3)
    assert (doc["worst_gap_from"], doc["worst_gap_to"]) == (100.2, 101.5)
    assert doc["per_worker"] == {"w1": 1, "w2": 1, st.NO_WORKER: 1}
    assert doc["ttft_s"]["n"] == 1 and doc["ttft_s"]["p50"] == 0.01
    assert doc["latency_s"]["n"] == 3
    assert doc["streamed"] == {"sent": 2, "ok": 1} and doc["plain"] == {"sent": 6, "ok": 2}
    assert (doc["started_at"], doc["finished_at"], doc["stopped_by"]) == (99.0, 102.0, "duration")
    assert doc["url"] == "http://127.0.0.1:1"
    json.dumps(doc)


def test_summary_of_nothing():
    doc = st.summarize([], {}, 1.0, 2.0, "stop_file")
    assert (doc["sent"], doc["ok"], doc["failed"], doc["worst_gap_s"]) == (0, 0, 0, None)
    assert doc["ttft_s"] == {"p50": None, "p99": None, "max": None, "n": 0}


def test_prompts_differ_from_their_first_characters():
    prompts = [st.prompt(i) for i in range(200)]
    assert len(set(prompts)) == 200
    assert len(set(p[:2] for p in prompts)) > 100   # no long shared prefix for a cache-aware gateway
