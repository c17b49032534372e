"""benchmark.py: provenance (the collection version agrees with galaxy.yml) and the verdict on the measurement."""
import os
import re

from ansible_collections.dgx_station.inference.plugins.module_utils import benchmark

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def test_collection_version_matches_galaxy_yml():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        version = re.search(r"^version:\s*['\"]?([^'\"\s#]+)", handle.read(), re.M).group(1)
    assert benchmark.COLLECTION_VERSION == version


def test_provenance_keeps_what_it_is_given_and_fills_the_rest():
    p = benchmark.provenance(dict(station="st-1", image="", gpu={}), {"version": "0.5.23"}, "Qwen/Qwen3-8B")
    assert p == dict(collection_version=benchmark.COLLECTION_VERSION, model="Qwen/Qwen3-8B", sglang_version="0.5.23",
                     image=None, image_id=None, image_digest=None, gpu=None, station="st-1")
    assert benchmark.provenance(None, {}, "m")["station"]  # the host the module ran on


def _summary(requests, errors, kinds=None):
    return dict(requests=requests, succeeded=requests - errors, errors=errors,
                error_rate=round(errors / float(requests), 4) if requests else None, error_kinds=kinds or {},
                error_samples=[dict(conversation=1, turn=2, structured=False, kind=k, message="m") for k in (kinds or {})])


def test_failure_kinds_and_messages():
    ok = dict(summary=_summary(10, 0), structured_output=dict(failed=0))
    assert benchmark.failure(ok, dict(max_error_rate=0.0)) == (None, None)
    some = dict(summary=_summary(10, 1, {"timeout": 1}), structured_output=dict(failed=0))
    kind, msg = benchmark.failure(some, dict(max_error_rate=0.0))
    assert kind == "error_rate" and "raise timeout" in msg and "error rate 0.1 > max_error_rate 0.0" in msg
    assert benchmark.failure(some, dict(max_error_rate=0.1)) == (None, None)
    grammar = dict(summary=_summary(10, 1, {"http_400": 1}), structured_output=dict(failed=1))
    assert "structured_output_schema" in benchmark.failure(grammar, {})[1]
    nothing = dict(summary=_summary(0, 0), structured_output=dict(failed=0))
    kind, msg = benchmark.failure(nothing, {})
    assert kind == "no_success" and "max_duration_s" in msg
    warm = dict(warmup=dict(requests=2, errors=1, error_kinds={"finish_abort": 1},
                            error_samples=[dict(kind="finish_abort", message="aborted")]))
    kind, msg = benchmark.failure(warm, {})
    assert kind == "warmup" and "aborted" in msg and "lower concurrency" in msg
