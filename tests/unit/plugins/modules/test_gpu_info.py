# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpu_info against recorded (H100, H200) and synthesized (GB300) nvidia-smi outputs."""
import json
import os
import re

import pytest
import yaml

from ansible.module_utils import basic

from ansible_collections.dgx_station.inference.plugins.modules import gpu_info
from ansible_collections.dgx_station.inference.plugins.module_utils import nvidia_smi

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
SMI_DIR = os.path.join(FIXTURES, "nvidia-smi")  # recordings of single calls
SCENARIO_DIR = os.path.join(FIXTURES, "gpu_info")  # answers to every call gpu_info makes
ROLE_SPECS = os.path.join(FIXTURES, "..", "..", "..", "roles", "sglang_server", "meta", "argument_specs.yml")
GB300_UUID = "GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e"
GB300_B_UUID = "GPU-3c5d7e9f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
RTX_UUID = "GPU-a0b1c2d3-e4f5-4061-8273-94a5b6c7d8e9"
MIG_A = "MIG-4b8e1c2d-9f3a-5e6b-8c7d-1a2b3c4d5e6f"
MIG_B = "MIG-7a6b5c4d-3e2f-5a1b-9c8d-7e6f5a4b3c2d"
QUERY = ["--query-gpu=index,name,uuid,pci.bus_id,memory.total,compute_cap,mig.mode.current,mig.mode.pending",
         "--format=csv,noheader,nounits"]


@pytest.fixture
def scenario(monkeypatch):
    """Replay one fixture directory: get_bin_path and run_command answer from it.

    `gpu_info/<name>` scenarios answer each call by its exact arguments (an unknown call fails
    the test); `nvidia-smi/<name>` scenarios give their one recording to any call.
    """
    calls = []

    def load(name):
        directory = os.path.join(FIXTURES, name)
        with open(os.path.join(directory, "scenario.json")) as handle:
            meta = json.load(handle)

        def read(answer):
            if not answer.get("stdout_file"):
                return ""
            with open(os.path.join(directory, answer["stdout_file"])) as handle:
                return handle.read()

        def get_bin_path(self, arg, required=False, opt_dirs=None):
            return "/usr/bin/nvidia-smi" if meta["binary_present"] else None

        def run_command(self, args, **kwargs):
            calls.append(args)
            if not meta["binary_present"]:
                raise OSError(2, "No such file or directory")
            if "answers" not in meta:
                return meta["rc"], read(meta), meta.get("stderr", "")
            for answer in meta["answers"]:
                if answer["args"] == list(args[1:]):
                    return answer["rc"], read(answer), answer.get("stderr", "")
            pytest.fail("%s has no answer to %r" % (name, args))

        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        return calls

    return load


@pytest.fixture
def warnings(monkeypatch):
    """The module's warnings (module.warn), captured per test."""
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: seen.append(text))
    return seen


def module_options():
    return set(yaml.safe_load(gpu_info.DOCUMENTATION)["options"])


def role_options():
    with open(ROLE_SPECS) as handle:
        return set(yaml.safe_load(handle)["argument_specs"]["main"]["options"])


def assert_options_exist(msg):
    """Every option a message tells the user to set is a real option of the role or the module."""
    for name in re.findall(r"\bsglang_server_[a-z0-9_]+", msg):
        assert name in role_options(), "%s is not an sglang_server option: %s" % (name, msg)
    for role_name, name in re.findall(r"\b(sglang_server_[a-z0-9_]+) / ([a-z_]+)", msg):
        assert name in module_options(), "%s is not a gpu_info option: %s" % (name, msg)
    for name in re.findall(r"\b([a-z_]+)=(?:true|false)\b", msg):
        assert name in module_options(), "%s is not a gpu_info option: %s" % (name, msg)


def test_query_is_the_documented_one_and_runs_once(scenario, run_module):
    calls = scenario("gpu_info/gb300-single")
    failed, result = run_module(gpu_info.main, {})
    assert not failed
    # One call: -L is only needed when a GPU is in MIG mode.
    assert calls == [["/usr/bin/nvidia-smi"] + QUERY]
    assert result["changed"] is False
    assert "nvidia-smi --query-gpu=%s" % QUERY[0].split("=", 1)[1] in gpu_info.DOCUMENTATION


