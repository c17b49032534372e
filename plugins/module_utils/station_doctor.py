# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The doctor and the preflight: read a Station's evidence, then let the failure catalog explain it.

Everything here only reads: `docker info/inspect/logs/image inspect`, `nvidia-smi` queries, `id -nG`,
files (/etc/docker/daemon.json, /etc/os-release, /proc), the free space of a directory, and GET
requests (plus, when asked, two inference requests of a few tokens) to the SGLang server.

Three layers, so each can be tested alone:
  Station       how the host is read (commands, files, /proc); the unit tests give it fakes
  gather_*()    raw evidence, one dict per subject, errors recorded instead of raised
  *_facts()     the host facts and evidence lines failure_catalog.diagnose() matches on

The host checks use the standard library only, so the modules run with the Station's plain system
Python before provisioning (preflight) as well as in its venv; the server checks go through the
collection's HTTP client (requests), which the venv has (playbooks/diagnose.yml uses it when it exists).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import platform
import re

from ansible_collections.dgx_station.inference.plugins.module_utils import failure_catalog
from ansible_collections.dgx_station.inference.plugins.module_utils import nvidia_smi
from ansible_collections.dgx_station.inference.plugins.module_utils.model_presets import get_preset
from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import redact
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_exchange import prompt_tokens_details
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_http import SGLangError

HUB_MOUNT = "/root/.cache/huggingface/hub"
ARCH_MAP = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "amd64", "amd64": "amd64"}
GB = 1e9
# server_info keys worth keeping in a report (the rest is hundreds of flags).
SERVER_INFO_KEYS = (
    "version", "model_path", "served_model_name", "attention_backend", "enable_cache_report", "enable_metrics",
    "disable_radix_cache", "context_length", "mem_fraction_static", "page_size", "tp_size", "host", "port",
    "grammar_backend", "max_total_num_tokens", "api_key")
_CUDA_TAG_RE = re.compile(r"cu(\d{2,3})(?![0-9])")
_MODEL_FLAGS = ("--model-path", "--model")


class Station(object):
    """Read-only access to the host the module runs on.

    run_command(argv) -> (rc, stdout, stderr); which(name) -> path or None. Paths of the files read
    are attributes so tests can point them at fixtures.
    """

    def __init__(self, run_command, which, proc_root="/proc", os_release="/etc/os-release",
                 dgx_release="/etc/dgx-release"):
        self._run_command = run_command
        self._which = which
        self.proc_root = proc_root
        self.os_release = os_release
        self.dgx_release = dgx_release

    def run(self, argv):
        try:
            rc, out, err = self._run_command(argv)
        except (OSError, IOError) as exc:
            return 127, "", str(exc)
        return rc, out or "", err or ""

    def which(self, name):
        return self._which(name)

    @staticmethod
    def read(path):
        try:
            with open(path, "r") as handle:
                return handle.read()
        except (IOError, OSError, UnicodeDecodeError):
            return None

    @staticmethod
    def machine():
        return platform.machine()

    @staticmethod
    def free_bytes(path):
        """(free bytes, the existing directory measured) of path or its nearest existing parent."""
        probe = os.path.abspath(path or "/")
        while not os.path.exists(probe) and probe != os.path.dirname(probe):
            probe = os.path.dirname(probe)
        try:
            stat = os.statvfs(probe)
        except OSError:
            return None, probe
        return stat.f_bavail * stat.f_frsize, probe

    @staticmethod
    def tree_bytes(path):
        """Bytes of the regular files under path (symlinks not followed: the hub's snapshots point at blobs)."""
        total = 0
        for root, _dirs, files in os.walk(path):
            for name in files:
                full = os.path.join(root, name)
                try:
                    if not os.path.islink(full):
                        total += os.path.getsize(full)
                except OSError:
                    pass
        return total


