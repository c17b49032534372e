"""The test doubles of tests/fixtures/apt-repo behave like the real nvidia-ctk and nvidia-smi."""
import json
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = os.path.join(REPO_ROOT, "tests", "fixtures", "apt-repo", "packages")
CTK = os.path.join(PACKAGES, "nvidia-container-toolkit", "usr", "lib", "nvidia-ctk-standin", "nvidia_ctk.py")
SMI = os.path.join(PACKAGES, "nvidia-utils-standin", "usr", "lib", "nvidia-smi-standin", "nvidia_smi.py")
PROFILE = os.path.join(PACKAGES, "nvidia-utils-standin", "etc", "nvidia-smi-standin.json")
LAYOUTS = os.path.join(PACKAGES, "nvidia-utils-standin", "usr", "share", "nvidia-smi-standin", "layouts")
# Real recordings of nvidia-smi (2 x H100), to compare the layout with.
REAL = os.environ.get("NVIDIA_SMI_RECORDINGS", os.path.join(REPO_ROOT, "tests", "unit", "fixtures", "nvidia-smi", "h100-x2"))


def run(script, *args, env=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True, env=full_env, check=False)


def smi(*args):
    return run(SMI, *args, env={"NVIDIA_SMI_STANDIN_PROFILE": PROFILE})


