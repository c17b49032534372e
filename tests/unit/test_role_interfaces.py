# -*- coding: utf-8 -*-
"""Every role documents each option it has (meta/argument_specs.yml and README.md), has every
option it documents, and prefixes its options with its own name."""
import os

import pytest
import yaml

ROLES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "roles")
ROLES = sorted(name for name in os.listdir(ROLES_DIR) if os.path.isdir(os.path.join(ROLES_DIR, name)))


def _load(role, *parts):
    with open(os.path.join(ROLES_DIR, role, *parts)) as handle:
        return yaml.safe_load(handle) or {}


def test_the_collection_has_its_roles():
    assert set(ROLES) >= {"python_venv", "docker", "container_toolkit", "sglang_server", "sglang_validate", "sglang_benchmark",
                          "sglang_gateway"}


@pytest.mark.parametrize("role", ROLES)
def test_defaults_are_exactly_the_documented_options(role):
    defaults = _load(role, "defaults", "main.yml")
    options = _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(set(defaults) - set(options)) == [], "defaults without an argument spec"
    documented_without_default = [name for name in set(options) - set(defaults) if "default" in options[name]]
    assert documented_without_default == [], "spec defaults that defaults/main.yml lacks"
    for name, spec in options.items():
        assert name.startswith(role + "_"), name
        assert spec.get("description"), "%s has no description" % name


@pytest.mark.parametrize("role", ROLES)
def test_readme_names_every_option(role):
    with open(os.path.join(ROLES_DIR, role, "README.md")) as handle:
        readme = handle.read()
    options = _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    missing = sorted(name for name in options if name not in readme)
    assert missing == [], "%s/README.md does not mention %s" % (role, ", ".join(missing))