def _first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _json(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _gb(value):
    return None if value is None else round(value / GB, 1)


# -- docker -------------------------------------------------------------------------------------

def gather_docker(station, docker_bin=None, daemon_json_path="/etc/docker/daemon.json"):
    """The engine and the NVIDIA runtime: CLI, `docker info`, daemon.json, the toolkit's binaries."""
    cli = docker_bin or station.which("docker")
    result = dict(cli=cli, present=bool(cli), answers=False, error="", server_version=None, runtimes=[],
                  default_runtime=None, root_dir=None)
    daemon_text = station.read(daemon_json_path)
    daemon = _json(daemon_text) if daemon_text is not None else None
    result["daemon_json"] = dict(
        path=daemon_json_path, exists=daemon_text is not None, valid=isinstance(daemon, dict),
        runtimes=sorted((daemon or {}).get("runtimes", {}) or {}) if isinstance(daemon, dict) else [],
        default_runtime=(daemon or {}).get("default-runtime") if isinstance(daemon, dict) else None)
    result["nvidia_container_runtime"] = station.which("nvidia-container-runtime")
    result["nvidia_ctk"] = station.which("nvidia-ctk")
    result["dockerd"] = station.which("dockerd")
    if not cli:
        return result
    rc, out, err = station.run([cli, "info", "--format", "{{json .}}"])
    info = _json(out.strip()) if rc == 0 else None
    if not isinstance(info, dict):
        result["error"] = (err.strip() or out.strip() or "docker info failed (rc %s)" % rc)[:2000]
        return result
    result.update(answers=True, server_version=info.get("ServerVersion"), runtimes=sorted(info.get("Runtimes") or {}),
                  default_runtime=info.get("DefaultRuntime"), root_dir=info.get("DockerRootDir"))
    return result


def _model_of(cmd, labels):
    cmd = list(cmd or [])
    for flag in _MODEL_FLAGS:
        if flag in cmd and cmd.index(flag) + 1 < len(cmd):
            return cmd[cmd.index(flag) + 1]
    for item in cmd:
        for flag in _MODEL_FLAGS:
            if item.startswith(flag + "="):
                return item.split("=", 1)[1]
    return (labels or {}).get("dgx_station.inference.model")


def gather_container(station, docker, name, log_scan_lines=5000):
    """State, exit code, restarts, command, GPUs, capabilities, ports and mounts of the server container."""
    result = dict(name=name, inspected=False, exists=None)
    if not docker.get("answers"):
        return result
    rc, out, err = station.run([docker["cli"], "inspect", "--type", "container", name])
    data = _json(out) if rc == 0 else None
    if not data:
        text = (err or out).strip()
        result.update(inspected=True, exists=False if re.search(r"[Nn]o such (object|container)", text) else None,
                      error=text[:2000])
        return result
    info = data[0]
    state = info.get("State") or {}
    config = info.get("Config") or {}
    host = info.get("HostConfig") or {}
    ports = []
    for binding_list in (host.get("PortBindings") or {}).values():
        for binding in binding_list or []:
            if str(binding.get("HostPort") or "").isdigit():
                ports.append(dict(host_ip=binding.get("HostIp") or "", host_port=int(binding["HostPort"])))
    hub = [m.get("Source") for m in info.get("Mounts") or [] if m.get("Destination") == HUB_MOUNT]
    result.update(
        inspected=True, exists=True, id=info.get("Id", "")[:12], status=state.get("Status"),
        running=bool(state.get("Running")) and not state.get("Restarting"), restarting=bool(state.get("Restarting")),
        exit_code=state.get("ExitCode"), oom_killed=bool(state.get("OOMKilled")), error=state.get("Error") or "",
        started_at=state.get("StartedAt"), finished_at=state.get("FinishedAt"), restart_count=info.get("RestartCount", 0),
        image=config.get("Image"), image_id=info.get("Image"), cmd=config.get("Cmd") or [],
        labels=config.get("Labels") or {}, cap_add=sorted(c.upper().replace("CAP_", "") for c in host.get("CapAdd") or []),
        device_requests=host.get("DeviceRequests") or [], published_ports=ports, network_mode=host.get("NetworkMode"),
        restart_policy=(host.get("RestartPolicy") or {}).get("Name"), hf_cache_mount=hub[0] if hub else None)
    result["model"] = _model_of(result["cmd"], result["labels"])
    rc, out, err = station.run([docker["cli"], "logs", "--tail", str(log_scan_lines), name])
    # docker logs writes the container's stdout and stderr to the matching streams.
    result["log"] = (out + ("\n" if out and err else "") + err) if rc == 0 else ""
    if rc != 0:
        result["log_error"] = (err or out).strip()[:500]
    return result


def gather_image(station, docker, reference, now=None):
    """Tags, architecture and age of the image (the container's, else the configured reference)."""
    result = dict(reference=reference, inspected=False)
    if not docker.get("answers") or not reference:
        return result
    rc, out, err = station.run([docker["cli"], "image", "inspect", reference])
    data = _json(out) if rc == 0 else None
    if not data:
        result.update(inspected=True, exists=False, error=(err or out).strip()[:500])
        return result
    info = data[0]
    created = info.get("Created") or ""
    age_days = None
    match = re.match(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})", created)
    if match:
        when = datetime.datetime.strptime(match.group(1) + " " + match.group(2), "%Y-%m-%d %H:%M:%S")
        now = now or datetime.datetime.utcnow()
        age_days = max(0, (now - when).days)
    result.update(inspected=True, exists=True, id=(info.get("Id") or "")[:19], tags=info.get("RepoTags") or [],
                  digests=info.get("RepoDigests") or [], architecture=info.get("Architecture"), os=info.get("Os"),
                  created=created, age_days=age_days)
    return result


# -- GPUs ---------------------------------------------------------------------------------------

