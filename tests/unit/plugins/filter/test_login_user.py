# -*- coding: utf-8 -*-
"""The runbook's user is the one who logged in, not root that Ansible became."""
from ansible_collections.dgx_station.inference.plugins.filter.login_user import login_user


def test_sudo_user_wins_under_become():
    assert login_user({"env": {"SUDO_USER": "dgx"}, "user_id": "root"}, "dgx-ssh") == "dgx"


def test_inventory_login_without_become_facts():
    assert login_user({"user_id": "root"}, "ops") == "ops"
    assert login_user({}, "ops") == "ops"


def test_the_facts_user_without_inventory_login():
    assert login_user({"user_id": "alice"}) == "alice"


def test_root_everywhere_means_no_login_user():
    assert login_user({"env": {"SUDO_USER": "root"}, "user_id": "root"}, "root") == ""
    assert login_user(None, "") == ""
