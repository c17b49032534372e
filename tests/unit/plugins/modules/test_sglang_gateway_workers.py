# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sglang_gateway_workers run in-process against FakeGateway (smg 1.13's worker API, scripted) on 127.0.0.1."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "module_utils")))

from test_sglang_gateway import MODEL, FakeGateway, free_port  # noqa: E402

from ansible_collections.dgx_station.inference.plugins.modules import sglang_gateway_workers  # noqa: E402

MAIN = sglang_gateway_workers.main
W1 = "http://127.0.0.1:30001"
W2 = "http://127.0.0.1:30002"
W3 = "http://127.0.0.1:30003"
FAST = dict(poll_interval=0.01, wait_timeout=5, timeout=5)


def args(fake, **kwargs):
    out = dict(FAST, gateway_url=fake.url)
    out.update(kwargs)
    return out


def changes(fake):
    return [(r["method"], r["path"]) for r in fake.requests if r["method"] in ("POST", "DELETE")]


def test_query_lists_sorted_with_health(run_module):
    with FakeGateway() as fake:
        fake.seed(W2, status="not_ready", is_healthy=False, load=1)
        fake.seed(W1, load=4)
        fake.seed(W3, status="draining", is_healthy=False)
        failed, result = run_module(MAIN, args(fake, state="query", workers=["ignored"]))
    assert not failed, result
    assert result["changed"] is False and changes(fake) == []
    assert [w["url"] for w in result["workers"]] == [W1, W2, W3]
    assert result["workers"][0] == dict(id=result["workers"][0]["id"], url=W1, model_id=MODEL, status="ready",
                                        is_healthy=True, load=4)
    assert result["healthy_urls"] == [W1]
    assert result["unhealthy_urls"] == [W2]  # draining is not a member
    assert result["added"] == [] and result["removed"] == []
    assert result["gateway_url"] == fake.url
    assert result["msg"] == "The gateway lists 3 worker(s): 1 healthy, 1 unhealthy (%s)." % W2
    assert "diff" not in result


def test_present_adds_and_waits_until_ready_then_is_idempotent(run_module):
    with FakeGateway(pending_polls=3) as fake:
        fake.seed(W1)
        failed, result = run_module(MAIN, args(fake, workers=[W1, W2 + "/"], worker_api_key="wk-secret"))
        assert not failed, result
        assert result["changed"] is True and result["added"] == [W2] and result["removed"] == []
        posts = fake.calls("POST")
        assert [p["body"] for p in posts] == [{"url": W2, "api_key": "wk-secret"}]  # normalized, worker key sent
        polls = fake.calls("GET", "/workers/")
        assert len(polls) == 4  # pending x3, then ready
        assert [(w["url"], w["status"], w["is_healthy"]) for w in result["workers"]] == [
            (W1, "ready", True), (W2, "ready", True)]
        assert result["healthy_urls"] == [W1, W2] and result["unhealthy_urls"] == []
        assert result["msg"] == "Added %s. The gateway lists 2 worker(s): 2 healthy, 0 unhealthy." % W2
        assert "wk-secret" not in json.dumps(result)

        before = len(fake.requests)
        failed, again = run_module(MAIN, args(fake, workers=[W2, W1], worker_api_key="wk-secret"))
    assert not failed, again
    assert again["changed"] is False and again["added"] == [] and again["removed"] == []
    assert [r["method"] for r in fake.requests[before:]] == ["GET", "GET"]  # list, final list
    assert again["msg"].startswith("No change. The gateway lists 2 worker(s)")


def test_url_spelling_does_not_matter(run_module):
    with FakeGateway() as fake:
        fake.seed("http://station01:30001")
        fake.seed("http://station02")
        failed, result = run_module(MAIN, args(fake, workers=[
            "HTTP://Station01:30001/", "http://station02:80", "http://station02/"], state="exact"))
    assert not failed, result
    assert result["changed"] is False and changes(fake) == []