def gather_gpus(station, nvidia_smi_path=None, name_pattern="GB300"):
    """Every GPU (MIG mode and devices included), the driver version, and which GPUs match the pattern."""
    binary = nvidia_smi_path or station.which("nvidia-smi")
    result = dict(nvidia_smi=binary, available=False, gpus=[], driver_version=None, error="", name_pattern=name_pattern)
    if not binary:
        result["error"] = "nvidia-smi: command not found (no NVIDIA driver on PATH)"
        return result
    rc, out, err = station.run([binary] + nvidia_smi.QUERY_ARGS)
    fields = nvidia_smi.QUERY_FIELDS
    if rc == 2 and (nvidia_smi.unknown_query_fields(out) or nvidia_smi.unknown_query_fields(err)):
        rc, out, err = station.run([binary] + nvidia_smi.BASE_QUERY_ARGS)
        fields = nvidia_smi.BASE_FIELDS
    if rc != 0:
        text = "; ".join(x.strip() for x in (out, err) if x and x.strip()) or "(no output)"
        result.update(rc=rc, error="nvidia-smi failed (rc %s: %s): %s" % (
            rc, nvidia_smi.RC_MESSAGES.get(rc, "error"), text[:1000]))
        return result
    try:
        gpus = nvidia_smi.parse_query_gpu(out, fields)
        if nvidia_smi.needs_mig_listing(gpus):
            rc_l, out_l, unused_err = station.run([binary] + nvidia_smi.LIST_ARGS)
            if rc_l == 0:
                nvidia_smi.attach_mig_devices(gpus, nvidia_smi.parse_list_gpus(out_l))
    except ValueError as exc:
        result["error"] = "cannot parse nvidia-smi output: %s" % exc
        return result
    rc, out, unused_err = station.run([binary, "--query-gpu=driver_version", "--format=csv,noheader"])
    result.update(available=True, gpus=gpus, driver_version=_first_line(out) if rc == 0 else None)
    try:
        regex = re.compile(name_pattern)
    except re.error:
        regex = re.compile(re.escape(name_pattern))
    result["matching"] = [g["index"] for g in gpus if regex.search(g.get("name") or "")]
    return result


def _requested_gpus(container):
    """(all: bool, ids: list) the container's device requests ask for."""
    wants_all, ids = False, []
    for request in container.get("device_requests") or []:
        if request.get("Count") == -1 and not request.get("DeviceIDs"):
            wants_all = True
        ids.extend(str(i) for i in request.get("DeviceIDs") or [])
    return wants_all, ids


def _missing_ids(ids, gpus):
    known = set()
    for gpu in gpus:
        known.update((str(gpu.get("index")), gpu.get("uuid")))
        known.update(d["uuid"] for d in gpu.get("mig_devices") or [])
    return [i for i in ids if (str(int(i)) if i.isdigit() else i) not in known]


# -- users, port, cache, python -----------------------------------------------------------------

def gather_users(station, users, group="docker"):
    """Whether each configured user is in the docker group (`id -nG`, so LDAP members count too)."""
    result = dict(group=group, members={}, unknown=[])
    for user in users or []:
        rc, out, unused_err = station.run(["id", "-nG", user])
        if rc != 0:
            result["unknown"].append(user)
            continue
        result["members"][user] = group in out.split()
    return result


def _listening_inodes(proc_root, port):
    inodes = set()
    for table in ("tcp", "tcp6"):
        text = Station.read(os.path.join(proc_root, "net", table)) or ""
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10 or parts[3] != "0A":  # 0A: LISTEN
                continue
            try:
                local_port = int(parts[1].rsplit(":", 1)[1], 16)
            except (IndexError, ValueError):
                continue
            if local_port == port:
                inodes.add(parts[9])
    return inodes


def gather_port(station, port):
    """Who listens on the server's host port: [{pid, process, cmdline}] from /proc (pid None when unreadable)."""
    result = dict(port=port, listening=False, holders=[])
    if not port:
        return result
    inodes = _listening_inodes(station.proc_root, int(port))
    if not inodes:
        return result
    result["listening"] = True
    wanted = set("socket:[%s]" % inode for inode in inodes)
    try:
        pids = [name for name in os.listdir(station.proc_root) if name.isdigit()]
    except OSError:
        pids = []
    for pid in sorted(pids, key=int):
        fd_dir = os.path.join(station.proc_root, pid, "fd")
        try:
            links = set(os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir))
        except OSError:
            continue
        if links & wanted:
            comm = (Station.read(os.path.join(station.proc_root, pid, "comm")) or "").strip()
            cmdline = (Station.read(os.path.join(station.proc_root, pid, "cmdline")) or "").replace("\x00", " ").strip()
            result["holders"].append(dict(pid=int(pid), process=comm, cmdline=redact(cmdline)[:300]))
    if not result["holders"]:
        result["holders"].append(dict(pid=None, process="unknown (the holder's /proc entry is not readable)",
                                      cmdline=""))
    return result


def gather_hf_cache(station, cache_dir, model):
    """Free space under the Hugging Face cache and how much of the model is already there."""
    preset = get_preset(model) if model else None
    download_gb = preset.get("download_gb") if preset else None
    result = dict(path=cache_dir, model=model, download_gb=download_gb, exists=bool(cache_dir and os.path.isdir(cache_dir)))
    if not cache_dir:
        return result
    free, measured = station.free_bytes(cache_dir)
    result.update(free_gb=_gb(free), measured_at=measured)
    if model and not model.startswith("/"):
        repo_dir = os.path.join(cache_dir, "models--" + model.replace("/", "--"))
        snapshots = os.path.join(repo_dir, "snapshots")
        try:
            cached = bool(os.listdir(snapshots))
        except OSError:
            cached = False
        cached_gb = _gb(station.tree_bytes(repo_dir)) if os.path.isdir(repo_dir) else 0.0
        needed = None if download_gb is None else max(0.0, round(download_gb - (cached_gb or 0.0), 1))
        result.update(repo_dir=repo_dir, weights_cached=cached, cached_gb=cached_gb, still_needed_gb=needed)
    return result