def test_real_h100_output_parses():
    with open(os.path.join(SMI_DIR, "h100-x2", "smi_full_nounits.csv")) as handle:
        gpus = nvidia_smi.parse_query_gpu(handle.read(), nvidia_smi.BASE_FIELDS)
    # The base query has no MIG fields: the mode is unknown, not guessed.
    unknown = dict(mig_mode="unknown", mig_mode_pending="unknown", mig_devices=[])
    assert gpus == [
        dict(index=0, name="NVIDIA H100 80GB HBM3", uuid="GPU-3b0ffea5-9a3c-cd90-b1d7-80bebf36685c",
             pci_bus_id="00000000:00:06.0", memory_total_mib=81559, compute_cap="9.0", **unknown),
        dict(index=1, name="NVIDIA H100 80GB HBM3", uuid="GPU-40302442-dcd3-f16a-58e7-3282b537c4a5",
             pci_bus_id="00000000:00:07.0", memory_total_mib=81559, compute_cap="9.0", **unknown),
    ]


def test_real_h100_output_with_units_and_header_parses():
    with open(os.path.join(SMI_DIR, "h100-x2", "smi_full.csv")) as handle:
        lines = handle.read().splitlines()
    # keep the queried columns of the full recording (header + units), mig.mode.current included
    text = "\n".join(", ".join(line.split(", ")[i] for i in (0, 1, 2, 3, 4, 7, 9)) for line in lines)
    gpus = nvidia_smi.parse_query_gpu(text, nvidia_smi.BASE_FIELDS + ("mig.mode.current",))
    assert [g["memory_total_mib"] for g in gpus] == [81559, 81559]
    assert [g["compute_cap"] for g in gpus] == ["9.0", "9.0"]
    assert [g["mig_mode"] for g in gpus] == ["disabled", "disabled"]


def test_real_h200_query_with_mig_fields(scenario, run_module):
    scenario("gpu_info/h200-x1")
    failed, result = run_module(gpu_info.main, {"name_pattern": "H200"})
    assert not failed
    assert result["selected"]["uuid"] == "GPU-06d1bbdf-6080-c397-a37f-f36240918fe9"
    assert result["selected"]["mig_mode"] == "disabled"
    assert result["selected"]["mig_mode_pending"] == "disabled"
    assert result["selected"]["memory_total_mib"] == 143771
    assert result["only_gpu"] is True


def test_gb300_alone_by_uuid_default(scenario, run_module):
    scenario("gpu_info/gb300-single")
    failed, result = run_module(gpu_info.main, {})
    assert not failed
    assert result["selected"] == dict(index=0, name="NVIDIA GB300", uuid=GB300_UUID, pci_bus_id="00000009:01:00.0",
                                      memory_total_mib=285696, compute_cap="10.3", mig_mode="disabled",
                                      mig_mode_pending="disabled", mig_devices=[])
    assert result["selection_by"] == "uuid"
    assert result["device_ids"] == [GB300_UUID]
    assert result["docker_gpus"] == "device=" + GB300_UUID
    assert result["device_requests"] == [dict(driver="nvidia", count=0, device_ids=[GB300_UUID], capabilities=[["gpu"]])]
    assert result["only_gpu"] is True


def test_gb300_alone_use_all_gpus(scenario, run_module):
    scenario("gpu_info/gb300-single")
    failed, result = run_module(gpu_info.main, {"use_all_gpus": True})
    assert not failed
    assert result["docker_gpus"] == "all"
    assert result["device_requests"] == [dict(driver="nvidia", count=-1, capabilities=[["gpu"]])]