def test_absent_removes_through_draining_until_gone(run_module):
    with FakeGateway(drain_polls=3) as fake:
        id1 = fake.seed(W1)
        fake.seed(W2)
        failed, result = run_module(MAIN, args(fake, workers=[W1 + "/", W3], state="absent"))
        assert not failed, result
        assert result["changed"] is True and result["removed"] == [W1] and result["added"] == []
        assert changes(fake) == [("DELETE", "/workers/%s" % id1)]
        gets = fake.calls("GET", "/workers/%s" % id1)
        assert len(gets) == 4  # draining x3, then 404
        assert [w["url"] for w in result["workers"]] == [W2]
        assert result["msg"] == "Removed %s. The gateway lists 1 worker(s): 1 healthy, 0 unhealthy." % W1

        failed, again = run_module(MAIN, args(fake, workers=[W1], state="absent"))
    assert not failed and again["changed"] is False


def test_absent_waits_for_an_entry_already_draining(run_module):
    with FakeGateway(drain_polls=2) as fake:
        id1 = fake.seed(W1, status="draining", is_healthy=False)
        failed, result = run_module(MAIN, args(fake, workers=[W1], state="absent"))
    assert not failed, result
    assert result["changed"] is False and changes(fake) == []
    assert len(fake.calls("GET", "/workers/%s" % id1)) == 3
    assert result["workers"] == []


def test_exact_adds_first_then_removes(run_module):
    with FakeGateway(pending_polls=1, drain_polls=1) as fake:
        fake.seed(W1)
        id2 = fake.seed(W2, status="failed", is_healthy=False)
        id3 = fake.seed(W3)
        failed, result = run_module(MAIN, args(fake, workers=[W1, "http://127.0.0.1:30004"], state="exact"),
                                    check_mode=False)
    assert not failed, result
    assert result["changed"] is True
    assert result["added"] == ["http://127.0.0.1:30004"] and result["removed"] == [W2, W3]
    assert changes(fake) == [("POST", "/workers"), ("DELETE", "/workers/%s" % id2), ("DELETE", "/workers/%s" % id3)]
    # the new worker was ready before anything was removed
    order = [(r["method"], r["path"]) for r in fake.requests]
    first_delete = order.index(("DELETE", "/workers/%s" % id2))
    assert any(m == "GET" and p.startswith("/workers/") for m, p in order[:first_delete])
    assert [w["url"] for w in result["workers"]] == [W1, "http://127.0.0.1:30004"]
    assert result["unhealthy_urls"] == []


def test_exact_with_no_workers_removes_every_worker(run_module):
    with FakeGateway(drain_polls=0) as fake:
        fake.seed(W1)
        fake.seed(W2)
        failed, result = run_module(MAIN, args(fake, state="exact"))
    assert not failed and result["removed"] == [W1, W2] and result["workers"] == []


def test_check_mode_sends_no_post_or_delete_and_reports_a_diff(run_module):
    with FakeGateway() as fake:
        fake.seed(W1)
        fake.seed(W2)
        run_args = args(fake, workers=[W1, W3], state="exact", _ansible_diff=True)
        failed, result = run_module(MAIN, run_args, check_mode=True)
    assert not failed, result
    assert changes(fake) == [] and [r["path"] for r in fake.requests] == ["/workers"]
    assert result["changed"] is True and result["added"] == [W3] and result["removed"] == [W2]
    assert result["diff"]["before"] == "%s\n%s\n" % (W1, W2)
    assert result["diff"]["after"] == "%s\n%s\n" % (W1, W3)
    assert result["msg"].startswith("Would add %s; would remove %s. The gateway lists 2 worker(s) now:" % (W3, W2))
    assert [w["url"] for w in result["workers"]] == [W1, W2]


def test_diff_without_check_mode(run_module):
    with FakeGateway() as fake:
        failed, result = run_module(MAIN, args(fake, workers=[W1], _ansible_diff=True))
    assert not failed
    assert result["diff"]["before"] == "" and result["diff"]["after"] == W1 + "\n"


def test_401_says_the_api_key_option_and_hides_the_keys(run_module):
    with FakeGateway(api_key="gw-secret") as fake:
        failed, result = run_module(MAIN, args(fake, workers=[W1]))
        assert failed and result["error_kind"] == "unauthorized" and result["gateway_code"] == "invalid_api_key"
        assert "smg was started with a key (--api-key), which its worker API needs; pass it as the api_key option" \
            in result["msg"]
        assert result["changed"] is False and changes(fake) == []

        failed, result = run_module(MAIN, args(fake, workers=[W1], api_key="wrong-key", worker_api_key="wk"))
        assert failed and "the api_key given is not the gateway's key" in result["msg"]
        assert "wrong-key" not in json.dumps(result)

        failed, result = run_module(MAIN, args(fake, workers=[W1], api_key="gw-secret", worker_api_key="wk-secret"))
    assert not failed, result
    assert fake.requests[-1]["headers"]["Authorization"] == "Bearer gw-secret"
    text = json.dumps(result)
    assert "gw-secret" not in text and "wk-secret" not in text


