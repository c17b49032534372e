"""The doctor against the live SGLang simulator: every fault it can inject is named, a healthy server is not.

The server runs as a local simulator process (start_sim); the docker CLI and nvidia-smi the doctor calls are
small stand-ins written into the test's directory: `docker inspect/logs` describe a container running (or
exited from) that process and return its real log, nvidia-smi is the test bed's synthesized GB300 next to an
RTX PRO. HTTP (/health, /server_info, /v1/models, the two probes) and /proc (who holds the port) are real.
"""
import copy
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from _sim_http import REPO_ROOT

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangClient
from ansible_collections.dgx_station.inference.plugins.module_utils.station_doctor import Station, doctor

DOCTOR_FIXTURES = os.path.join(REPO_ROOT, "tests", "fixtures", "doctor")
STANDIN = os.path.join(REPO_ROOT, "tests", "fixtures", "apt-repo", "packages", "nvidia-utils-standin")

FAKE_DOCKER = r'''#!{python}
import json, sys
state = json.load(open({state!r}))
args = sys.argv[1:]
if args[0] == "info":
    print(json.dumps(state["info"]))
elif args[0] == "inspect":
    if state["container"] is None:
        sys.stderr.write("Error: No such object: %s\n" % args[-1]); sys.exit(1)
    print(json.dumps(state["container"]))
elif args[0] == "logs":
    sys.stdout.write(open(state["log_path"]).read())
elif args[:2] == ["image", "inspect"]:
    print(json.dumps(state["image"]))
else:
    sys.stderr.write("unexpected docker call %r\n" % args); sys.exit(2)
'''


def load(*parts):
    with open(os.path.join(DOCTOR_FIXTURES, *parts)) as handle:
        return json.load(handle)


