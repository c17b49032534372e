# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The failure catalog: every known way an SGLang deployment on a DGX Station goes wrong.

One row per line of the known-failures tables of NVIDIA's runbook (both troubleshooting
tables), plus the states the doctor (sglang_diagnose), the preflight and the fleet find on a
Station, each with a stable id that playbooks, reports, the readiness wait, rollouts and the
doctor key on. Pure data plus small functions; no third-party imports.

Schema of a row (a dict in CATALOG, keyed and ordered by id):

  id          stable identifier (never renamed; add new rows instead)
  title       one line for humans
  severity    error   - the server does not start or does not work
              warning - the server works but something is misconfigured
              info    - expected behaviour that looks like a problem
  stage       where in the life of a deployment it shows: host, image, start, boot,
              inference, benchmark, fleet
  where       where an operator (or the doctor) looks to see it
  symptom     what is seen, in words
  cause       why it happens
  fix         what to do (the collection's option where there is one)
  detect      how to recognise it automatically; any one of these is enough:
                log        list of regular expressions searched (re.search, MULTILINE) in a
                           container log, a docker error message or a command's output
                http       list of {status: int|str, body: regex or None}; status is an HTTP
                           status or a client error kind such as "connection_refused"
                host       list of conditions that must ALL hold on host_facts:
                           {fact: name, equals: value} or {fact: name, gt: number}
  confidence  optional {log|http|host: high|medium|low}: how sure a match of that kind is
              (default: log and host high, http medium); diagnose() orders by it
  supersedes  ids this row hides when both match (a more specific explanation of the same
              text, e.g. a graph-capture OOM also says "CUDA out of memory")
  fallback    true for a generic row (the container exited, no container at all) that is
              left out when any other error-severity row explains the same Station
  example     a minimal symptom (keyword arguments of match()) that the unit tests use:
              every row must match its own example and no other row's

host_facts keys a caller may provide (all optional; the doctor, sglang_diagnose, fills them from
what it reads on the Station):
  docker_socket_access (bool, the configured users can use the Docker socket),
  nvidia_runtime_configured (bool, Docker lists the nvidia runtime),
  python3_venv_available (bool, `python3 -m venv` can create a venv with pip),
  gpus_all (bool, the container gets --gpus all), gpu_count (int),
  mixed_gpus (bool, GB300 next to a non-GB300 GPU),
  gpu_device_missing (bool, a device id the container asks for is not a GPU of the Station),
  gpu_mig_enabled (bool, the GB300 is in MIG mode), nvidia_driver_available (bool, nvidia-smi answers),
  target_gpu_found (bool, a GPU matches the name pattern),
  cached_tokens_reported (bool, usage.prompt_tokens_details present / enable_cache_report),
  later_turn_latency_higher (bool), sys_nice (bool, the container has CAP_SYS_NICE),
  container_exists (bool), container_running (bool, running and not restarting),
  booting (bool, running, not answering yet, and no error in its log),
  weights_cached (bool, the model is in the Hugging Face cache),
  hf_cache_space_short (bool, less free space under the cache than the model still needs),
  port_held_by_other (bool, the server's host port is held by something that is not the server),
  image_arch_mismatch (bool, the image is built for another architecture than the Station's),
  image_cuda_below_13 (bool, the image tag names a CUDA older than 13 and the GPU is Blackwell),
  station_serves (bool, /health 200 and the model listed),
  gateway_marks_healthy (bool, the gateway lists the Station as a healthy worker).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SEVERITIES = ("error", "warning", "info")
STAGES = ("host", "image", "start", "boot", "inference", "benchmark", "fleet")
CONFIDENCES = ("high", "medium", "low")

_ROWS = [
    dict(
        id="docker_socket_permission",
        title="No permission on the Docker socket",
        severity="error", stage="host",
        where="output of any docker command run as the deploying user",
        symptom="`permission denied` while trying to connect to the Docker daemon socket",
        cause="The user is not in the `docker` group (or the session predates the membership).",
        fix="Add the user to the `docker` group (roles/docker does) and open a new login; in a play, "
            "run `meta: reset_connection` after the change.",
        detect=dict(
            log=[r"permission denied while trying to connect to the Docker daemon socket",
                 r"dial unix /var/run/docker\.sock: connect: permission denied"],
            host=[dict(fact="docker_socket_access", equals=False)]),
        example=dict(log_text="Got permission denied while trying to connect to the Docker daemon socket at "
                              "unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/info\"")),
    dict(
        id="toolkit_not_configured",
        title="NVIDIA Container Toolkit not configured for Docker",
        severity="error", stage="start",
        where="the docker_container task error / `docker run` output",
        symptom="The container fails to start with a GPU error",
        cause="The NVIDIA Container Toolkit is missing or not registered as a Docker runtime.",
        fix="Run `nvidia-ctk runtime configure --runtime=docker` and restart Docker (roles/container_toolkit does).",
        detect=dict(
            log=[r"could not select device driver \"[^\"]*\" with capabilities: \[\[gpu\]\]",
                 r"unknown or invalid runtime name: nvidia",
                 r"nvidia-container-cli: initialization error"],
            host=[dict(fact="nvidia_runtime_configured", equals=False)]),
        example=dict(log_text="Error response from daemon: could not select device driver \"\" with "
                              "capabilities: [[gpu]]")),
    dict(
        id="gpu_index_out_of_range",
        title="GPU index does not exist",
        severity="error", stage="boot",
        where="docker logs <container>",
        symptom="`device >= 0 && device < num_gpus INTERNAL ASSERT FAILED`",
        cause="The `device=N` index passed to the container does not exist on this Station.",
        fix="Re-read `nvidia-smi --query-gpu=index,name --format=csv,noheader` and use the GB300 row "
            "(the role picks it by name with dgx_station.inference.gpu_info, and checks explicit "
            "sglang_server_gpu_device_ids against the GPUs the Station has; prefer UUIDs to indexes).",
        detect=dict(log=[r"device >= 0 && device < num_gpus INTERNAL ASSERT FAILED"],
                    host=[dict(fact="gpu_device_missing", equals=True)]),
        example=dict(log_text="RuntimeError: device >= 0 && device < num_gpus INTERNAL ASSERT FAILED at "
                              "\"/pytorch/c10/cuda/CUDAFunctions.cpp\":119")),
    dict(
        id="trtllm_mha_sm103",
        title="trtllm_mha attention backend fails on SM103",
        severity="error", stage="boot",
        where="docker logs <container> (during CUDA-graph capture)",
        symptom="`buildNdTmaDescriptor` ... `Check failed` during CUDA-graph capture",
        cause="The auto-selected `trtllm_mha` attention backend is incompatible with Blackwell SM103 (GB300).",
        fix="Pass `--attention-backend flashinfer` (sglang_server_attention_backend: flashinfer, the default).",
        detect=dict(log=[r"buildNdTmaDescriptor"]),
        supersedes=["cuda_graph_capture_oom"],
        example=dict(log_text="RuntimeError: [TensorRT-LLM][ERROR] buildNdTmaDescriptor: Check failed: false")),
    dict(
        id="fa3_on_blackwell",
        title="FlashAttention v3 backend on Blackwell",
        severity="error", stage="boot",
        where="docker logs <container>",
        symptom="`FlashAttention v3 Backend requires SM>=80 and SM<=90`",
        cause="`--attention-backend fa3` was selected on Blackwell (SM103).",
        fix="Use `--attention-backend flashinfer` (sglang_server_attention_backend: flashinfer).",
        detect=dict(log=[r"FlashAttention v3 Backend requires SM>=80 and SM<=90"]),
        example=dict(log_text="AssertionError: FlashAttention v3 Backend requires SM>=80 and SM<=90. "
                              "Please use `--attention-backend flashinfer`.")),
    dict(
        id="numa_affinity_sys_nice",
        title="SYS_NICE capability dropped",
        severity="warning", stage="boot",
        where="docker logs <container> (every launch)",
        symptom="`User lacks permission to set NUMA affinity`",
        cause="Docker dropped the SYS_NICE capability, so SGLang cannot pin memory to the NUMA node.",
        fix="Add `--cap-add SYS_NICE` (sglang_server_capabilities contains SYS_NICE by default).",
        detect=dict(log=[r"User lacks permission to set NUMA affinity"],
                    host=[dict(fact="sys_nice", equals=False)]),
        example=dict(log_text="WARNING: User lacks permission to set NUMA affinity, skipping NUMA node "
                              "configuration for GPU. If using docker, try adding --cap-add SYS_NICE")),
    dict(
        id="python3_venv_missing",
        title="python3-venv missing on Ubuntu 24.04",
        severity="error", stage="host",
        where="output of `python3 -m venv`",
        symptom="`python3 -m venv` fails with an `apt install python3.12-venv` hint",
        cause="Ubuntu 24.04 (DGX OS 7) ships without python3-venv.",
        fix="Install `python3-venv` (roles/python_venv does); never pip-install into the system Python.",
        detect=dict(log=[r"apt install python3(\.\d+)?-venv", r"ensurepip is not available"],
                    host=[dict(fact="python3_venv_available", equals=False)]),
        example=dict(log_text="The virtual environment was not created successfully because ensurepip is "
                              "not available.  On Debian/Ubuntu systems, you need to install the "
                              "python3-venv package using the following command.\n\n    apt install python3.12-venv")),
    dict(
        id="hf_token_missing",
        title="Gated model without a Hugging Face token",
        severity="error", stage="boot",
        where="docker logs <container> (model download)",
        symptom="`Token is required` or HTTP 401 from the Hugging Face hub",
        cause="The model is gated and no (valid) Hugging Face token reached the container, or the "
              "licence was not accepted on the model card.",
        fix="Set sglang_server_hf_token (Vault) so the role installs it as the token file, and accept the "
            "licence on huggingface.co.",
        detect=dict(log=[r"Token is required", r"GatedRepoError", r"Cannot access gated repo",
                         r"401 Client Error"]),
        example=dict(log_text="huggingface_hub.errors.GatedRepoError: 401 Client Error. Cannot access gated "
                              "repo for url https://huggingface.co/meta-llama/Llama-3.3-70B-Instruct. "
                              "Token is required (`token=True`), but no token found.")),
    dict(
        id="oom_at_start",
        title="Out of memory at start",
        severity="error", stage="boot",
        where="docker logs <container>",
        symptom="`Not enough memory. Please try to increase --mem-fraction-static` or a CUDA OOM at start",
        cause="The model is too large for the memory settings.",
        fix="Lower sglang_server_mem_fraction_static (e.g. 0.7) or sglang_server_context_length; check "
            "GPU memory with nvidia-smi.",
        detect=dict(log=[r"Not enough memory\. Please try to increase --mem-fraction-static",
                         r"CUDA out of memory", r"torch\.OutOfMemoryError"]),
        example=dict(log_text="RuntimeError: Not enough memory. Please try to increase "
                              "--mem-fraction-static. Current value: mem_fraction_static=0.85")),
    dict(
        id="json_schema_unsupported",
        title="json_schema response_format rejected",
        severity="error", stage="inference",
        where="HTTP answer of /v1/chat/completions with response_format json_schema",
        symptom="A `json_schema` response_format request is rejected",
        cause="The SGLang image is too old to support json_schema structured output.",
        fix="Use the lmsysorg/sglang:latest-cu130 image (pinned by digest).",
        detect=dict(http=[dict(status=400, body=r"json_schema")],
                    log=[r"response_format.{0,80}json_schema.{0,80}(not supported|unsupported)",
                         r"Input should be 'text' or 'json_object'"]),
        example=dict(http_status=400, http_body="{\"object\":\"error\",\"message\":\"1 validation error: "
                                                "response_format.type: Input should be 'text' or "
                                                "'json_object' [input_value='json_schema']\"}")),
    dict(
        id="cuda_wrong_image",
        title="Wrong CUDA image for Blackwell",
        severity="error", stage="inference",
        where="docker logs <container> / 500 answers at inference",
        symptom="The server starts but CUDA errors appear at inference",
        cause="The image's CUDA is too old for Blackwell SM103 (CUDA 13 is required).",
        fix="Use a cu130 image (lmsysorg/sglang:latest-cu130, pinned by digest).",
        detect=dict(log=[r"no kernel image is available for execution on the device",
                         r"CUDA error: invalid device function",
                         r"sm_103 is not compatible with the current PyTorch installation"],
                    host=[dict(fact="image_cuda_below_13", equals=True)]),
        confidence=dict(host="medium"),
        example=dict(log_text="torch.AcceleratorError: CUDA error: no kernel image is available for "
                              "execution on the device")),
    dict(
        id="still_booting",
        title="Server still booting",
        severity="info", stage="boot",
        where="HTTP on the server port; docker logs <container>",
        symptom="Connection refused on port 30000 (or /health 503) while the server starts",
        cause="The server is still downloading, loading weights or capturing CUDA graphs.",
        fix="Wait for `The server is fired up and ready to roll!`; not an error before the timeout "
            "(sglang_server_ready_timeout, from the model preset). Past the timeout, raise it for this model "
            "or look at the boot phase reached.",
        detect=dict(http=[dict(status="connection_refused", body=None), dict(status=503, body=None)],
                    host=[dict(fact="booting", equals=True)]),
        example=dict(http_status="connection_refused")),
    dict(
        id="cache_report_missing",
        title="Cached prefill not reported",
        severity="warning", stage="benchmark",
        where="benchmark output; usage.prompt_tokens_details of chat answers",
        symptom="Cached prefill shows `n/a` in the benchmark",
        cause="The server runs without `--enable-cache-report`, so usage.prompt_tokens_details.cached_tokens "
              "is not filled.",
        fix="Add `--enable-cache-report` (sglang_server_enable_cache_report: true, the default).",
        detect=dict(host=[dict(fact="cached_tokens_reported", equals=False)]),
        example=dict(host_facts=dict(cached_tokens_reported=False))),
    dict(
        id="later_turn_latency",
        title="Later turns are slower",
        severity="info", stage="benchmark",
        where="benchmark per-turn wall times",
        symptom="Higher latency on later turns of a multi-turn benchmark",
        cause="Longer transcripts and parallel load; expected, and not a sign of a broken prefix cache.",
        fix="Expected; check `#cached-token` in docker logs or cached_tokens in usage instead of wall time "
            "(optionally rerun with one conversation).",
        detect=dict(host=[dict(fact="later_turn_latency_higher", equals=True)]),
        example=dict(host_facts=dict(later_turn_latency_higher=True))),
    dict(
        id="cuda_graph_capture_oom",
        title="CUDA-graph capture out of memory",
        severity="error", stage="boot",
        where="docker logs <container>",
        symptom="`Capture cuda graph failed` followed by `Possible solutions`",
        cause="CUDA-graph capture ran out of GPU memory.",
        fix="Lower sglang_server_mem_fraction_static (e.g. 0.8 or 0.7) or the CUDA-graph max batch size "
            "(sglang_server_extra_args: ['--cuda-graph-max-bs-decode', '16']).",
        detect=dict(log=[r"Capture cuda graph failed"]),
        supersedes=["oom_at_start"],
        example=dict(log_text="Exception: Capture cuda graph failed: CUDA out of memory. Tried to allocate "
                              "2.00 GiB\nPossible solutions:\n1. set --mem-fraction-static to a smaller value "
                              "(e.g., 0.8 or 0.7)")),
    dict(
        id="gpus_all_mixed",
        title="--gpus all on a two-GPU Station",
        severity="error", stage="start",
        where="the container's GPU request and nvidia-smi on the Station",
        symptom="CUDA crashes with `--gpus all` on a Station that also has an RTX PRO GPU",
        cause="The GB300 (ATS, coherent) and the RTX PRO (non-ATS) cannot share one CUDA context.",
        fix="Give the container only the GB300: `device=N` or its UUID (the role does unless "
            "sglang_server_gpu_use_all_gpus is forced).",
        detect=dict(host=[dict(fact="gpus_all", equals=True), dict(fact="mixed_gpus", equals=True)]),
        example=dict(host_facts=dict(gpus_all=True, mixed_gpus=True, gpu_count=2))),
    dict(
        id="port_in_use",
        title="Server port already in use",
        severity="error", stage="start",
        where="the docker_container task error / docker logs <container>",
        symptom="Port already in use (`address already in use`, `port is already allocated`, Errno 98)",
        cause="Another process or container already listens on the host port.",
        fix="Stop the other process, or publish another host port (sglang_server_host_port).",
        detect=dict(log=[r"\[Errno 98\]", r"[Aa]ddress already in use", r"port is already allocated"],
                    host=[dict(fact="port_held_by_other", equals=True)]),
        example=dict(log_text="ERROR:    [Errno 98] error while attempting to bind on address "
                              "('0.0.0.0', 30000): address already in use")),
    dict(
        id="deepseek_v4_load_failure",
        title="DeepSeek-V4 fails to load",
        severity="error", stage="boot",
        where="docker logs <container>",
        symptom="deepseek-ai/DeepSeek-V4-* fails to load",
        cause="The model is not supported by this SGLang build, or there is not enough GPU memory.",
        fix="Check SGLang's model support; try DeepSeek-V4-Flash before Pro; lower "
            "sglang_server_mem_fraction_static and sglang_server_context_length.",
        detect=dict(log=[r"DeepseekV4\w*(ForCausalLM)?\W.{0,120}(not supported|unsupported|failed|error)",
                         r"[Mm]odel architectures? \[?'?DeepseekV4",
                         r"DeepSeek-V4.{0,200}(not supported|unsupported|[Ff]ailed to load)"]),
        example=dict(log_text="ValueError: Model architectures ['DeepseekV4ForCausalLM'] are not supported "
                              "for now.")),
    dict(
        id="slow_first_start",
        title="First start still downloading and compiling",
        severity="info", stage="boot",
        where="docker logs <container>; the model's directory in the Hugging Face cache",
        symptom="Slow first request after the server start: nothing answers for many minutes",
        cause="The first launch downloads the weights, JIT-compiles kernels and captures CUDA graphs: 10-15 min for "
              "Qwen/Qwen3-8B, 30-45 min for Qwen/Qwen3.6-35B-A3B.",
        fix="Wait for `The server is fired up and ready to roll!` (sglang_server_ready_timeout comes from the model "
            "preset); later starts reuse the cached weights. Pre-stage the weights to shorten a replacement.",
        detect=dict(host=[dict(fact="booting", equals=True), dict(fact="weights_cached", equals=False)]),
        confidence=dict(host="medium"),
        supersedes=["still_booting"],
        example=dict(host_facts=dict(booting=True, weights_cached=False))),
    dict(
        id="benchmark_output_flooded",
        title="/server_info floods the benchmark's cache highlights",
        severity="info", stage="benchmark",
        where="terminal output of the runbook's benchmark_multiturn.py",
        symptom="The benchmark's cache highlights print the whole one-line /server_info JSON",
        cause="An older benchmark_multiturn.py printed every line containing `cache`, including the /server_info body.",
        fix="Use the benchmark_multiturn.py shipped with the runbook (it skips JSON blobs and long lines), or this "
            "collection's sglang_benchmark role; the full body belongs in the detail file.",
        detect=dict(log=[r"^\s*\{\"[^\n]{150,}\"(?:disable_radix_cache|enable_cache_report)\":"]),
        example=dict(log_text="Cache highlights:\n  {\"model_path\": \"Qwen/Qwen3-8B\", \"tokenizer_path\": "
                              "\"Qwen/Qwen3-8B\", \"tokenizer_mode\": \"auto\", \"context_length\": 8192, \"host\": "
                              "\"0.0.0.0\", \"port\": 30000, \"mem_fraction_static\": 0.85, \"page_size\": 1, "
                              "\"disable_radix_cache\": false, \"enable_cache_report\": true}")),
    dict(
        id="gateway_worker_unhealthy",
        title="Healthy Station, unhealthy behind the gateway",
        severity="error", stage="fleet",
        where="the gateway's worker list (GET /workers) next to the Station's own checks",
        symptom="The Station passes its own checks, but the gateway does not mark it healthy within its "
                "health-check window",
        cause="The gateway cannot reach the Station at the URL it was given (wrong address, the port published on "
              "loopback only, a firewall in between), or the keys differ (the key the Station's server was started with is "
              "not the key the gateway sends).",
        fix="Check sglang_gateway_station_url (else the Station's ansible_host and sglang_server_host_port) from the "
            "gateway host, the Station's published address (sglang_server_host_address) and firewall, and that "
            "sglang_server_api_key matches sglang_gateway_api_key.",
        detect=dict(host=[dict(fact="station_serves", equals=True), dict(fact="gateway_marks_healthy", equals=False)]),
        example=dict(host_facts=dict(station_serves=True, gateway_marks_healthy=False))),
    dict(
        id="container_exited",
        title="Server container exited",
        severity="error", stage="boot",
        where="docker inspect / docker logs <container>",
        symptom="The server container is not running (exited, dead or restarting in a loop)",
        cause="SGLang stopped with an error that is not a known failure of this catalog (read the log tail), or "
              "someone stopped the container.",
        fix="Read `docker logs <container>` for the first error; fix it and deploy again (playbooks/deploy.yml).",
        detect=dict(host=[dict(fact="container_exists", equals=True), dict(fact="container_running", equals=False)]),
        fallback=True,
        example=dict(host_facts=dict(container_exists=True, container_running=False))),
    dict(
        id="server_not_deployed",
        title="No SGLang server container",
        severity="error", stage="start",
        where="docker inspect <container>",
        symptom="The Station has no server container of the configured name",
        cause="SGLang was never deployed here, was removed (cleanup), or runs under another name "
              "(sglang_server_name).",
        fix="Deploy it (playbooks/deploy.yml, or site.yml), or point the doctor at the right container "
            "(sglang_server_name).",
        detect=dict(host=[dict(fact="container_exists", equals=False)]),
        fallback=True,
        example=dict(host_facts=dict(container_exists=False))),
    dict(
        id="gpu_mig_enabled",
        title="GB300 in MIG mode",
        severity="error", stage="start",
        where="nvidia-smi --query-gpu=index,name,mig.mode.current,mig.mode.pending",
        symptom="The GB300 is in MIG mode (or MIG is pending for the next reset)",
        cause="With MIG on, CUDA only sees MIG devices; SGLang needs the whole GPU.",
        fix="As root with nothing running on it: destroy its MIG instances (`nvidia-smi mig -i N -dci`, "
            "`nvidia-smi mig -i N -dgi`), `nvidia-smi -i N -mig 0`, then reset the GPU or reboot; or list MIG "
            "devices in sglang_server_gpu_device_ids on purpose.",
        detect=dict(host=[dict(fact="gpu_mig_enabled", equals=True)]),
        example=dict(host_facts=dict(gpu_mig_enabled=True))),
    dict(
        id="gpu_not_found",
        title="No GPU matches the GB300's name",
        severity="error", stage="host",
        where="nvidia-smi --query-gpu=index,name --format=csv,noheader",
        symptom="nvidia-smi lists GPUs, but none whose name matches sglang_server_gpu_name_pattern (GB300)",
        cause="The host is not a DGX Station (another GPU model), or the name pattern does not fit this Station.",
        fix="Run on a Station with a GB300, or set sglang_server_gpu_name_pattern (or sglang_server_gpu_device_ids) "
            "to the GPU SGLang should get; the role never picks a GPU by position.",
        detect=dict(host=[dict(fact="target_gpu_found", equals=False)]),
        example=dict(host_facts=dict(target_gpu_found=False))),
    dict(
        id="gpu_driver_missing",
        title="NVIDIA driver not usable",
        severity="error", stage="host",
        where="output of nvidia-smi",
        symptom="nvidia-smi is missing or cannot talk to the driver",
        cause="The NVIDIA driver is not installed or not loaded (DGX OS ships it; a kernel update without the "
              "matching module, or a host that is not a Station).",
        fix="Install or reload the NVIDIA driver (DGX OS: reinstall the DGX driver packages and reboot) until "
            "`nvidia-smi` lists the GB300.",
        detect=dict(log=[r"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver",
                         r"nvidia-smi: (command )?not found"],
                    host=[dict(fact="nvidia_driver_available", equals=False)]),
        example=dict(log_text="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make "
                              "sure that the latest NVIDIA driver is installed and running.")),
    dict(
        id="hf_cache_disk_full",
        title="Not enough disk for the model weights",
        severity="error", stage="boot",
        where="df on the Hugging Face cache directory; docker logs <container> (download)",
        symptom="The weight download fails with `No space left on device`, or the cache's disk has less free space "
                "than the model still needs",
        cause="The file system of the Hugging Face cache (sglang_server_hf_cache_dir) is too small for the model's "
              "weights.",
        fix="Free space on the Station (old models under the cache, `docker image prune`), or put the cache on a "
            "larger disk (sglang_server_hf_cache_dir).",
        detect=dict(log=[r"No space left on device"],
                    host=[dict(fact="hf_cache_space_short", equals=True)]),
        confidence=dict(host="medium"),
        example=dict(log_text="OSError: [Errno 28] No space left on device: '/root/.cache/huggingface/hub/"
                              "models--Qwen--Qwen3-8B/blobs/9f1c.incomplete'")),
    dict(
        id="image_arch_mismatch",
        title="Image built for another architecture",
        severity="error", stage="image",
        where="docker image inspect <image> (Architecture) next to uname -m; docker logs <container>",
        symptom="`exec format error` when the container starts, or the image's architecture is not the Station's",
        cause="The image was pulled or loaded for another platform (amd64 on the arm64 Grace host).",
        fix="Pull the arm64 image (sglang_server_image_platform: linux/arm64, the default on a Station) or save the "
            "archive on an arm64 host.",
        detect=dict(log=[r"exec format error"],
                    host=[dict(fact="image_arch_mismatch", equals=True)]),
        example=dict(log_text="exec /usr/bin/sglang: exec format error")),
]

CATALOG = dict((row["id"], row) for row in _ROWS)
IDS = tuple(row["id"] for row in _ROWS)

_SEVERITY_ORDER = dict((name, index) for index, name in enumerate(SEVERITIES))
_CONFIDENCE_SCORE = dict(high=3, medium=2, low=1)
_DEFAULT_CONFIDENCE = dict(log="high", host="high", http="medium")
_ROW_ORDER = dict((row_id, index) for index, row_id in enumerate(IDS))
_COMPILED = dict(
    (row["id"], [re.compile(pattern, re.MULTILINE) for pattern in row["detect"].get("log", [])])
    for row in _ROWS)


def _host_matches(conditions, host_facts):
    if not conditions or not host_facts:
        return False
    for condition in conditions:
        fact = condition["fact"]
        if fact not in host_facts:
            return False
        value = host_facts[fact]
        if "equals" in condition and value != condition["equals"]:
            return False
        if "gt" in condition:
            try:
                if not value > condition["gt"]:
                    return False
            except TypeError:
                return False
    return True


def _http_matches(rules, http_status, http_body):
    if http_status is None:
        return False
    for rule in rules:
        if rule["status"] != http_status:
            continue
        if rule.get("body") is None or (http_body is not None and re.search(rule["body"], http_body)):
            return True
    return False


def _log_evidence(row_id, log_text):
    """The log lines that matched a row's patterns (for reports), or an empty list."""
    if not log_text:
        return []
    lines = []
    for pattern in _COMPILED[row_id]:
        for found in pattern.finditer(log_text):
            start = log_text.rfind("\n", 0, found.start()) + 1
            end = log_text.find("\n", found.end())
            line = log_text[start:end if end >= 0 else len(log_text)].strip()
            if len(line) > 500:
                line = line[:497] + "..."
            if line and line not in lines:
                lines.append(line)
    return lines


def entry(row_id):
    """A copy of one row (without the detection internals' compiled form)."""
    row = CATALOG[row_id]
    return dict((key, value) for key, value in row.items() if key != "example")


def _as_lines(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value if item not in (None, "")]
    return [str(value)] if value != "" else []


def _prune(found):
    """Drop rows superseded by another match, and fallback rows when another error explains the Station."""
    hidden = set()
    for result in found:
        hidden.update(CATALOG[result["id"]].get("supersedes", []))
    found = [result for result in found if result["id"] not in hidden]
    specific_error = any(r["severity"] == "error" and not CATALOG[r["id"]].get("fallback") for r in found)
    return [result for result in found if not (CATALOG[result["id"]].get("fallback") and specific_error)]


def diagnose(log_text=None, http=None, host_facts=None, host_evidence=None):
    """Every row the symptoms explain, with its evidence and a confidence, most confident first.

    log_text: container log, docker error message or command output (str).
    http: list of answers, each {status: int or error kind, body: str or None, source: "GET /health"}.
    host_facts: dict of observed host state (see the module docstring for keys).
    host_evidence: {fact: line or lines} saying where each host fact was read, for the report.

    Returns a list of dicts: the row (without `example`) plus `evidence` (log lines, HTTP answers
    and host observations that matched), `matched_by` (log, http, host) and `confidence` (high,
    medium, low: the best of the kinds that matched, per the row's `confidence`). Ordered by
    confidence, then severity, then catalog order; superseded and fallback rows are left out as in
    match().
    """
    host_evidence = host_evidence or {}
    found = []
    for row in _ROWS:
        detect = row["detect"]
        evidence, matched_by = [], []
        log_lines = _log_evidence(row["id"], log_text)
        if log_lines:
            matched_by.append("log")
            evidence.extend(log_lines)
        for answer in http or ():
            if _http_matches(detect.get("http", []), answer.get("status"), answer.get("body")):
                if "http" not in matched_by:
                    matched_by.append("http")
                line = "%s: %s" % (answer.get("source") or "HTTP", answer.get("status"))
                if line not in evidence:
                    evidence.append(line)
        if _host_matches(detect.get("host", []), host_facts):
            matched_by.append("host")
            for condition in detect["host"]:
                lines = _as_lines(host_evidence.get(condition["fact"])) or [
                    "%s=%s" % (condition["fact"], host_facts[condition["fact"]])]
                evidence.extend(line for line in lines if line not in evidence)
        if not matched_by:
            continue
        levels = dict(_DEFAULT_CONFIDENCE, **row.get("confidence", {}))
        score = max(_CONFIDENCE_SCORE[levels[kind]] for kind in matched_by)
        result = entry(row["id"])
        for internal in ("confidence", "detect", "fallback"):
            result.pop(internal, None)
        result.update(evidence=evidence, matched_by=matched_by,
                      confidence=[name for name, value in _CONFIDENCE_SCORE.items() if value == score][0],
                      _score=score + 0.5 * (len(matched_by) - 1))
        found.append(result)
    found = _prune(found)
    found.sort(key=lambda r: (-r["_score"], _SEVERITY_ORDER[r["severity"]], _ROW_ORDER[r["id"]]))
    for result in found:
        result.pop("_score")
    return found


def match(log_text=None, http_status=None, host_facts=None, http_body=None):
    """The catalog rows that explain the given symptoms, most severe first.

    log_text: container log, docker error message or command output (str).
    http_status: an HTTP status (int) or a client error kind (e.g. "connection_refused").
    host_facts: dict of observed host state (see the module docstring for keys).
    http_body: body of the HTTP answer, when http_status is given.

    Returns a list of dicts: the row (without `example`) plus `evidence`, the log lines
    that matched. Rows superseded by a more specific matching row are left out, and so are
    fallback rows when a specific error row matched.
    """
    found = []
    for row in _ROWS:
        detect = row["detect"]
        evidence = _log_evidence(row["id"], log_text)
        hit = bool(evidence)
        hit = hit or _http_matches(detect.get("http", []), http_status, http_body)
        hit = hit or _host_matches(detect.get("host", []), host_facts)
        if hit:
            result = entry(row["id"])
            result["evidence"] = evidence
            found.append(result)
    found = _prune(found)
    found.sort(key=lambda result: _SEVERITY_ORDER[result["severity"]])
    return found


def first_error(log_text=None, http_status=None, host_facts=None, http_body=None):
    """The most likely error-severity row for the symptoms, or None."""
    for result in match(log_text=log_text, http_status=http_status, host_facts=host_facts, http_body=http_body):
        if result["severity"] == "error":
            return result
    return None


def explain(row_id, **overrides):
    """One row as a finding (for callers that know the id, e.g. a rollout or the readiness wait): the row
    without `example`, `evidence` [] unless given, any other key overridden (a more precise symptom)."""
    result = entry(row_id)
    result.pop("confidence", None)
    result["evidence"] = []
    result.update(overrides)
    return result


def one_line(finding):
    """`[id] title: cause Fix: fix` - the line the doctor prints per finding."""
    return "[%s] %s (%s, %s confidence): %s Fix: %s" % (
        finding["id"], finding["title"], finding["severity"], finding.get("confidence", "high"),
        finding["cause"], finding["fix"])