def test_409_while_draining_waits_for_the_old_entry_then_adds(run_module):
    # The listing did not show the draining entry (removed after it): POST gets 409, the module waits it out.
    with FakeGateway(drain_polls=2, list_hides_draining=True) as fake:
        old = fake.seed(W1, status="draining", is_healthy=False)
        failed, result = run_module(MAIN, args(fake, workers=[W1]))
    assert not failed, result
    assert result["changed"] is True and result["added"] == [W1]
    posts = fake.calls("POST")
    assert len(posts) == 2  # 409 WORKER_ALREADY_EXISTS, then 202 once the old entry is gone
    assert len(fake.calls("GET", "/workers/%s" % old)) == 3  # 409 look-up (draining), draining, 404
    assert [(w["url"], w["status"]) for w in result["workers"]] == [(W1, "ready")]
    assert result["workers"][0]["id"] != old


def test_a_listed_draining_entry_is_waited_out_before_the_post(run_module):
    with FakeGateway(drain_polls=2) as fake:
        old = fake.seed(W1, status="draining", is_healthy=False)
        failed, result = run_module(MAIN, args(fake, workers=[W1], wait=False))
    assert not failed, result
    assert result["added"] == [W1]
    assert len(fake.calls("POST")) == 1
    order = [(r["method"], r["path"]) for r in fake.requests]
    assert order.index(("GET", "/workers/%s" % old)) < order.index(("POST", "/workers"))
    assert "Not waiting (wait=false)" in result["msg"]


def test_a_registration_still_pending_from_an_earlier_run_is_waited_for_not_added(run_module):
    with FakeGateway(pending_polls=2) as fake:
        pending = fake.seed(W1, status="pending", is_healthy=False)  # not listed by GET /workers
        failed, result = run_module(MAIN, args(fake, workers=[W1]))
    assert not failed, result
    assert result["changed"] is False and result["added"] == []
    assert [(w["id"], w["status"]) for w in result["workers"]] == [(pending, "ready")]


def test_timeout_waiting_for_ready_says_status_and_probes(run_module):
    with FakeGateway(never_ready={W2}) as fake:
        fake.seed(W1)
        failed, result = run_module(MAIN, args(fake, workers=[W1, W2], wait_timeout=0.3, poll_interval=0.05))
    assert failed
    assert result["error_kind"] == "worker_not_ready"
    assert result["changed"] is True and result["added"] == [W2]  # the POST happened
    assert re.search(r"^Not ready after 0\.[3-9] s \(wait_timeout\): %s \(id " % re.escape(W2), result["msg"])
    assert "status pending, is_healthy false" in result["msg"]
    for needle in ("/health", "/v1/models", "/server_info", "every 30 s", "raise wait_timeout"):
        assert needle in result["msg"]
    assert result["msg"].endswith("(Changed so far: added %s; removed none.)" % W2)
    assert "<redacted>" not in result["msg"]
    assert result["not_done"][0]["url"] == W2 and result["not_done"][0]["status"] == "pending"
    assert [w["url"] for w in result["workers"]] == [W1]  # smg does not list a pending worker


def test_wait_false_returns_without_polling(run_module):
    with FakeGateway(never_ready={W1}, drain_polls=100) as fake:
        id2 = fake.seed(W2)
        failed, result = run_module(MAIN, args(fake, workers=[W1], state="exact", wait=False))
    assert not failed, result
    assert result["added"] == [W1] and result["removed"] == [W2]
    assert fake.calls("GET", "/workers/") == []
    assert [(w["id"], w["status"]) for w in result["workers"]] == [(id2, "draining")]
    assert result["healthy_urls"] == [] and result["unhealthy_urls"] == []


