# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The person behind a connection: the login user, also when Ansible became root."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: login_user
short_description: The user who connected to a Station, not the user Ansible became
version_added: 0.2.0
description:
  - The runbook runs as the logged-in user (step 1 adds that user to C(docker), step 5 mounts that user's
    C(~/.cache/huggingface/hub)); Ansible usually works as root through C(become). This filter finds the
    login user again.
  - Order of preference, skipping C(root) and empty values, C(SUDO_USER) from the facts (set when facts were
    gathered with C(become) through sudo), then O(ansible_user) (the inventory's login), then C(user_id)
    of the facts.
  - Returns an empty string when the only user found is C(root) (a root login has no separate user).
options:
  _input:
    description: C(ansible_facts) of the host (gathered with C(become) for C(SUDO_USER)).
    type: dict
    required: true
  ansible_user:
    description: The inventory's C(ansible_user) (or C(remote_user)), empty when not set.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Add the login user to the docker group (runbook step 1)
  ansible.builtin.user:
    name: "{{ ansible_facts | dgx_station.inference.login_user(ansible_user | default('')) }}"
    groups: docker
    append: true
"""

RETURN = r"""
_value:
  description: The login user's name, or an empty string when it is root or unknown.
  type: str
"""


def login_user(facts, ansible_user=""):
    facts = facts if isinstance(facts, dict) else {}
    env = facts.get("env") or {}
    for candidate in (env.get("SUDO_USER"), ansible_user, facts.get("user_id")):
        name = str(candidate or "").strip()
        if name and name != "root":
            return name
    return ""


class FilterModule(object):
    def filters(self):
        return {"login_user": login_user}
