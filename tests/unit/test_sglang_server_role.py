# -*- coding: utf-8 -*-
"""The sglang_server role documents every option it has, and has every option it documents."""
import os

import yaml

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "sglang_server")


def _load(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


def test_defaults_and_argument_specs_agree():
    defaults = _load("defaults", "main.yml")
    options = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options)
    for name, spec in options.items():
        assert name.startswith("sglang_server_")
        assert spec.get("description"), name
        if "default" in spec:
            assert spec["default"] == defaults[name], name
        else:
            assert defaults[name] is None, name


def test_production_defaults_follow_the_runbook():
    defaults = _load("defaults", "main.yml")
    assert defaults["sglang_server_image"] == "lmsysorg/sglang:latest-cu130"
    assert defaults["sglang_server_name"] == "sglang-server"
    assert defaults["sglang_server_ulimit_memlock"] == "-1:-1"
    assert defaults["sglang_server_ulimit_stack"] == "67108864:67108864"
    assert defaults["sglang_server_attention_backend"] == "flashinfer"
    assert defaults["sglang_server_capabilities"] == ["SYS_NICE"]
    assert defaults["sglang_server_ipc_mode"] == "host"
    assert defaults["sglang_server_restart_policy"] == "unless-stopped"
    assert defaults["sglang_server_remove_image"] is False


def test_secret_options_are_no_log():
    options = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert options["sglang_server_hf_token"]["no_log"] is True
    assert options["sglang_server_api_key"]["no_log"] is True


def _tasks(name):
    return _load("tasks", name)


def _walk(tasks):
    for task in tasks or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _walk(task.get(key))


def test_boot_waits_survive_a_dropped_connection():
    # A first boot takes up to 45 minutes: the wait runs on the Station (async) and is polled.
    waits = [t for t in _walk(_tasks("wait.yml")) if "dgx_station.inference.sglang_wait" in t]
    assert len(waits) == 1
    assert "async" in waits[0] and "poll" in waits[0]
    assert "__sglang_server_ready_timeout" in str(waits[0]["async"])
    # Every wait for a new, restored or recovered server goes through it.
    for name in ("replace.yml", "rollback.yml", "recover.yml"):
        tasks = list(_walk(_tasks(name)))
        assert not [t for t in tasks if "dgx_station.inference.sglang_wait" in t], name
        assert [t for t in tasks if t.get("ansible.builtin.include_tasks") == "wait.yml"], name


def test_removing_a_setting_takes_effect():
    container = _tasks("container.yml")[0]["community.docker.docker_container"]
    assert {key: container["comparisons"].get(key) for key in ("env", "volumes", "capabilities", "labels", "ulimits")} \
        == dict.fromkeys(("env", "volumes", "capabilities", "labels", "ulimits"), "strict")