def test_exact_does_not_remove_when_an_added_worker_is_not_ready(run_module):
    with FakeGateway(never_ready={W1}) as fake:
        fake.seed(W2)
        failed, result = run_module(MAIN, args(fake, workers=[W1], state="exact", wait_timeout=0.1,
                                               poll_interval=0.02))
    assert failed and result["error_kind"] == "worker_not_ready"
    assert fake.calls("DELETE") == [] and result["removed"] == []


@pytest.mark.parametrize("workers,needle", [
    ([W1, "station02:30000"], "workers[1]: 'station02:30000' is not a worker URL (no http:// or https:// scheme)"),
    (["http://station01:30000/v1"], "workers[0]: 'http://station01:30000/v1' is not a worker URL (a path"),
    (["http://u:pw@station01:30000"], "credentials in the URL are not allowed; pass the worker's key as worker_api_key"),
])
def test_invalid_worker_url_fails_before_any_request(run_module, workers, needle):
    with FakeGateway() as fake:
        failed, result = run_module(MAIN, args(fake, workers=workers))
    assert failed and result["error_kind"] == "invalid_url"
    assert needle in result["msg"] and "http://HOST:PORT" in result["msg"]
    assert fake.requests == []
    assert "pw" not in json.dumps(result)


def test_gateway_unreachable(run_module):
    failed, result = run_module(MAIN, dict(gateway_url="http://127.0.0.1:%d" % free_port(), workers=[W1], timeout=2))
    assert failed and result["error_kind"] == "connection_refused"
    assert "Check gateway_url" in result["msg"] and result["changed"] is False
    assert result["workers"] == [] and result["added"] == []


def test_bad_gateway_url(run_module):
    failed, result = run_module(MAIN, dict(gateway_url="127.0.0.1:30080"))
    assert failed and result["error_kind"] == "invalid_url" and "gateway_url" in result["msg"]


@pytest.mark.parametrize("option,value", [("timeout", 0), ("poll_interval", -1), ("wait_timeout", -1)])
def test_invalid_numbers(run_module, option, value):
    failed, result = run_module(MAIN, {"gateway_url": "http://127.0.0.1:1", option: value})
    assert failed and result["msg"].startswith(option)


def test_plan_is_pure():
    listing = [dict(id="a", url=W1 + "/", status="ready", is_healthy=True),
               dict(id="b", url=W2, status="draining", is_healthy=False),
               dict(id="c", url=W3, status="failed", is_healthy=False)]
    plan = sglang_gateway_workers.plan
    assert plan(listing, [W1, W2], "present") == ([W2], [])
    assert plan(listing, [W1, W2], "absent") == ([], [(W1, listing[0])])
    assert plan(listing, [W2], "exact") == ([W2], [(W1, listing[0]), (W3, listing[2])])
    assert plan(listing, [W1], "query") == ([], [])
    assert sglang_gateway_workers.health_lists(listing) == ([W1], [W3])


def test_argument_spec_matches_the_brief():
    spec = sglang_gateway_workers.ARGUMENT_SPEC
    assert spec["gateway_url"] == dict(type="str", required=True)
    assert spec["api_key"]["no_log"] and spec["worker_api_key"]["no_log"]
    assert spec["timeout"]["default"] == 30 and spec["wait_timeout"]["default"] == 120
    assert spec["poll_interval"]["default"] == 1 and spec["wait"]["default"] is True
    assert spec["workers"] == dict(type="list", elements="str", default=[])
    assert spec["state"]["choices"] == ["present", "absent", "exact", "query"]


def test_a_missing_ca_path_is_a_clean_failure_naming_it(run_module, tmp_path):
    failed, result = run_module(MAIN, dict(gateway_url="https://127.0.0.1:1", state="query",
                                           ca_path=str(tmp_path / "missing.pem")))
    assert failed and "ca_path" in result["msg"] and result["error_kind"] == "bad_request"


def test_missing_requests_names_the_library_and_the_role(run_module, monkeypatch):
    monkeypatch.setattr(sglang_gateway_workers, "HAS_REQUESTS", False)
    monkeypatch.setattr(sglang_gateway_workers, "REQUESTS_IMPORT_ERROR", "ImportError: requests")
    failed, result = run_module(MAIN, dict(gateway_url="http://127.0.0.1:1", state="query"))
    assert failed and "requests" in result["msg"] and "sglang_gateway role" in result["msg"]
