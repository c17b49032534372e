# -*- coding: utf-8 -*-
"""A Station the doctor can read without a Station: every command, file and HTTP answer from fixtures.

healthy_state() is a healthy DGX Station (GB300 at index 1 next to an RTX PRO, the runbook's container
running, Docker with the nvidia runtime, the weights cached, the port published by the container);
each test changes what its catalog entry needs and asks the doctor (station_doctor.doctor) or the
preflight (station_doctor.preflight).

Fixtures: tests/fixtures/doctor (container, image and engine recorded from the SGLang simulator image,
simulator logs of every fault, HTTP answers of the simulator), tests/unit/fixtures/gpu_info (nvidia-smi),
tests/fixtures/real-host (the 1 x H200 Ubuntu 24.04 host).
"""
import copy
import json
import os

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangError
from ansible_collections.dgx_station.inference.plugins.module_utils.station_doctor import Station

UNIT = os.path.dirname(os.path.abspath(__file__))
DOCTOR = os.path.join(UNIT, "..", "fixtures", "doctor")
REAL_HOST = os.path.join(UNIT, "..", "fixtures", "real-host")
GPU_INFO = os.path.join(UNIT, "fixtures", "gpu_info")
NVIDIA_SMI = os.path.join(UNIT, "fixtures", "nvidia-smi")
GB300_UUID = "GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e"
QUERY = ("--query-gpu=index,name,uuid,pci.bus_id,memory.total,compute_cap,mig.mode.current,mig.mode.pending",
         "--format=csv,noheader,nounits")
DRIVER = ("--query-gpu=driver_version", "--format=csv,noheader")
UBUNTU = ('PRETTY_NAME="Ubuntu 24.04.3 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\n'
          'ID_LIKE=debian\n')
PYTHON_OK = "3.12.3\nensurepip yes\nvenv yes\npackaging yes\napt yes\n"


def read(*parts):
    with open(os.path.join(*parts)) as handle:
        return handle.read()


def load_json(*parts):
    return json.loads(read(*parts))


def log(name):
    return read(DOCTOR, "logs", name + ".log")


def gpu_layout(name):
    """nvidia-smi answers (query, -L, driver) of a tests/unit/fixtures/gpu_info scenario."""
    directory = os.path.join(GPU_INFO, name)
    answers = {QUERY: (0, read(directory, "query.csv"), ""), DRIVER: (0, "580.95.05\n", "")}
    if os.path.exists(os.path.join(directory, "list.txt")):
        answers[("-L",)] = (0, read(directory, "list.txt"), "")
    return answers


def healthy_state():
    http = load_json(DOCTOR, "http", "healthy.json")["answers"]
    return dict(
        machine="aarch64", os_release=UBUNTU, dgx_release='DGX_NAME="DGX Station"\nDGX_OTA_VERSION="7.2.0"\n',
        docker_cli="/usr/bin/docker", docker_info=load_json(DOCTOR, "station", "docker-info.json"), docker_info_error="",
        container=load_json(DOCTOR, "station", "container-inspect.json"), logs=log("healthy"),
        image=load_json(DOCTOR, "station", "image-inspect.json"),
        smi=gpu_layout("gb300-idx1-rtxpro-idx0"), smi_present=True,
        bins={"nvidia-container-runtime": "/usr/bin/nvidia-container-runtime", "nvidia-ctk": "/usr/bin/nvidia-ctk",
              "dockerd": "/usr/bin/dockerd"},
        users={"station": "station adm sudo docker"},
        python=(0, PYTHON_OK, ""),
        daemon_json='{"runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}',
        listeners=[dict(port=30000, pid=4242, comm="docker-proxy",
                        cmdline="/usr/bin/docker-proxy -proto tcp -host-port 30000 -container-port 30000")],
        free_gb=500.0, weights_cached=True,
        http=dict((key, (value["status"], value["body"])) for key, value in http.items()),
    )


def set_container_state(state, **fields):
    """Change the container's State (Status, Running, ExitCode, Error, ...) and RestartCount."""
    container = state["container"][0]
    restarts = fields.pop("RestartCount", None)
    container["State"].update(fields)
    if restarts is not None:
        container["RestartCount"] = restarts


def exited(state, log_name, exit_code=137, restarting=False):
    """The server died at boot with a recorded simulator log; nothing answers on the port any more."""
    set_container_state(state, Status="restarting" if restarting else "exited", Running=restarting,
                        Restarting=restarting, ExitCode=exit_code, RestartCount=3 if restarting else 0)
    state["logs"] = log(log_name) if log_name else "something odd happened\n"
    state["listeners"] = []
    state["http"] = {"GET /health": "connection_refused"}


class FakeResponse(object):
    def __init__(self, status, text):
        self.status = status
        self.text = text


class FakeClient(object):
    """What station_doctor.gather_server needs of SGLangClient, answering from state["http"]."""

    def __init__(self, answers, base_url="http://127.0.0.1:30000"):
        self.answers = answers
        self.base_url = base_url
        self.port = int(base_url.rsplit(":", 1)[1])
        self.timeout = 30.0
        self.requests = []

    def request(self, method, path, body=None, timeout=None, idempotent=None, expect=(200,)):
        key = "%s %s" % (method, path)
        if path == "/v1/chat/completions":
            key += " json_schema" if (body or {}).get("response_format") else " chat"
        self.requests.append(key)
        answer = self.answers.get(key, self.answers.get("*"))
        if answer is None:
            raise SGLangError("no answer scripted for %s" % key, "connection_error")
        if isinstance(answer, str):
            raise SGLangError("%s: %s" % (key, answer), answer)
        return FakeResponse(answer[0], answer[1])

    def close(self):
        pass