def gather_python(station, python="/usr/bin/python3", venv_path=None):
    """The system Python that creates the venv: version, ensurepip (python3-venv) and packaging present."""
    result = dict(path=python, exists=bool(python and os.path.exists(python)))
    if venv_path:
        result["venv_path"] = venv_path
        result["venv_exists"] = os.path.exists(os.path.join(venv_path, "bin", "python"))
    if not result["exists"]:
        return result
    probe = ("import sys\nprint('%d.%d.%d' % sys.version_info[:3])\n"
             "for name in ('ensurepip', 'venv', 'packaging', 'apt'):\n"
             "    try:\n        __import__(name)\n        print(name + ' yes')\n"
             "    except Exception:\n        print(name + ' no')\n")
    rc, out, err = station.run([python, "-c", probe])
    lines = out.split()
    if rc != 0 or not lines:
        result["error"] = (err or out).strip()[:500]
        return result
    flags = dict(zip(lines[1::2], lines[2::2]))
    result.update(version=lines[0], ensurepip=flags.get("ensurepip") == "yes", venv=flags.get("venv") == "yes",
                  packaging=flags.get("packaging") == "yes", apt=flags.get("apt") == "yes")
    return result


def gather_os(station):
    """/etc/os-release (ID, VERSION_ID, PRETTY_NAME), DGX OS' release file, and the CPU architecture."""
    fields = {}
    for line in (station.read(station.os_release) or "").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            fields[key.strip()] = value.strip().strip('"')
    dgx = station.read(station.dgx_release)
    machine = station.machine()
    return dict(id=fields.get("ID"), version_id=fields.get("VERSION_ID"), pretty_name=fields.get("PRETTY_NAME"),
                codename=fields.get("VERSION_CODENAME"), dgx_release=_first_line(dgx) if dgx else None,
                machine=machine, arch=ARCH_MAP.get(machine, machine))


# -- the server ---------------------------------------------------------------------------------

def _answer(source, status, body=None, error=None):
    entry = dict(source=source, status=status)
    if body is not None:
        entry["body"] = body[:2000]
    if error:
        entry["error"] = error
    return entry


PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def gather_server(client, model=None, probe_inference=True):
    """/health, then (when 200) /server_info, /v1/models and, if asked, a one-token chat and a json_schema request."""
    result = dict(base_url=client.base_url, answers=[], health=None, models=[], server_info=None, probes={})
    try:
        status = client.request("GET", "/health", timeout=min(client.timeout, 10.0), expect=None).status
    except SGLangError as exc:
        result["health"] = exc.kind
        result["answers"].append(_answer("GET /health", exc.kind, error=exc.message))
        return result
    result["health"] = status
    result["answers"].append(_answer("GET /health", status))
    if status != 200:
        return result
    for path in ("/server_info", "/v1/models"):
        try:
            response = client.request("GET", path, expect=None)
        except SGLangError as exc:
            result["answers"].append(_answer("GET " + path, exc.kind, error=exc.message))
            continue
        result["answers"].append(_answer("GET " + path, response.status, None if response.status == 200 else response.text))
        body = _json(response.text) if response.status == 200 else None
        if path == "/server_info" and isinstance(body, dict):
            result["server_info"] = dict((k, body.get(k)) for k in SERVER_INFO_KEYS if k in body)
        elif path == "/v1/models" and isinstance(body, dict):
            result["models"] = [card.get("id") for card in body.get("data") or [] if isinstance(card, dict)]
    served = model or (result["models"][0] if result["models"] else None)
    if probe_inference and served:
        base = dict(model=served, messages=[{"role": "user", "content": "Reply with ok."}], max_tokens=8,
                    temperature=0, stream=False)
        requests = (
            ("chat", dict(base, max_tokens=1)),
            ("json_schema", dict(base, response_format=dict(
                type="json_schema", json_schema=dict(name="doctor_probe", schema=PROBE_SCHEMA)))),
        )
        for name, body in requests:
            source = "POST /v1/chat/completions (%s probe)" % name
            try:
                response = client.request("POST", "/v1/chat/completions", body=body, expect=None)
            except SGLangError as exc:
                result["probes"][name] = dict(status=exc.kind, error=exc.message)
                result["answers"].append(_answer(source, exc.kind, error=exc.message))
                continue
            parsed = _json(response.text)
            usage = parsed.get("usage") if isinstance(parsed, dict) else None
            result["probes"][name] = dict(status=response.status, usage_details=prompt_tokens_details(usage) is not None)
            result["answers"].append(_answer(source, response.status, None if response.status == 200 else response.text))
    return result


# -- facts --------------------------------------------------------------------------------------

class Facts(object):
    """host_facts plus where each was read (host_evidence), as failure_catalog.diagnose() takes them."""

    def __init__(self):
        self.facts = {}
        self.evidence = {}

    def set(self, fact, value, line):
        self.facts[fact] = value
        self.evidence.setdefault(fact, [])
        if line not in self.evidence[fact]:
            self.evidence[fact].append(line)


