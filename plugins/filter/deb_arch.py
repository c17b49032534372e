# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Map a kernel/Ansible machine architecture to the Debian architecture name."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: deb_arch
short_description: Debian architecture name of a machine architecture
version_added: 0.1.0
description:
  - Maps C(ansible_facts.architecture) (the kernel's machine name, as C(uname -m) prints it) to the
    architecture name Debian and Ubuntu use in apt repositories and package names.
  - A DGX Station is a Grace (C(aarch64)) host, so its apt repositories are the C(arm64) ones.
  - Debian names (C(arm64), C(amd64), ...) pass through unchanged; anything unknown is an error
    rather than a guess.
options:
  _input:
    description: The machine architecture, for example C(aarch64) or C(x86_64).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Point apt at the repository of this Station's architecture
  ansible.builtin.debug:
    msg: "https://nvidia.github.io/libnvidia-container/stable/deb/{{ ansible_facts.architecture | dgx_station.inference.deb_arch }}"
"""

RETURN = r"""
_value:
  description: The Debian architecture, for example C(arm64) for C(aarch64).
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

MACHINE_TO_DEB = {
    "aarch64": "arm64",
    "arm64": "arm64",
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
    "armv7l": "armhf",
    "armv7": "armhf",
    "armhf": "armhf",
    "armv6l": "armel",
    "armel": "armel",
    "ppc64le": "ppc64el",
    "ppc64el": "ppc64el",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loongarch64": "loong64",
    "loong64": "loong64",
}


def deb_arch(machine):
    if not isinstance(machine, str) or not machine.strip():
        raise AnsibleFilterError("deb_arch needs a machine architecture such as aarch64, got %r" % to_native(machine))
    key = machine.strip().lower()
    try:
        return MACHINE_TO_DEB[key]
    except KeyError:
        raise AnsibleFilterError(
            "deb_arch: no Debian architecture known for %r (known: %s)" % (to_native(machine), ", ".join(sorted(MACHINE_TO_DEB)))
        )


class FilterModule(object):
    def filters(self):
        return {"deb_arch": deb_arch}