@pytest.mark.parametrize("name,index", [("gb300-idx1-rtxpro-idx0", 1), ("gb300-idx0-rtxpro-idx1", 0)])
def test_mixed_station_selects_gb300_by_name(scenario, run_module, name, index):
    scenario("gpu_info/" + name)
    failed, result = run_module(gpu_info.main, {"select_by": "index"})
    assert not failed
    assert result["selected"]["index"] == index
    assert result["selected"]["name"] == "NVIDIA GB300"
    assert result["device_ids"] == [str(index)]
    assert result["docker_gpus"] == "device=%d" % index
    assert result["selection_by"] == "index"
    assert result["only_gpu"] is False
    assert len(result["gpus"]) == 2


@pytest.mark.parametrize("name", ["gb300-idx1-rtxpro-idx0", "gb300-idx0-rtxpro-idx1"])
def test_mixed_station_refuses_gpus_all(scenario, run_module, name):
    scenario("gpu_info/" + name)
    failed, result = run_module(gpu_info.main, {"use_all_gpus": True})
    assert failed
    assert "refused" in result["msg"]
    assert "CUDA context" in result["msg"]
    assert "0: NVIDIA" in result["msg"] and "1: NVIDIA" in result["msg"]
    assert "allow_all_with_other_gpus" in result["msg"]


