import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dgx_station.inference.plugins.filter.deb_arch import FilterModule, deb_arch


@pytest.mark.parametrize(
    "machine, expected",
    [
        ("aarch64", "arm64"),  # DGX Station (Grace)
        ("x86_64", "amd64"),  # the CI machines
        ("arm64", "arm64"),  # already a Debian name
        ("amd64", "amd64"),
        ("AARCH64", "arm64"),
        (" aarch64\n", "arm64"),
        ("ppc64le", "ppc64el"),
        ("armv7l", "armhf"),
        ("i686", "i386"),
        ("s390x", "s390x"),
    ],
)
def test_maps_machine_to_debian_arch(machine, expected):
    assert deb_arch(machine) == expected


@pytest.mark.parametrize("bad", ["sparc64", "", "   ", None, 64, ["aarch64"]])
def test_unknown_or_invalid_input_is_an_error(bad):
    with pytest.raises(AnsibleFilterError):
        deb_arch(bad)


def test_registered_under_its_name():
    assert FilterModule().filters()["deb_arch"] is deb_arch