def _gpu_facts(facts, gpus, container=None):
    if not gpus.get("available"):
        facts.set("nvidia_driver_available", False, gpus.get("error") or "nvidia-smi does not answer")
        return
    listing = nvidia_smi.describe_full(gpus["gpus"])
    matching = [g for g in gpus["gpus"] if g["index"] in gpus.get("matching", [])]
    facts.set("nvidia_driver_available", True, "nvidia-smi (driver %s): %s" % (gpus.get("driver_version"), listing))
    facts.set("gpu_count", len(gpus["gpus"]), "nvidia-smi lists %d GPU(s)" % len(gpus["gpus"]))
    facts.set("target_gpu_found", bool(matching), "GPUs matching %r: %s (GPUs seen: %s)" % (
        gpus.get("name_pattern"), nvidia_smi.describe(matching) if matching else "none", listing))
    others = [g for g in gpus["gpus"] if g not in matching]
    facts.set("mixed_gpus", bool(matching and others), "GPUs next to the %s: %s" % (
        gpus.get("name_pattern"), nvidia_smi.describe(others) if others else "none"))
    in_mig = [g for g in matching if g.get("mig_mode") == nvidia_smi.MIG_ENABLED]
    if matching:
        facts.set("gpu_mig_enabled", bool(in_mig), "MIG mode of the %s: %s%s" % (
            gpus.get("name_pattern"), ", ".join("GPU %s %s (pending %s)" % (g["index"], g.get("mig_mode"),
                                                                            g.get("mig_mode_pending")) for g in matching),
            "; MIG devices: %s" % nvidia_smi.describe_mig_devices(in_mig) if in_mig else ""))
    if container and container.get("exists"):
        wants_all, ids = _requested_gpus(container)
        facts.set("gpus_all", wants_all, "container %s requests %s" % (
            container["name"], "--gpus all" if wants_all else ("device=" + ",".join(ids) if ids else "no GPU")))
        missing = _missing_ids(ids, gpus["gpus"])
        facts.set("gpu_device_missing", bool(missing), "container %s asks for device id(s) %s; %s" % (
            container["name"], ", ".join(ids) or "none", ("not a GPU of this Station: %s (GPUs seen: %s)"
                                                          % (", ".join(missing), listing)) if missing else "all exist"))


def _docker_facts(facts, docker, users):
    if docker.get("present"):
        registered = "nvidia" in (docker["runtimes"] if docker.get("answers") else docker["daemon_json"]["runtimes"])
        facts.set("nvidia_runtime_configured", registered, "%s: runtimes %s; nvidia-container-runtime %s" % (
            "docker info" if docker.get("answers") else docker["daemon_json"]["path"],
            ", ".join(docker["runtimes"] if docker.get("answers") else docker["daemon_json"]["runtimes"]) or "none",
            docker.get("nvidia_container_runtime") or "not found"))
    outside = sorted(user for user, member in (users.get("members") or {}).items() if not member)
    if users.get("members"):
        facts.set("docker_socket_access", not outside, "docker group members among %s: %s%s" % (
            ", ".join(sorted(users["members"])), ", ".join(sorted(u for u, m in users["members"].items() if m)) or "none",
            "; not in the group: %s" % ", ".join(outside) if outside else ""))
    if re.search(r"permission denied", docker.get("error") or "", re.IGNORECASE):
        facts.set("docker_socket_access", False, "docker info as this user: %s" % docker["error"][:300])


def _python_facts(facts, python):
    if python.get("exists") and "ensurepip" in python:
        facts.set("python3_venv_available", python["ensurepip"] and python["venv"], "%s %s: ensurepip %s, venv %s" % (
            python["path"], python.get("version"), "present" if python["ensurepip"] else "missing (python3-venv)",
            "present" if python["venv"] else "missing"))


def _server_facts(facts, container, server, log_errors):
    running = container.get("running") if container.get("exists") else None
    if container.get("exists") is not None:
        state = "does not exist"
        if container["exists"]:
            state = "%s, exit code %s, %s restart(s)" % (
                container.get("status"), container.get("exit_code"), container.get("restart_count"))
        facts.set("container_exists", bool(container["exists"]), "container %s: %s" % (container["name"], state))
        if container["exists"]:
            facts.set("container_running", bool(running), "container %s: %s since %s" % (
                container["name"], container.get("status"), container.get("started_at") if running
                else container.get("finished_at")))
            caps = container.get("cap_add") or []
            facts.set("sys_nice", "SYS_NICE" in caps or "ALL" in caps, "container %s adds capabilities: %s" % (
                container["name"], ", ".join(caps) or "none"))
    if not server:
        return
    health = server.get("health")
    serves = health == 200 and bool(server.get("models"))
    probes = server.get("probes") or {}
    if serves and probes.get("chat"):
        serves = probes["chat"].get("status") == 200
    facts.set("station_serves", serves, "%s: /health %s, /v1/models %s%s" % (
        server["base_url"], health, ", ".join(m for m in server.get("models") or [] if m) or "none",
        "; chat probe %s" % probes["chat"].get("status") if probes.get("chat") else ""))
    if running and health != 200 and not log_errors:
        facts.set("booting", True, "%s: /health %s while the container runs and its log shows no error" % (
            server["base_url"], health))
    info = server.get("server_info") or {}
    if "enable_cache_report" in info:
        reported = bool(info["enable_cache_report"])
        if probes.get("chat", {}).get("status") == 200:
            reported = reported and probes["chat"].get("usage_details", True)
        facts.set("cached_tokens_reported", reported, "/server_info enable_cache_report=%s%s" % (
            str(info["enable_cache_report"]).lower(), "; chat usage has prompt_tokens_details"
            if probes.get("chat", {}).get("usage_details") else ""))