class Bed(object):
    """The stand-ins for one test: docker, nvidia-smi, daemon.json, the Hugging Face cache."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / "bed"
        self.dir.mkdir()
        self.state_file = self.dir / "docker-state.json"
        self.docker = self.dir / "docker"
        self.docker.write_text(FAKE_DOCKER.format(python=sys.executable, state=str(self.state_file)))
        self.docker.chmod(0o755)
        self.nvidia_smi = self.dir / "nvidia-smi"
        self.nvidia_smi.write_text("#!/bin/sh\nNVIDIA_SMI_STANDIN_PROFILE=%s exec %s %s \"$@\"\n" % (
            os.path.join(STANDIN, "etc", "nvidia-smi-standin.json"), sys.executable,
            os.path.join(STANDIN, "usr", "lib", "nvidia-smi-standin", "nvidia_smi.py")))
        self.nvidia_smi.chmod(0o755)
        self.daemon_json = self.dir / "daemon.json"
        self.daemon_json.write_text('{"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}}}')
        self.hub = self.dir / "hub"
        (self.hub / "models--Qwen--Qwen3-8B" / "snapshots" / "b968826d").mkdir(parents=True)

    def container(self, sim, running=True, exit_code=0, cap_add=("SYS_NICE",)):
        """A container running (or exited from) the simulator process, publishing its port."""
        info = copy.deepcopy(load("station", "container-inspect.json"))
        state = info[0]["State"]
        state.update(Status="running" if running else "exited", Running=running, Restarting=False, ExitCode=exit_code,
                     Pid=sim.proc.pid if running else 0)
        info[0]["HostConfig"]["PortBindings"] = {"30000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(sim.port)}]}
        info[0]["HostConfig"]["CapAdd"] = list(cap_add)
        info[0]["Mounts"][0]["Source"] = str(self.hub)
        with open(os.path.join(STANDIN, "etc", "nvidia-smi-standin.json")) as handle:
            gb300 = next(g for g in json.load(handle)["gpus"] if "GB300" in g["name"])
        info[0]["HostConfig"]["DeviceRequests"][0]["DeviceIDs"] = [gb300["uuid"]]
        self.state_file.write_text(json.dumps(dict(
            info=load("station", "docker-info.json"), container=info, log_path=sim.log_path,
            image=load("station", "image-inspect.json"))))

    def diagnose(self, sim, **params):
        def run_command(argv):
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            return done.returncode, done.stdout, done.stderr

        station = Station(run_command, shutil.which)
        station.machine = lambda: "aarch64"  # the image fixture is arm64, as on a Station
        values = dict(container_name="sglang-server", log_lines=20, log_scan_lines=5000, docker_users=[],
                      gpu_name_pattern="GB300", nvidia_smi_path=str(self.nvidia_smi), docker_bin=str(self.docker),
                      daemon_json_path=str(self.daemon_json), python=sys.executable, probe_inference=True,
                      hf_cache_dir=str(self.hub), api_key=None)
        values.update(params)
        client = SGLangClient(base_url=sim.base_url, timeout=10)
        try:
            findings, evidence, unused_tail = doctor(station, values, client=client)
        finally:
            client.close()
        return [f["id"] for f in findings], findings, evidence


@pytest.fixture
def bed(tmp_path):
    return Bed(tmp_path)


def dead(sim):
    code = sim.wait_exit(20)
    assert code is not None and code != 0, sim.logs()
    return code


def test_a_healthy_simulated_station_yields_no_finding(start_sim, bed):
    sim = start_sim()
    bed.container(sim)
    found, unused, evidence = bed.diagnose(sim)
    assert found == [], (found, evidence["host_facts"])
    assert evidence["server"]["models"] == ["Qwen/Qwen3-8B"]
    assert evidence["server"]["probes"]["chat"]["status"] == 200 and evidence["server"]["probes"]["json_schema"]["status"] == 200
    assert evidence["port"]["holders"][0]["pid"] == sim.proc.pid  # the port's holder, read from /proc
    gpus = evidence["gpus"]["gpus"]
    assert len(gpus) == 2 and "GB300" in gpus[evidence["gpus"]["matching"][0]]["name"]


@pytest.mark.parametrize("fault", ["trtllm_mha_sm103", "fa3_on_blackwell", "oom_at_start", "cuda_graph_capture_oom",
                                   "gpu_index_out_of_range", "hf_token_missing", "deepseek_v4_load_failure"])
def test_each_boot_fault_is_named(start_sim, bed, fault):
    sim = start_sim(env={"SGLANG_SIM_FAULT": fault}, wait_ready=False)
    code = dead(sim)
    bed.container(sim, running=False, exit_code=137 if code < 0 else code)
    found, findings, unused = bed.diagnose(sim)
    assert found == [fault], found
    assert findings[0]["evidence"]


def test_the_auto_selected_backend_on_a_gb300_is_named_with_its_fix(start_sim, bed):
    sim = start_sim("--context-length", "8192", runbook_flags=False, wait_ready=False)
    dead(sim)
    bed.container(sim, running=False, exit_code=137)
    found, findings, unused = bed.diagnose(sim)
    assert found == ["trtllm_mha_sm103"]
    assert "--attention-backend flashinfer" in findings[0]["fix"]
    assert any("buildNdTmaDescriptor" in line for line in findings[0]["evidence"])


def test_a_gated_model_without_a_token(start_sim, bed, tmp_path):
    sim = start_sim(model="meta-llama/Llama-3.3-70B-Instruct", wait_ready=False,
                    env={"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf-home"), "HOME": str(tmp_path)})
    dead(sim)
    bed.container(sim, running=False, exit_code=1)
    found, unused, unused_evidence = bed.diagnose(sim)
    assert found == ["hf_token_missing"]


def test_a_port_taken_by_another_server(start_sim, bed):
    first = start_sim()
    second = start_sim("--port", str(first.port), "--host", "127.0.0.1", wait_ready=False)
    dead(second)
    bed.container(second, running=False, exit_code=1)
    found, findings, evidence = bed.diagnose(second)
    assert found == ["port_in_use"], found
    assert any("Errno 98" in line for line in findings[0]["evidence"])
    assert evidence["port"]["holders"][0]["pid"] == first.proc.pid


@pytest.mark.parametrize("fault", ["cuda_wrong_image", "json_schema_unsupported"])
def test_faults_only_inference_shows(start_sim, bed, fault):
    sim = start_sim(env={"SGLANG_SIM_FAULT": fault})
    bed.container(sim)
    found, unused, unused_evidence = bed.diagnose(sim, probe_inference=False)
    assert found == []  # GETs alone do not show it (before any inference request)
    found, unused, evidence = bed.diagnose(sim)
    assert found == [fault], (found, evidence["server"]["answers"])


def test_sys_nice_dropped(start_sim, bed, tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython3\nCapEff:\t00000000a80425fb\n")
    sim = start_sim(env={"SGLANG_SIM_PROC_STATUS": str(status)})
    bed.container(sim, cap_add=())
    found, findings, unused = bed.diagnose(sim)
    assert found == ["numa_affinity_sys_nice"]
    assert findings[0]["severity"] == "warning" and findings[0]["matched_by"] == ["log", "host"]


def test_no_cache_report(start_sim, bed):
    sim = start_sim("--context-length", "8192", "--attention-backend", "flashinfer", runbook_flags=False)
    bed.container(sim)
    found, unused, unused_evidence = bed.diagnose(sim)
    assert found == ["cache_report_missing"]


@pytest.mark.parametrize("cached, expected", [(True, "still_booting"), (False, "slow_first_start")])
def test_a_server_still_booting(start_sim, bed, cached, expected):
    sim = start_sim(wait_ready=False, boot_seconds=30)
    if not cached:
        shutil.rmtree(str(bed.hub / "models--Qwen--Qwen3-8B"))
    time.sleep(0.5)
    bed.container(sim)
    found, findings, unused = bed.diagnose(sim)
    assert found == [expected], found
    assert findings[0]["severity"] == "info"


def test_healthy_but_not_for_the_gateway(start_sim, bed):
    sim = start_sim()
    bed.container(sim)
    found, findings, unused = bed.diagnose(sim, gateway=dict(
        station_url="http://10.0.0.11:30000", gateway_url="http://gw:30080", healthy_urls=[],
        unhealthy_urls=["http://10.0.0.11:30000"]))
    assert found == ["gateway_worker_unhealthy"]
    assert "sglang_gateway_station_url" in findings[0]["fix"]