def test_ctk_adds_runtime_keeps_keys_and_indents_four_spaces(tmp_path):
    config = tmp_path / "daemon.json"
    config.write_text('{"log-driver": "json-file", "log-opts": {"max-size": "10m"}}')
    result = run(CTK, "runtime", "configure", "--runtime=docker", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "Wrote updated config" in result.stderr
    data = json.loads(config.read_text())
    assert data["runtimes"]["nvidia"] == {"args": [], "path": "nvidia-container-runtime"}
    assert data["log-opts"] == {"max-size": "10m"} and data["log-driver"] == "json-file"
    assert "default-runtime" not in data
    assert '\n    "log-driver"' in config.read_text()


def test_ctk_set_as_default_and_missing_file(tmp_path):
    config = tmp_path / "sub" / "daemon.json"
    result = run(CTK, "runtime", "configure", "--runtime=docker", "--set-as-default", "--config=%s" % config)
    assert result.returncode == 0, result.stderr
    assert json.loads(config.read_text())["default-runtime"] == "nvidia"


def test_ctk_dry_run_writes_nothing(tmp_path):
    config = tmp_path / "daemon.json"
    config.write_text('{"debug": true}')
    result = run(CTK, "runtime", "configure", "--runtime=docker", "--dry-run", "--config", str(config))
    assert result.returncode == 0
    assert json.loads(result.stdout)["runtimes"]["nvidia"]["path"] == "nvidia-container-runtime"
    assert config.read_text() == '{"debug": true}'


def test_ctk_rejects_unknown_flags_and_runtimes(tmp_path):
    assert run(CTK, "runtime", "configure", "--bogus").returncode == 1
    assert run(CTK, "runtime", "configure", "--runtime=containerd", "--config", str(tmp_path / "x")).returncode == 1


def test_smi_default_profile_is_a_mixed_station_with_gb300_at_index_1():
    result = smi("--query-gpu=index,name,compute_cap", "--format=csv,noheader")
    assert result.stdout.splitlines() == [
        "0, NVIDIA RTX PRO 6000 Blackwell Workstation Edition, 12.0",
        "1, NVIDIA GB300, 10.3",
    ]
    assert json.load(open(PROFILE))["synthesized"] is True


def test_smi_units_and_headers_follow_the_real_format():
    fields = "--query-gpu=index,name,uuid,pci.bus_id,memory.total,compute_cap"
    with_units = smi(fields, "--format=csv").stdout.splitlines()
    assert with_units[0] == "index, name, uuid, pci.bus_id, memory.total [MiB], compute_cap"
    assert with_units[2].split(", ")[4] == "285696 MiB"
    no_units = smi(fields, "--format=csv,noheader,nounits").stdout.splitlines()
    assert no_units[1].split(", ")[4] == "285696"
    assert len(no_units) == 2


@pytest.mark.skipif(not os.path.isdir(REAL), reason="real nvidia-smi recordings not available")
def test_smi_layout_matches_real_recordings():
    real_header = open(os.path.join(REAL, "smi_full.csv")).read().splitlines()[0]
    fields = real_header.replace(" [MiB]", "").replace(", ", ",")
    ours = smi("--query-gpu=" + fields, "--format=csv").stdout.splitlines()
    assert ours[0] == real_header
    real_row = open(os.path.join(REAL, "smi_full.csv")).read().splitlines()[1].split(", ")
    our_row = ours[1].split(", ")
    assert len(our_row) == len(real_row)
    assert [c.endswith(" MiB") for c in our_row] == [c.endswith(" MiB") for c in real_row]


def test_smi_errors_like_the_real_one(tmp_path):
    bad = smi("--query-gpu=bogus_field", "--format=csv")
    assert bad.returncode == 2 and bad.stdout.startswith('Field "bogus_field" is not a valid field to query.')
    empty = tmp_path / "none.json"
    empty.write_text('{"gpus": []}')
    none = run(SMI, "-L", env={"NVIDIA_SMI_STANDIN_PROFILE": str(empty)})
    assert none.returncode == 6 and "No devices were found" in none.stdout


def test_smi_list_version_and_id_filter():
    assert smi("-L").stdout.splitlines()[1].startswith("GPU 1: NVIDIA GB300 (UUID: GPU-")
    assert "CUDA Version        : 13.0" in smi("--version").stdout
    assert smi("-i", "1", "--query-gpu=name", "--format=csv,noheader").stdout.strip() == "NVIDIA GB300"
    table = smi().stdout.splitlines()
    assert {len(line) for line in table[1:] if line.startswith(("|", "+"))} == {91}


MIG_QUERY = "--query-gpu=index,name,uuid,pci.bus_id,memory.total,compute_cap,mig.mode.current,mig.mode.pending"


def smi_with(profile, *args):
    return run(SMI, *args, env={"NVIDIA_SMI_STANDIN_PROFILE": profile})


def test_smi_default_profile_answers_the_mig_fields_disabled_and_lists_no_mig_device():
    rows = smi(MIG_QUERY, "--format=csv,noheader,nounits").stdout.splitlines()
    assert [row.split(", ")[6:] for row in rows] == [["Disabled", "Disabled"], ["Disabled", "Disabled"]]
    # the columns before the new ones are what the default profile printed before
    assert [row.split(", ")[:2] for row in rows] == [["0", "NVIDIA RTX PRO 6000 Blackwell Workstation Edition"],
                                                     ["1", "NVIDIA GB300"]]
    assert not any("MIG" in line for line in smi("-L").stdout.splitlines())


def test_smi_mig_layout_lists_mig_devices_like_the_real_driver():
    listing = smi_with("gb300-mig", "-L")
    assert listing.returncode == 0, listing.stdout
    lines = listing.stdout.splitlines()
    assert lines[1].startswith("GPU 1: NVIDIA GB300 (UUID: GPU-")
    # real layout: two spaces, "MIG <profile>" padded, "Device  N: (UUID: MIG-...)"
    assert lines[2] == "  MIG 3g.135gb    Device  0: (UUID: MIG-4b8e1c2d-9f3a-5e6b-8c7d-1a2b3c4d5e6f)"
    assert lines[3].startswith("  MIG 3g.135gb    Device  1: (UUID: MIG-")
    rows = smi_with("gb300-mig", MIG_QUERY, "--format=csv,noheader").stdout.splitlines()
    assert [row.split(", ")[6:] for row in rows] == [["Disabled", "Disabled"], ["Enabled", "Enabled"]]


def test_smi_mig_devices_are_listed_only_while_mig_is_enabled(tmp_path):
    profile = json.load(open(os.path.join(LAYOUTS, "gb300-mig.json")))
    profile["gpus"][1]["mig.mode.current"] = "Disabled"
    path = tmp_path / "off.json"
    path.write_text(json.dumps(profile))
    assert "MIG" not in smi_with(str(path), "-L").stdout
    pending = smi_with(str(path), "--query-gpu=mig.mode.current,mig.mode.pending", "--format=csv,noheader")
    assert pending.stdout.splitlines()[1] == "Disabled, Enabled"


def test_smi_two_gb300_layout():
    rows = smi_with("two-gb300", "--query-gpu=index,name,uuid", "--format=csv,noheader").stdout.splitlines()
    assert [row.split(", ")[:2] for row in rows] == [["0", "NVIDIA GB300"], ["1", "NVIDIA GB300"]]
    assert len(set(row.split(", ")[2] for row in rows)) == 2
    # the same file works as a path
    by_path = smi_with(os.path.join(LAYOUTS, "two-gb300.json"), "-L")
    assert by_path.stdout.count("NVIDIA GB300") == 2


def test_every_layout_is_marked_synthesized_and_answers_the_gpu_info_query():
    from ansible_collections.dgx_station.inference.plugins.module_utils import nvidia_smi

    for name in sorted(os.listdir(LAYOUTS)):
        assert json.load(open(os.path.join(LAYOUTS, name)))["synthesized"] is True
        profile = os.path.join(LAYOUTS, name)
        result = smi_with(profile, *nvidia_smi.QUERY_ARGS)
        assert result.returncode == 0, result.stdout
        gpus = nvidia_smi.parse_query_gpu(result.stdout)
        nvidia_smi.attach_mig_devices(gpus, nvidia_smi.parse_list_gpus(smi_with(profile, "-L").stdout))
        for gpu in gpus:
            assert gpu["mig_mode"] in ("enabled", "disabled")
            assert bool(gpu["mig_devices"]) == (gpu["mig_mode"] == "enabled")