def _port_facts(facts, port, container):
    if not port.get("port"):
        return
    holders = port.get("holders") or []
    ours = bool(container.get("running")) and (
        container.get("network_mode") == "host"
        or any(p["host_port"] == port["port"] for p in container.get("published_ports") or []))
    if container.get("exists") is None:
        # The container could not be read (Docker does not answer): Docker's own proxy may be publishing it.
        ours = any(h.get("process") == "docker-proxy" for h in holders)
    described = ", ".join("%s (pid %s)" % (h["process"], h["pid"]) for h in holders) or "nothing"
    facts.set("port_held_by_other", bool(holders) and not ours, "port %s is held by %s%s" % (
        port["port"], described, " (the server container publishes it)" if ours and holders else ""))


def _cache_facts(facts, cache, serving):
    if cache.get("model") and "weights_cached" in cache:
        facts.set("weights_cached", cache["weights_cached"], "%s: %s" % (
            cache["repo_dir"], "%.1f GB cached" % (cache.get("cached_gb") or 0) if cache["weights_cached"]
            else "no snapshot yet (%.1f GB of blobs)" % (cache.get("cached_gb") or 0)))
    needed = cache.get("still_needed_gb")
    if needed is not None and cache.get("free_gb") is not None and not serving:
        facts.set("hf_cache_space_short", cache["free_gb"] < needed, "%.1f GB free under %s; %s still needs about %.1f GB "
                  "(preset download %s GB)" % (cache["free_gb"], cache.get("measured_at"), cache["model"], needed,
                                               cache.get("download_gb")))


