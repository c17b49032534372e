"""gpu_info against recorded (H100) and synthesized (GB300) nvidia-smi outputs."""
import json
import os

import pytest

from ansible.module_utils import basic

from ansible_collections.dgx_station.inference.plugins.modules import gpu_info
from ansible_collections.dgx_station.inference.plugins.module_utils import nvidia_smi

SMI_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "nvidia-smi")
GB300_UUID = "GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e"
RTX_UUID = "GPU-a0b1c2d3-e4f5-4061-8273-94a5b6c7d8e9"


@pytest.fixture
def scenario(monkeypatch):
    """Replay one fixture directory: get_bin_path and run_command answer from it."""
    calls = []

    def load(name):
        directory = os.path.join(SMI_DIR, name)
        with open(os.path.join(directory, "scenario.json")) as handle:
            meta = json.load(handle)
        stdout = ""
        if meta.get("stdout_file"):
            with open(os.path.join(directory, meta["stdout_file"])) as handle:
                stdout = handle.read()

        def get_bin_path(self, arg, required=False, opt_dirs=None):
            return "/usr/bin/nvidia-smi" if meta["binary_present"] else None

        def run_command(self, args, **kwargs):
            calls.append(args)
            if not meta["binary_present"]:
                raise OSError(2, "No such file or directory")
            return meta["rc"], stdout, meta.get("stderr", "")

        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        return calls

    return load


def test_query_is_the_documented_one(scenario, run_module):
    calls = scenario("gb300-single")
    failed, result = run_module(gpu_info.main, {})
    assert not failed
    assert calls == [["/usr/bin/nvidia-smi",
                      "--query-gpu=index,name,uuid,pci.bus_id,memory.total,compute_cap",
                      "--format=csv,noheader,nounits"]]
    assert result["changed"] is False


def test_real_h100_output_parses():
    with open(os.path.join(SMI_DIR, "h100-x2", "smi_full_nounits.csv")) as handle:
        gpus = nvidia_smi.parse_query_gpu(handle.read())
    assert gpus == [
        dict(index=0, name="NVIDIA H100 80GB HBM3", uuid="GPU-3b0ffea5-9a3c-cd90-b1d7-80bebf36685c",
             pci_bus_id="00000000:00:06.0", memory_total_mib=81559, compute_cap="9.0"),
        dict(index=1, name="NVIDIA H100 80GB HBM3", uuid="GPU-40302442-dcd3-f16a-58e7-3282b537c4a5",
             pci_bus_id="00000000:00:07.0", memory_total_mib=81559, compute_cap="9.0"),
    ]


def test_real_h100_output_with_units_and_header_parses():
    with open(os.path.join(SMI_DIR, "h100-x2", "smi_full.csv")) as handle:
        lines = handle.read().splitlines()
    # keep the six queried columns of the full recording (header + units)
    text = "\n".join(", ".join(line.split(", ")[i] for i in (0, 1, 2, 3, 4, 7)) for line in lines)
    gpus = nvidia_smi.parse_query_gpu(text)
    assert [g["memory_total_mib"] for g in gpus] == [81559, 81559]
    assert [g["compute_cap"] for g in gpus] == ["9.0", "9.0"]


def test_gb300_alone_by_uuid_default(scenario, run_module):
    scenario("gb300-single")
    failed, result = run_module(gpu_info.main, {})
    assert not failed
    assert result["selected"] == dict(index=0, name="NVIDIA GB300", uuid=GB300_UUID, pci_bus_id="00000009:01:00.0",
                                      memory_total_mib=285696, compute_cap="10.3")
    assert result["selection_by"] == "uuid"
    assert result["device_ids"] == [GB300_UUID]
    assert result["docker_gpus"] == "device=" + GB300_UUID
    assert result["device_requests"] == [dict(driver="nvidia", count=0, device_ids=[GB300_UUID], capabilities=[["gpu"]])]
    assert result["only_gpu"] is True


def test_gb300_alone_use_all_gpus(scenario, run_module):
    scenario("gb300-single")
    failed, result = run_module(gpu_info.main, {"use_all_gpus": True})
    assert not failed
    assert result["docker_gpus"] == "all"
    assert result["device_requests"] == [dict(driver="nvidia", count=-1, capabilities=[["gpu"]])]


@pytest.mark.parametrize("name,index", [("gb300-idx1-rtxpro-idx0", 1), ("gb300-idx0-rtxpro-idx1", 0)])
def test_mixed_station_selects_gb300_by_name(scenario, run_module, name, index):
    scenario(name)
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
    scenario(name)
    failed, result = run_module(gpu_info.main, {"use_all_gpus": True})
    assert failed
    assert "refused" in result["msg"]
    assert "CUDA context" in result["msg"]
    assert "0: NVIDIA" in result["msg"] and "1: NVIDIA" in result["msg"]
    assert "allow_all_with_other_gpus" in result["msg"]


def test_mixed_station_all_when_explicitly_allowed(scenario, run_module):
    scenario("gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {"use_all_gpus": True, "allow_all_with_other_gpus": True})
    assert not failed
    assert result["docker_gpus"] == "all"


def test_no_match_lists_every_gpu(scenario, run_module):
    scenario("h100-x2")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "No GPU name matches name_pattern 'GB300'" in result["msg"]
    assert "0: NVIDIA H100 80GB HBM3, 1: NVIDIA H100 80GB HBM3" in result["msg"]
    assert len(result["gpus"]) == 2


def test_ambiguous_match_fails_and_allow_multiple_takes_both(scenario, run_module):
    scenario("h100-x2")
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


def test_rtx_pro_can_be_selected_by_pattern(scenario, run_module):
    scenario("gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {"name_pattern": "RTX PRO"})
    assert not failed
    assert result["device_ids"] == [RTX_UUID]


def test_invalid_regex(scenario, run_module):
    scenario("gb300-single")
    failed, result = run_module(gpu_info.main, {"name_pattern": "GB300("})
    assert failed and "not a valid regular expression" in result["msg"]


def test_no_gpu_rc6(scenario, run_module):
    scenario("no-gpu")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "rc 6" in result["msg"] and "no GPU was found" in result["msg"]
    assert "No devices were found" in result["msg"]
    assert result["nvidia_smi_rc"] == 6
    assert result["gpus"] == []


def test_driver_not_loaded_shows_output_and_rc(scenario, run_module):
    scenario("driver-not-loaded")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "rc 9" in result["msg"] and "couldn't communicate with the NVIDIA driver" in result["msg"]


def test_driver_missing(scenario, run_module):
    scenario("driver-missing")
    failed, result = run_module(gpu_info.main, {})
    assert failed
    assert "not found on PATH" in result["msg"] and "driver is not installed" in result["msg"]


def test_explicit_path_that_does_not_exist(scenario, run_module):
    scenario("driver-missing")
    failed, result = run_module(gpu_info.main, {"nvidia_smi_path": "/opt/nope/nvidia-smi"})
    assert failed
    assert "/opt/nope/nvidia-smi does not exist" in result["msg"] and "driver is not installed" in result["msg"]


def test_bad_field_error_output_is_reported(monkeypatch, run_module):
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


def test_check_mode_runs_the_same(scenario, run_module):
    scenario("gb300-idx1-rtxpro-idx0")
    failed, result = run_module(gpu_info.main, {}, check_mode=True)
    assert not failed
    assert result["selected"]["index"] == 1 and result["changed"] is False
