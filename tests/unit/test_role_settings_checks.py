# -*- coding: utf-8 -*-
"""Every role option is checked before a role changes anything, and the defaults pass their own checks."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.dgx_station.inference.plugins.module_utils.settings_rules import (
    check_settings,
    normalise_rule,
)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
ROLES = ["python_venv", "docker", "container_toolkit", "sglang_server", "sglang_validate", "sglang_benchmark",
         "sglang_gateway"]


def _load(role, *parts):
    with open(os.path.join(ROOT, "roles", role, *parts)) as handle:
        return yaml.safe_load(handle)


def role_rules(role):
    """The rules a role hands to check_settings (its preflight task, or vars/main.yml for sglang_server)."""
    if role == "sglang_server":
        return _load(role, "vars", "main.yml")["__sglang_server_setting_rules"]
    tasks = _load(role, "tasks", "preflight.yml")
    found = [t["dgx_station.inference.check_settings"]["rules"] for t in tasks
             if "dgx_station.inference.check_settings" in t]
    assert len(found) == 1, role
    return found[0]


def _options(role):
    return _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", ROLES)
def test_every_option_is_checked_by_its_spec_or_a_rule(role):
    rules = role_rules(role)
    # A bool or a choice is settled by the argument spec; everything else needs a rule.
    unchecked = [name for name, spec in _options(role).items()
                 if spec.get("type") != "bool" and "choices" not in spec and name not in rules]
    assert unchecked == [], "%s: options without a rule in check_settings: %s" % (role, unchecked)
    assert set(rules) <= set(_options(role)), "%s: rules for options the role does not have" % role
    for name, rule in rules.items():
        normalise_rule(name, rule)


@pytest.mark.parametrize("role", ROLES)
def test_the_role_runs_its_checks_first(role):
    tasks = _load(role, "tasks", "validate.yml" if role == "sglang_server" else "main.yml")
    first = tasks[0] if role != "sglang_server" else next(t for t in tasks if "dgx_station.inference.check_settings" in t)
    if role == "sglang_server":
        # Only the read-only interpreter probe may come before it.
        assert tasks.index(first) <= 2
    else:
        assert first.get("ansible.builtin.include_tasks") == "preflight.yml", (role, first)


@pytest.mark.parametrize("role", ROLES)
def test_the_defaults_pass_their_own_checks(role):
    defaults = _load(role, "defaults", "main.yml")
    rules = role_rules(role)
    literal = dict((k, v) for k, v in defaults.items() if k in rules and "{{" not in json.dumps(v))
    literal_rules = dict((k, v) for k, v in rules.items() if k in literal and "{{" not in json.dumps(v))
    assert check_settings(literal, literal_rules) == []


def test_check_settings_runs_in_a_play_and_names_every_refused_option(tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"base": "sglang", "my_name": "{{ base }} server", "my_port": 30000, "my_key": "a secret key",
                 "my_caps": ["SYS_NICE"]},
        "tasks": [{"name": "check", "dgx_station.inference.check_settings": {"rules": {
            "my_name": "container_name", "my_port": "port", "my_caps": "capabilities",
            "my_key": {"check": "string", "no_whitespace": True, "secret": True}}}}],
    }]))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                          "-c", "local", str(playbook)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
                         check=False)
    assert run.returncode != 0, run.stdout
    assert "my_name='sglang server' is not a Docker container name" in run.stdout
    assert "my_key=<hidden>" in run.stdout and "a secret key" not in run.stdout
    assert "2 setting(s) refused" in run.stdout
    assert "my_port=" not in run.stdout and "my_caps=" not in run.stdout