def _image_facts(facts, image, host_arch, gpus):
    if not image.get("exists"):
        return
    if image.get("architecture"):
        facts.set("image_arch_mismatch", ARCH_MAP.get(image["architecture"], image["architecture"]) != host_arch,
                  "image %s is %s/%s, the Station is %s" % (image["reference"], image.get("os"), image["architecture"],
                                                            host_arch))
    names = " ".join([image.get("reference") or ""] + list(image.get("tags") or []))
    versions = [int(v) for v in _CUDA_TAG_RE.findall(names)]
    blackwell = any((g.get("compute_cap") or "0").split(".")[0].isdigit() and int(g["compute_cap"].split(".")[0]) >= 10
                    for g in gpus.get("gpus") or [] if g["index"] in gpus.get("matching", []))
    if versions and blackwell:
        oldest = min(v if v >= 100 else v * 10 for v in versions)
        facts.set("image_cuda_below_13", oldest < 130, "image tag %s names CUDA %s.%s on a Blackwell GPU (SM103 needs "
                  "CUDA 13)" % (names.split()[0], oldest // 10, oldest % 10))


def _benchmark_facts(facts, benchmark):
    if not isinstance(benchmark, dict):
        return
    turns = [t for t in benchmark.get("per_turn") or [] if isinstance(t, dict) and t.get("e2e_ms_p50") is not None]
    if len(turns) >= 2:
        first, last = float(turns[0]["e2e_ms_p50"]), float(turns[-1]["e2e_ms_p50"])
        facts.set("later_turn_latency_higher", last > first * 1.1, "benchmark median wall time turn %s: %.0f ms, turn %s: "
                  "%.0f ms" % (turns[0].get("turn", 1), first, turns[-1].get("turn", len(turns)), last))
    summary = benchmark.get("summary") or {}
    if "cache_reported" in summary:
        done = (summary.get("conversations") or {}).get("completed")
        facts.set("cached_tokens_reported", bool(summary["cache_reported"]) or not done,
                  "benchmark: cached prefill reported on %s request(s)" % summary["cache_reported"])


def _gateway_facts(facts, gateway):
    if not isinstance(gateway, dict) or not gateway.get("station_url"):
        return
    url = str(gateway["station_url"]).rstrip("/").lower()
    healthy = [str(u).rstrip("/").lower() for u in gateway.get("healthy_urls") or []]
    unhealthy = [str(u).rstrip("/").lower() for u in gateway.get("unhealthy_urls") or []]
    if url in healthy or url in unhealthy:
        facts.set("gateway_marks_healthy", url in healthy, "gateway %s lists %s as %s" % (
            gateway.get("gateway_url") or "", gateway["station_url"], "healthy" if url in healthy else "NOT healthy"))


# -- the doctor -----------------------------------------------------------------------------------

def doctor(station, params, client=None, now=None):
    """Gather everything, derive the host facts, and return (findings, evidence, log_tail)."""
    docker = gather_docker(station, params.get("docker_bin"), params.get("daemon_json_path") or "/etc/docker/daemon.json")
    container = gather_container(station, docker, params["container_name"], params.get("log_scan_lines", 5000))
    image = gather_image(station, docker, container.get("image_id") or params.get("image"), now=now)
    if container.get("image"):
        image["reference"] = container["image"]
    gpus = gather_gpus(station, params.get("nvidia_smi_path"), params.get("gpu_name_pattern") or "GB300")
    users = gather_users(station, params.get("docker_users") or [])
    host_port = params.get("host_port") or next(
        (p["host_port"] for p in container.get("published_ports") or []), None) or (client.port if client else None)
    port = gather_port(station, host_port)
    model = params.get("model") or container.get("model")
    cache = gather_hf_cache(station, params.get("hf_cache_dir") or container.get("hf_cache_mount"), model)
    python = gather_python(station, params.get("python") or "/usr/bin/python3")
    host = gather_os(station)
    log_text = container.get("log") or ""
    extra_text = "\n".join(x for x in (container.get("error"), docker.get("error") if docker.get("present") else "",
                                       gpus.get("error"), params.get("benchmark_output")) if x)
    log_errors = [r for r in failure_catalog.match(log_text=log_text + "\n" + extra_text) if r["severity"] == "error"]
    server = None
    if client is not None and container.get("exists") is not False and container.get("running") is not False:
        server = gather_server(client, params.get("model"), params.get("probe_inference", True))

    facts = Facts()
    _docker_facts(facts, docker, users)
    if not docker.get("present"):
        facts.set("container_exists", False, "no docker CLI on this host (provision it: playbooks/provision.yml)")
    _gpu_facts(facts, gpus, container)
    _python_facts(facts, python)
    _server_facts(facts, container, server, log_errors)
    _port_facts(facts, port, container)
    _cache_facts(facts, cache, bool(facts.facts.get("station_serves")))
    _image_facts(facts, image, host["arch"], gpus)
    _benchmark_facts(facts, params.get("benchmark_report"))
    _gateway_facts(facts, params.get("gateway"))

    # Error bodies of the server's answers are searched like log text (a CUDA error of the chat probe).
    bodies = "\n".join(a["body"] for a in (server or {}).get("answers", []) if a.get("body"))
    findings = failure_catalog.diagnose(
        log_text="\n".join(x for x in (log_text, extra_text, bodies) if x) or None,
        http=[a for a in (server or {}).get("answers", []) if a["source"] != "GET /health" or facts.facts.get("booting")],
        host_facts=facts.facts, host_evidence=facts.evidence)
    container_view = dict((k, v) for k, v in container.items() if k != "log")
    evidence = dict(host=host, docker=docker, container=container_view, image=image, gpus=gpus, users=users, port=port,
                    hf_cache=cache, python=python, server=server, host_facts=facts.facts, host_evidence=facts.evidence)
    tail = log_text.splitlines()[-params.get("log_lines", 50):] if params.get("log_lines", 50) > 0 else []
    known = [params.get("api_key")]
    return redact(findings, known), redact(evidence, known), redact(tail, known)


# -- the preflight ------------------------------------------------------------------------------

# What provisioning (playbooks/provision.yml) puts right by itself: reported as what it would do.
PROVISIONING_FIXES = ("python3_venv_missing", "toolkit_not_configured", "docker_socket_permission")
SUPPORTED_OS = (("ubuntu", "24.04"), ("debian", "12"))


def preflight(station, params, now=None):
    """Is this host ready for a first deploy? Returns dict(verdict, ready, problems, notes, facts, evidence)."""
    host = gather_os(station)
    docker = gather_docker(station, params.get("docker_bin"), params.get("daemon_json_path") or "/etc/docker/daemon.json")
    gpus = gather_gpus(station, params.get("nvidia_smi_path"), params.get("gpu_name_pattern") or "GB300")
    python = gather_python(station, params.get("python") or "/usr/bin/python3", params.get("venv_path"))
    port = gather_port(station, params.get("host_port") or 30000)
    model = params.get("model") or "Qwen/Qwen3-8B"
    cache = gather_hf_cache(station, params.get("hf_cache_dir"), model)
    container = gather_container(station, docker, params.get("container_name") or "sglang-server", 200)
    image = gather_image(station, docker, params.get("image"), now=now)

    problems, notes = [], []

    def note(text):
        if text not in notes:
            notes.append(text)

    release = (host.get("id"), host.get("version_id"))
    host_line = "%s (%s), %s" % (host.get("pretty_name") or "unknown OS", host.get("dgx_release") or "no DGX OS release file",
                                 host.get("machine"))
    if release not in SUPPORTED_OS:
        problems.append(dict(id="unsupported_os", severity="warning", evidence=[host_line],
                             cause="The collection is written for DGX OS 7 (Ubuntu 24.04) and tested on Debian 12.",
                             fix="Run it on a DGX Station with DGX OS 7, or accept that roles may not fit this OS."))
    if host.get("arch") != "arm64":
        note("Architecture %s (%s): a DGX Station's Grace CPU is arm64; images and packages will be pulled for "
             "linux/%s." % (host.get("machine"), host.get("arch"), host.get("arch")))

    facts = Facts()
    _gpu_facts(facts, gpus)
    _python_facts(facts, python)
    _docker_facts(facts, docker, dict(members={}))
    _port_facts(facts, port, container if container.get("exists") else {})
    _cache_facts(facts, cache, serving=False)
    if image.get("exists"):
        _image_facts(facts, image, host["arch"], gpus)
    findings = failure_catalog.diagnose(log_text=gpus.get("error") or None, host_facts=facts.facts,
                                        host_evidence=facts.evidence)
    for finding in findings:
        if finding["id"] == "toolkit_not_configured" and not docker.get("nvidia_ctk"):
            continue  # the toolkit's own note below says what provisioning installs
        if finding["id"] in PROVISIONING_FIXES:
            note("[%s] %s: provisioning fixes it (%s)" % (finding["id"], "; ".join(finding["evidence"]), finding["fix"]))
        elif finding["severity"] in ("error", "warning"):
            problems.append(dict((k, finding[k]) for k in ("id", "severity", "evidence", "cause", "fix")))

    would = params.get("provisioning") or {}
    if not docker.get("present") and not docker.get("dockerd"):
        source = would.get("docker_source") or "distribution"
        note("No Docker engine: provisioning (roles/docker) would install %s from %s." % (
            ", ".join(would.get("docker_packages") or ["docker.io"]),
            {"distribution": "the distribution's archive", "docker_repo": "Docker's apt repository"}.get(source, source)))
    elif not docker.get("answers"):
        note("Docker is installed but does not answer (%s): provisioning starts and enables the service." % (
            docker.get("error") or "no answer")[:200])
    if not docker.get("nvidia_ctk"):
        note("No NVIDIA Container Toolkit (nvidia-ctk): provisioning (roles/container_toolkit) would install %s from "
             "NVIDIA's apt repository and register the nvidia runtime with Docker." % ", ".join(
                 would.get("toolkit_packages") or ["nvidia-container-toolkit"]))
    if python.get("exists") and not python.get("packaging", True):
        note("%s lacks the packaging module: provisioning (roles/python_venv) installs python3-packaging." % python["path"])
    if python.get("exists") and python.get("apt") is False:
        problems.append(dict(
            id="python3_apt_missing", severity="error",
            evidence=["%s %s cannot import apt (python3-apt is not installed)" % (python["path"], python.get("version"))],
            cause="Provisioning cannot install a package: ansible.builtin.apt runs (or, in check mode, simulates) an "
                  "install only with python3-apt in the Station's interpreter, and installs python3-apt by itself only "
                  "when an apt archive is in reach (the roles read what is installed with dpkg-query, without it).",
            fix="Install python3-apt (apt install python3-apt, or from a local mirror) before playbooks/provision.yml."))
    if not python.get("exists"):
        problems.append(dict(id="python_missing", severity="error", evidence=["%s does not exist" % python["path"]],
                             cause="Ansible's modules and the venv need Python 3 on the Station.",
                             fix="Install python3 (DGX OS ships it) or set python_venv_python."))
    elif python.get("venv_exists"):
        note("The collection's venv already exists at %s." % python["venv_path"])
    else:
        note("Provisioning (roles/python_venv) would create %s with %s." % (
            python.get("venv_path") or "the venv", ", ".join(would.get("venv_packages") or ["requests", "docker", "jsonschema"])))
    if image.get("exists") is False and docker.get("answers"):
        free, measured = station.free_bytes(docker.get("root_dir") or "/var/lib/docker")
        need = float(params.get("image_space_gb") or 40)
        if free is not None and free / GB < need:
            problems.append(dict(id="hf_cache_disk_full", severity="error",
                                 evidence=["%.1f GB free under %s (Docker's data root); the image needs about %.0f GB"
                                           % (free / GB, measured, need)],
                                 cause="Not enough disk for the SGLang image.",
                                 fix=failure_catalog.CATALOG["hf_cache_disk_full"]["fix"]))
    if container.get("exists") and container.get("running"):
        note("An SGLang container %s already runs here (%s): this is not a first deploy; use playbooks/diagnose.yml."
             % (container["name"], container.get("image")))

    errors = [p for p in problems if p["severity"] == "error"]
    if errors:
        verdict = "NOT READY"
    elif any(n for n in notes if "would" in n or "provisioning fixes" in n or "starts and enables" in n):
        verdict = "READY AFTER PROVISIONING"
    else:
        verdict = "READY"
    evidence = dict(host=host, docker=docker, gpus=gpus, python=python, port=port, hf_cache=cache, image=image,
                    container=dict((k, v) for k, v in container.items() if k != "log"),
                    host_facts=facts.facts, host_evidence=facts.evidence)
    lines = ["%s [%s]: %s Fix: %s" % (p["severity"], p["id"], "; ".join(p["evidence"]), p["fix"]) for p in problems]
    lines += ["note: " + n for n in notes]
    return dict(verdict=verdict, ready=not errors, problems=problems, notes=notes, lines=lines, evidence=redact(evidence))


def summary_lines(station_name, findings):
    """One readable line per finding (the playbook prints them), or one saying the Station is healthy."""
    if not findings:
        return ["%s: healthy, no finding" % station_name]
    return ["%s: %s" % (station_name, failure_catalog.one_line(f)) for f in findings]