def test_mixed_station_all_when_explicitly_allowed(scenario, run_module):
    scenario("gpu_info/gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {"use_all_gpus": True, "allow_all_with_other_gpus": True})
    assert not failed
    assert result["docker_gpus"] == "all"


def test_no_match_lists_every_gpu(scenario, run_module):
    scenario("gpu_info/h100-x2")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "No GPU name matches name_pattern 'GB300'" in result["msg"]
    assert "0: NVIDIA H100 80GB HBM3, 1: NVIDIA H100 80GB HBM3" in result["msg"]
    assert len(result["gpus"]) == 2
    assert_options_exist(result["msg"])


def test_ambiguous_match_fails_and_allow_multiple_takes_both(scenario, run_module):
    scenario("gpu_info/h100-x2")
    failed, result = run_module(gpu_info.main, {"name_pattern": "H100"})
    assert failed
    assert "matches 2 GPUs" in result["msg"] and "allow_multiple" in result["msg"]

    failed, result = run_module(gpu_info.main, {"name_pattern": "H100", "allow_multiple": True, "select_by": "index"})
    assert not failed
    assert result["device_ids"] == ["0", "1"]
    assert result["docker_gpus"] == '"device=0,1"'
    assert result["only_gpu"] is True
    assert len(result["selected_gpus"]) == 2

    # every GPU selected: --gpus all is fine
    failed, result = run_module(gpu_info.main, {"name_pattern": "H100", "allow_multiple": True, "use_all_gpus": True})
    assert not failed and result["docker_gpus"] == "all"


def test_two_gb300s_ask_for_a_choice_through_existing_options(scenario, run_module):
    scenario("gpu_info/gb300-x2")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    msg = result["msg"]
    assert "matches 2 GPUs" in msg
    # both candidates, each with index, name and UUID
    assert "0: NVIDIA GB300, %s" % GB300_B_UUID in msg and "1: NVIDIA GB300, %s" % GB300_UUID in msg
    # the ways to choose, named as the role user sets them
    assert "sglang_server_gpu_device_ids / device_ids (for example ['%s'])" % GB300_B_UUID in msg
    assert "sglang_server_gpu_name_pattern" in msg and "allow_multiple=true" in msg
    assert_options_exist(msg)


def test_two_gb300s_one_chosen_by_uuid(scenario, run_module):
    scenario("gpu_info/gb300-x2")
    failed, result = run_module(gpu_info.main, {"device_ids": [GB300_UUID]})
    assert not failed
    assert result["selected"]["index"] == 1 and result["selected"]["uuid"] == GB300_UUID
    assert result["device_ids"] == [GB300_UUID]
    assert result["device_requests"] == [dict(driver="nvidia", count=0, device_ids=[GB300_UUID], capabilities=[["gpu"]])]
    assert result["docker_gpus"] == "device=" + GB300_UUID
    assert result["selection_by"] == "device_ids"
    assert result["only_gpu"] is False


def test_explicit_index_is_returned_as_given_whatever_select_by(scenario, run_module):
    scenario("gpu_info/gb300-idx1-rtxpro-idx0")
    # Ansible passes an int from YAML as a string; a leading zero is not part of an index
    failed, result = run_module(gpu_info.main, {"device_ids": [1], "select_by": "uuid"})
    assert not failed
    assert result["device_ids"] == ["1"]
    assert result["docker_gpus"] == "device=1"
    assert result["selected"]["uuid"] == GB300_UUID
    failed, result = run_module(gpu_info.main, {"device_ids": ["01"]})
    assert not failed and result["device_ids"] == ["1"]


def test_wrong_index_is_refused_with_what_was_seen(scenario, run_module):
    scenario("gpu_info/gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {"device_ids": ["2"]})
    assert failed
    msg = result["msg"]
    assert msg.startswith("sglang_server_gpu_device_ids / device_ids: '2' is not a GPU of this host (no GPU has index 2)")
    assert "0: NVIDIA RTX PRO 6000 Blackwell Workstation Edition, %s" % RTX_UUID in msg
    assert "1: NVIDIA GB300, %s" % GB300_UUID in msg
    assert "Fix:" in msg
    assert_options_exist(msg)


def test_wrong_uuid_is_refused(scenario, run_module):
    scenario("gpu_info/gb300-idx1-rtxpro-idx0")
    wrong = "GPU-00000000-1111-2222-3333-444444444444"
    failed, result = run_module(gpu_info.main, {"device_ids": [wrong]})
    assert failed
    assert "device_ids: %r is not a GPU of this host (no GPU has this UUID)" % wrong in result["msg"]
    assert GB300_UUID in result["msg"] and RTX_UUID in result["msg"]
    assert_options_exist(result["msg"])


def test_id_that_is_no_id_is_refused(scenario, run_module):
    scenario("gpu_info/gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {"device_ids": ["gb300"]})
    assert failed and "'gb300' is neither a GPU index, a GPU- UUID nor a MIG- UUID" in result["msg"]


def test_same_gpu_twice_is_refused(scenario, run_module):
    scenario("gpu_info/gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {"device_ids": ["1", GB300_UUID]})
    assert failed and "names the same device as '1'" in result["msg"]


def test_gpu_not_matching_the_pattern_refused_then_allowed(scenario, run_module):
    scenario("gpu_info/gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {"device_ids": ["0"]})
    assert failed
    msg = result["msg"]
    assert ("'0' is GPU 0 (NVIDIA RTX PRO 6000 Blackwell Workstation Edition), whose name does not match "
            "name_pattern 'GB300' (sglang_server_gpu_name_pattern)") in msg
    # the fix names the GPU that does match, and the switch
    assert "1 / %s" % GB300_UUID in msg and "allow_any_name=true" in msg
    assert_options_exist(msg)

    failed, result = run_module(gpu_info.main, {"device_ids": ["0"], "allow_any_name": True})
    assert not failed
    assert result["selected"]["uuid"] == RTX_UUID
    assert result["device_requests"][0]["device_ids"] == ["0"]

    # a pattern that matches it works too
    failed, result = run_module(gpu_info.main, {"device_ids": [RTX_UUID], "name_pattern": "RTX PRO"})
    assert not failed and result["device_ids"] == [RTX_UUID]


def test_explicit_ids_exclude_use_all_gpus(scenario, run_module):
    scenario("gpu_info/gb300-single")
    failed, result = run_module(gpu_info.main, {"device_ids": ["0"], "use_all_gpus": True})
    assert failed and "exclude each other" in result["msg"]
    assert_options_exist(result["msg"])


def test_mig_enabled_gpu_selected_by_name_is_refused(scenario, run_module):
    calls = scenario("gpu_info/gb300-mig-enabled")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    msg = result["msg"]
    assert "GPU 1 (NVIDIA GB300, %s): MIG mode is enabled. SGLang needs the whole GPU" % GB300_UUID in msg
    assert "`nvidia-smi -i 1 -mig 0`" in msg and "`nvidia-smi -i 1 -r`" in msg
    assert "sglang_server_gpu_device_ids / device_ids: ['%s']" % MIG_A in msg
    assert "1: 3g.135gb %s; 1: 3g.135gb %s" % (MIG_A, MIG_B) in msg
    assert_options_exist(msg)
    # -L ran because the query reported MIG mode
    assert calls == [["/usr/bin/nvidia-smi"] + QUERY, ["/usr/bin/nvidia-smi", "-L"]]
    gb300 = result["gpus"][1]
    assert gb300["mig_mode"] == "enabled"
    assert [d["uuid"] for d in gb300["mig_devices"]] == [MIG_A, MIG_B]
    assert result["gpus"][0]["mig_mode"] == "disabled" and result["gpus"][0]["mig_devices"] == []


def test_mig_enabled_gpu_by_explicit_gpu_id_is_refused(scenario, run_module):
    scenario("gpu_info/gb300-mig-enabled")
    failed, result = run_module(gpu_info.main, {"device_ids": [GB300_UUID]})
    assert failed
    assert "device_ids: %r is GPU 1" % GB300_UUID in result["msg"] and "MIG mode is enabled" in result["msg"]


def test_mig_disable_pending_says_reset(scenario, run_module):
    scenario("gpu_info/gb300-mig-disable-pending")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "MIG mode is still enabled (disabling is pending)" in result["msg"]
    assert "finish disabling MIG: reset the GPU with nothing running on it (`nvidia-smi -i 0 -r`" in result["msg"]
    assert "-mig 0" not in result["msg"]  # already done
    assert "it has no MIG device yet" in result["msg"]


def test_mig_enable_pending_warns_but_selects(scenario, run_module, warnings):
    scenario("gpu_info/gb300-mig-enable-pending")
    failed, result = run_module(gpu_info.main, {})
    assert not failed
    assert result["selected"]["mig_mode_pending"] == "enabled"
    assert any("MIG mode pending" in w for w in warnings)


def test_explicit_mig_devices_are_accepted(scenario, run_module):
    scenario("gpu_info/gb300-mig-enabled")
    failed, result = run_module(gpu_info.main, {"device_ids": [MIG_B, MIG_A]})
    assert not failed
    assert result["device_ids"] == [MIG_B, MIG_A]
    assert result["device_requests"] == [dict(driver="nvidia", count=0, device_ids=[MIG_B, MIG_A],
                                              capabilities=[["gpu"]])]
    assert result["docker_gpus"] == '"device=%s,%s"' % (MIG_B, MIG_A)
    assert result["selected"]["uuid"] == GB300_UUID
    assert result["selected"]["mig_device"]["uuid"] == MIG_B
    assert result["selected"]["mig_device"]["profile"] == "3g.135gb"
    assert result["selected"]["mig_device"]["parent_index"] == 1
    assert result["only_gpu"] is False


def test_unknown_mig_device_is_refused(scenario, run_module):
    scenario("gpu_info/gb300-mig-enabled")
    wrong = "MIG-00000000-1111-5222-8333-444444444444"
    failed, result = run_module(gpu_info.main, {"device_ids": [wrong]})
    assert failed
    assert "%r is not a MIG device of this host (MIG devices seen:" % wrong in result["msg"]
    assert MIG_A in result["msg"]


def test_mig_device_on_a_host_without_mig_needs_no_listing(scenario, run_module):
    calls = scenario("gpu_info/gb300-single")
    failed, result = run_module(gpu_info.main, {"device_ids": [MIG_A]})
    assert failed
    assert "is not a MIG device of this host (no GPU is in MIG mode)" in result["msg"]
    assert len(calls) == 1


def test_old_driver_without_mig_fields_degrades(scenario, run_module, warnings):
    calls = scenario("gpu_info/old-driver")
    failed, result = run_module(gpu_info.main, {})
    assert not failed
    assert result["selected"]["uuid"] == GB300_UUID
    assert [g["mig_mode"] for g in result["gpus"]] == ["unknown", "unknown"]
    assert any("mig.mode.current" in w for w in warnings)
    assert calls[1] == ["/usr/bin/nvidia-smi", "--query-gpu=index,name,uuid,pci.bus_id,memory.total,compute_cap",
                        "--format=csv,noheader,nounits"]
    assert len(calls) == 2


def test_old_driver_checks_mig_ids_with_the_listing(scenario, run_module):
    calls = scenario("gpu_info/old-driver")
    failed, result = run_module(gpu_info.main, {"device_ids": [MIG_A]})
    assert failed and "is not a MIG device of this host" in result["msg"]
    assert calls[-1] == ["/usr/bin/nvidia-smi", "-L"]


def test_rtx_pro_can_be_selected_by_pattern(scenario, run_module):
    scenario("gpu_info/gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {"name_pattern": "RTX PRO"})
    assert not failed
    assert result["device_ids"] == [RTX_UUID]


def test_invalid_regex(scenario, run_module):
    scenario("gpu_info/gb300-single")
    failed, result = run_module(gpu_info.main, {"name_pattern": "GB300("})
    assert failed and "not a valid regular expression" in result["msg"]


def test_no_gpu_rc6(scenario, run_module):
    scenario("nvidia-smi/no-gpu")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "rc 6" in result["msg"] and "no GPU was found" in result["msg"]
    assert "No devices were found" in result["msg"]
    assert result["nvidia_smi_rc"] == 6
    assert result["gpus"] == []


def test_driver_not_loaded_shows_output_and_rc(scenario, run_module):
    scenario("nvidia-smi/driver-not-loaded")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "rc 9" in result["msg"] and "couldn't communicate with the NVIDIA driver" in result["msg"]


def test_driver_missing(scenario, run_module):
    scenario("nvidia-smi/driver-missing")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "not found on PATH" in result["msg"] and "driver is not installed" in result["msg"]


def test_explicit_path_that_does_not_exist(scenario, run_module):
    scenario("nvidia-smi/driver-missing")
    failed, result = run_module(gpu_info.main, {"nvidia_smi_path": "/opt/nope/nvidia-smi"})
    assert failed
    assert "/opt/nope/nvidia-smi does not exist" in result["msg"] and "driver is not installed" in result["msg"]


def test_bad_field_error_output_is_reported(monkeypatch, run_module):
    # A rejected field that is not one of the MIG fields is an error, not an old driver.
    with open(os.path.join(SMI_DIR, "h100-x2", "smi_bad_field.txt")) as handle:
        text = handle.read().split("\nrc_bad=")[0]
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, *a, **k: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, args, **k: (2, text, ""))
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "rc 2" in result["msg"] and "bogus_field" in result["msg"]


def test_unparseable_output(monkeypatch, run_module):
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, *a, **k: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, args, **k: (0, "garbage line\n", ""))
    failed, result = run_module(gpu_info.main, {})
    assert failed and "Cannot parse" in result["msg"]


def test_listing_failure_is_reported(monkeypatch, run_module):
    with open(os.path.join(SCENARIO_DIR, "gb300-mig-enabled", "query.csv")) as handle:
        query = handle.read()

    def run_command(self, args, **kwargs):
        if args[1:] == ["-L"]:
            return 15, "Unable to determine the device handle for GPU0000:09:01.0: GPU is lost.\n", ""
        return 0, query, ""

    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, *a, **k: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert result["msg"].startswith("nvidia-smi -L failed (rc 15")
    assert "GPU is lost" in result["msg"] and len(result["gpus"]) == 2


def test_check_mode_runs_the_same(scenario, run_module):
    scenario("gpu_info/gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {}, check_mode=True)
    assert not failed
    assert result["selected"]["index"] == 1 and result["changed"] is False


def test_documented_options_match_the_argument_spec():
    # what ansible-test validate-modules checks, kept here so a unit run catches a drift
    documented = yaml.safe_load(gpu_info.DOCUMENTATION)["options"]
    assert documented["device_ids"]["type"] == "list" and documented["device_ids"]["elements"] == "str"
    assert documented["device_ids"]["default"] == []
    assert documented["allow_any_name"]["type"] == "bool" and documented["allow_any_name"]["default"] is False
    returned = yaml.safe_load(gpu_info.RETURN)
    assert set(returned["gpus"]["contains"]) >= {"mig_mode", "mig_mode_pending", "mig_devices"}