class FakeStation(Station):
    """Station whose commands answer from a state dict and whose files live under tmp_path."""

    def __init__(self, state, tmp_path):
        self.state = state
        self.calls = []
        root = str(tmp_path)
        proc = os.path.join(root, "proc")
        os.makedirs(os.path.join(proc, "net"))
        lines = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"]
        for number, holder in enumerate(state["listeners"]):
            inode = str(90000 + number)
            lines.append("   %d: 00000000:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %s "
                         "1 0000000000000000 100 0 0 10 0" % (number, holder["port"], inode))
            if holder.get("pid"):
                fd_dir = os.path.join(proc, str(holder["pid"]), "fd")
                os.makedirs(fd_dir)
                os.symlink("socket:[%s]" % inode, os.path.join(fd_dir, "3"))
                with open(os.path.join(proc, str(holder["pid"]), "comm"), "w") as handle:
                    handle.write(holder["comm"] + "\n")
                with open(os.path.join(proc, str(holder["pid"]), "cmdline"), "w") as handle:
                    handle.write(holder.get("cmdline", holder["comm"]).replace(" ", "\x00"))
        with open(os.path.join(proc, "net", "tcp"), "w") as handle:
            handle.write("\n".join(lines) + "\n")
        files = os.path.join(root, "etc")
        os.makedirs(files)
        for name in ("os_release", "dgx_release", "daemon_json"):
            if state.get(name) is not None:
                with open(os.path.join(files, name), "w") as handle:
                    handle.write(state[name])
        self.daemon_json_path = os.path.join(files, "daemon_json")
        self.hf_cache_dir = os.path.join(root, "home", "station", ".cache", "huggingface", "hub")
        repo = os.path.join(self.hf_cache_dir, "models--Qwen--Qwen3-8B")
        os.makedirs(os.path.join(repo, "blobs"))
        if state["weights_cached"]:
            os.makedirs(os.path.join(repo, "snapshots", "b968826d9c46dd6066d109eabc6255188de91218"))
            with open(os.path.join(repo, "blobs", "0a1b"), "w") as handle:
                handle.write("{}")
        self.python = os.path.join(root, "usr", "bin", "python3")
        os.makedirs(os.path.dirname(self.python))
        with open(self.python, "w") as handle:
            handle.write("")
        Station.__init__(self, self._answer, self._which, proc_root=proc,
                         os_release=os.path.join(files, "os_release"), dgx_release=os.path.join(files, "dgx_release"))

    def _which(self, name):
        if name == "docker":
            return self.state["docker_cli"]
        if name == "nvidia-smi":
            return "/usr/bin/nvidia-smi" if self.state["smi_present"] else None
        return self.state["bins"].get(name)

    def machine(self):
        return self.state["machine"]

    def free_bytes(self, path):
        return self.state["free_gb"] * 1e9, path

    def _answer(self, argv):
        self.calls.append(list(argv))
        tool, args = os.path.basename(argv[0]), tuple(argv[1:])
        if tool == "docker":
            return self._docker(args)
        if tool == "nvidia-smi":
            if args in self.state["smi"]:
                return self.state["smi"][args]
            return self.state["smi"].get("*", (2, "", "unexpected nvidia-smi call %r" % (args,)))
        if tool == "id":
            groups = self.state["users"].get(args[-1])
            return (0, groups + "\n", "") if groups is not None else (1, "", "id: '%s': no such user\n" % args[-1])
        if argv[0] == self.python:
            return self.state["python"]
        raise AssertionError("unexpected command %r" % (argv,))

    def _docker(self, args):
        state = self.state
        if args[0] == "info":
            if state["docker_info"] is None:
                return 1, "", state["docker_info_error"]
            return 0, json.dumps(state["docker_info"]) + "\n", ""
        if args[0] == "inspect":
            if state["container"] is None:
                return 1, "[]\n", "Error: No such object: %s\n" % args[-1]
            return 0, json.dumps(state["container"]), ""
        if args[0] == "logs":
            return 0, state["logs"], ""
        if args[:2] == ("image", "inspect"):
            if state["image"] is None:
                return 1, "[]\n", "Error: No such image: %s\n" % args[-1]
            return 0, json.dumps(state["image"]), ""
        raise AssertionError("unexpected docker call %r" % (args,))


def doctor_params(station, **changes):
    params = dict(container_name="sglang-server", log_lines=50, log_scan_lines=5000, docker_users=["station"],
                  image="lmsysorg/sglang:latest-cu130", gpu_name_pattern="GB300", daemon_json_path=station.daemon_json_path,
                  python=station.python, probe_inference=True, hf_cache_dir=station.hf_cache_dir, api_key=None)
    params.update(changes)
    return params


def preflight_params(station, **changes):
    params = dict(model="Qwen/Qwen3-8B", hf_cache_dir=station.hf_cache_dir, host_port=30000, gpu_name_pattern="GB300",
                  image="lmsysorg/sglang:latest-cu130", image_space_gb=40, container_name="sglang-server",
                  daemon_json_path=station.daemon_json_path, python=station.python, venv_path="/opt/dgx-station/venv",
                  provisioning={})
    params.update(changes)
    return params


def copy_state(state):
    return copy.deepcopy(state)
