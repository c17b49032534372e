"""Start-up of the simulated server: argument resolution, boot phases, boot faults, then the HTTP server."""
import asyncio
import importlib.util
import json
import os
import shlex
import signal
import sys
import time

from . import hfcache, logs
from .args import parse_args

FAULT_IDS = (
    "trtllm_mha_sm103", "fa3_on_blackwell", "oom_at_start", "cuda_graph_capture_oom", "gpu_index_out_of_range",
    "hf_token_missing", "deepseek_v4_load_failure", "cuda_wrong_image", "json_schema_unsupported",
)
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SGL = "/sgl-workspace/sglang/python/sglang"
GRAPH_FAILED_HINT = [
    "Possible solutions:",
    "1. set --mem-fraction-static to a smaller value (e.g., 0.8 or 0.7)",
    "2. set --cuda-graph-max-bs-decode to a smaller value (e.g., 16)",
    "3. disable decode CUDA graph by --cuda-graph-backend-decode=disabled. (Not recommended. Huge performance loss)",
    "Open an issue on GitHub https://github.com/sgl-project/sglang/issues/new/choose ",
]


def load_presets():
    """The collection's model presets module, imported by path (never copied into this package's source)."""
    candidates = [
        os.environ.get("SGLANG_SIM_PRESETS_FILE"),
        os.path.join(_PKG_DIR, "_presets", "model_presets.py"),
        os.path.join(_PKG_DIR, "..", "..", "..", "plugins", "module_utils", "model_presets.py"),
    ]
    for path in candidates:
        if path and os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("_sglang_sim_model_presets", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    raise RuntimeError("model_presets.py not found (set SGLANG_SIM_PRESETS_FILE)")


def _env_float(name, default):
    v = os.environ.get(name, "")
    try:
        return float(v) if v.strip() else default
    except ValueError:
        return default


def gpu_sm(name):
    n = name.upper()
    if "GB300" in n or "B300" in n:
        return 103
    if "GB200" in n or "B200" in n:
        return 100
    if "RTX PRO" in n or "RTX 50" in n:
        return 120
    if "H100" in n or "H200" in n or "GH200" in n:
        return 90
    if "A100" in n or "A10" in n or "A30" in n:
        return 80
    if "L40" in n or "L4" in n:
        return 89
    return 103


# Model families: (model_type, architecture, KV bytes per token, has_image, mamba state bytes per request).
# The mamba state of a hybrid (linear-attention) model is SGLang's `mamba2_cache_params.mamba_cache_per_req`:
# per linear-attention layer the fp32 SSM state (v_heads x k_dim x v_dim x 4 B) and the bf16 conv window
# ((2 x k_heads x k_dim + v_heads x v_dim) x (kernel - 1) x 2 B); approximate figures from the published configs
# (Qwen3.6-35B-A3B: 30 of 40 layers linear; Qwen3-Next-80B-A3B: 36 of 48; 32 v-heads, 16 k-heads, dim 128, kernel 4).
_GDN_LAYER_STATE = 32 * 128 * 128 * 4 + (2 * 16 * 128 + 32 * 128) * 3 * 2
FAMILIES = {
    "deepseek_v4": ("deepseek_v4", "DeepseekV4ForCausalLM", 70272, False, None),
    "qwen3_next": ("qwen3_next", "Qwen3NextForCausalLM", 24576, False, 36 * _GDN_LAYER_STATE),
    "qwen3_5_moe": ("qwen3_5_moe", "Qwen3_5MoeForConditionalGeneration", 40960, True, 30 * _GDN_LAYER_STATE),
    "qwen3_5": ("qwen3_5", "Qwen3_5ForConditionalGeneration", 131072, True, None),
    "qwen3_moe": ("qwen3_moe", "Qwen3MoeForCausalLM", 98304, False, None),
    "gemma3": ("gemma3", "Gemma3ForConditionalGeneration", 253952, True, None),
    "llama": ("llama", "LlamaForCausalLM", 327680, False, None),
    "qwen3": ("qwen3", "Qwen3ForCausalLM", 147456, False, None),
}
_BY_ARCH = {f[1]: f for f in FAMILIES.values()}
# Architectures the simulator serves as hybrid mamba/linear-attention models (SGLang gives them a
# `mambaish_config`, a mamba state pool and `max_mamba_cache_size`) when no preset says otherwise. The collection's
# presets decide for the models they list (Qwen3_5ForConditionalGeneration, the Qwen3.6-27B preset, stays dense).
HYBRID_ARCHITECTURES = ("Qwen3_5MoeForConditionalGeneration", "Qwen3NextForCausalLM")


def _family_of_name(model):
    m = model.lower()
    if "deepseek-v4" in m:
        return "deepseek_v4"
    if "qwen3-next" in m:
        return "qwen3_next"
    if "qwen3.6-35b" in m or ("a3b" in m and ("qwen3.5" in m or "qwen3.6" in m)):
        return "qwen3_5_moe"
    if "qwen3.6" in m or "qwen3.5" in m:
        return "qwen3_5"
    if "qwen3" in m and ("a3b" in m or "a22b" in m):
        return "qwen3_moe"
    if "gemma-3" in m:
        return "gemma3"
    if "llama" in m:
        return "llama"
    return "qwen3"


def model_meta(model):
    """(model_type, architecture, KV bytes per token, has_image) by model family (from the name)."""
    return FAMILIES[_family_of_name(model)][:4]


def local_hf_config(model_path):
    """The config.json of a local model directory (what SGLang reads for a local --model-path), or None."""
    path = os.path.join(model_path, "config.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def model_identity(model_path):
    """(model_type, architecture, KV bytes per token, has_image, mamba bytes per request, chat template) of the
    served model: from config.json for a local directory that has one (architectures[0], model_type), else
    from the name. The chat template is Qwen3's for the Qwen3 family (model_type qwen3 / qwen3_moe with a
    Qwen3 name or config), else ChatML."""
    family = FAMILIES[_family_of_name(model_path)]
    config = local_hf_config(model_path) if os.path.isdir(model_path) else None
    named_qwen3 = "qwen3" in model_path.lower()
    if config is not None:
        archs = config.get("architectures")
        arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else family[1]
        known = _BY_ARCH.get(arch)
        model_type = config.get("model_type") if isinstance(config.get("model_type"), str) else (
            known[0] if known else family[0])
        family = (model_type, arch) + ((known or family)[2:])
        named_qwen3 = named_qwen3 or model_type in ("qwen3", "qwen3_moe")
    template = "qwen3" if family[0] in ("qwen3", "qwen3_moe") and named_qwen3 else "chatml"
    return family + (template,)


def hf_token_available():
    if os.environ.get("HF_TOKEN", "").strip() or os.environ.get("HUGGING_FACE_HUB_TOKEN", "").strip():
        return True
    path = os.environ.get("HF_TOKEN_PATH")
    if not path:
        home = os.environ.get("HF_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
        path = os.path.join(home, "token")
    try:
        with open(path) as f:
            return bool(f.read().strip())
    except OSError:
        return False


def has_sys_nice():
    path = os.environ.get("SGLANG_SIM_PROC_STATUS", "/proc/self/status")
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 23))
    except (OSError, ValueError):
        return True
    return True


def scheduler_crash(frames):
    """What a dying scheduler subprocess looks like: its traceback, then the parent kills the tree."""
    logs.log("Scheduler hit an exception: Traceback (most recent call last):")
    logs.raw("\n".join(frames) + "\n")
    logs.log("Received sigquit from a child process. It usually means the child failed.")
    die()


def die():
    """SIGKILL ourselves like SGLang's kill_process_tree; as PID 1 of a container that signal is ignored,
    so exit with the status a SIGKILLed process would have there."""
    logs.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.1)
    os._exit(128 + signal.SIGKILL)


def _main_process_traceback(frames):
    logs.raw("Traceback (most recent call last):\n" + "\n".join(frames) + "\n")
    logs.flush()
    sys.exit(1)


def resolve(args, presets):
    preset = presets.get_preset(args.model_path)
    gpu = os.environ.get("SGLANG_SIM_GPU_NAME", "NVIDIA GB300")
    sm = gpu_sm(gpu)
    model_type, arch, kv_bytes, has_image, mamba_per_req, chat_template = model_identity(args.model_path)
    if args.chat_template:
        chat_template = "chatml"  # a --chat-template file or name is not rendered; ChatML stands in for it
    # Hybrid mamba/linear-attention: the preset decides for a preset, the architecture for anything else (a local
    # directory's config.json, an unknown hub id).
    if preset.get("known"):
        hybrid = preset.get("prefix_cache_expected") is False
    else:
        hybrid = arch in HYBRID_ARCHITECTURES
    if hybrid and not mamba_per_req:
        mamba_per_req = FAMILIES["qwen3_5_moe"][4]
    attn = args.attention_backend
    if attn is None:
        attn = "trtllm_mha" if sm in (100, 103) else "fa3" if sm == 90 else "flashinfer"
    total_gb = 279.0 if sm in (100, 103) else 80.0
    weight_gb = float(preset.get("download_gb") or 16) * 0.96
    mem_frac = args.mem_fraction_static
    if mem_frac is None:
        mem_frac = round(float(preset.get("mem_fraction_static") or 0.85), 3)
    kv_gb = total_gb * mem_frac - weight_gb
    max_mamba = None
    if hybrid:
        # KVCacheConfigurator / ModelRunnerKVCacheMixin.handle_max_mamba_cache: an explicit --max-mamba-cache-size,
        # else max_running_requests when the radix cache is off and that is given, else the rest memory split
        # mamba : KV = mamba_full_memory_ratio (0.9) : 1. The KV pool gets what the mamba pool leaves.
        ratio = args.mamba_full_memory_ratio
        if args.max_mamba_cache_size is not None:
            max_mamba = args.max_mamba_cache_size
        elif args.disable_radix_cache and args.max_running_requests is not None:
            max_mamba = args.max_running_requests
        else:
            max_mamba = int(max(kv_gb, 0.0) * ratio / (1 + ratio) * (1 << 30) // mamba_per_req)
        kv_gb -= max_mamba * mamba_per_req / float(1 << 30)
    capacity = int(kv_gb * (1 << 30) / kv_bytes) if kv_gb > 0 else 0
    if args.max_total_tokens:
        capacity = min(capacity, args.max_total_tokens) if capacity > 0 else capacity
    env_cap = os.environ.get("SGLANG_SIM_KV_CAPACITY_TOKENS", "").strip()
    if env_cap:
        capacity = int(env_cap)
        kv_gb = capacity * kv_bytes / float(1 << 30)
    context_len = args.context_length or 40960
    max_running = args.max_running_requests
    if max_running is None:
        max_running = int(_env_float("SGLANG_SIM_MAX_RUNNING", 128))
    chunk = args.chunked_prefill_size if args.chunked_prefill_size is not None else 8192
    page = args.page_size or 1
    if hybrid and max_mamba is not None:
        # init_memory: max_num_reqs = min(max_num_reqs, max_mamba_cache_size // ratio), ratio 3 with the radix
        # cache (no_buffer), 1 without.
        max_running = min(max_running, max(1, max_mamba // (1 if args.disable_radix_cache else 3)))
    graph_bs = [1, 2, 4, 8, 12, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256]
    graph_bs = [b for b in graph_bs if b <= max(max_running, 1)]
    decode_tps = _env_float("SGLANG_SIM_DECODE_TOKENS_PER_S", 2000.0)
    tick = max(_env_float("SGLANG_SIM_TICK_MS", 20.0) / 1000.0, 1.0 / max(decode_tps, 1e-3))
    cfg = {
        "preset": preset, "gpu": gpu, "sm": sm, "attention_backend": attn, "model_type": model_type,
        "architecture": arch, "has_image": has_image, "weight_gb": round(weight_gb, 2), "kv_gb": round(kv_gb, 2),
        "avail_gb": round(total_gb - 1.5, 2), "graph_gb": 1.21, "graph_bs": graph_bs, "total_gb": total_gb,
        "mem_fraction_static": mem_frac, "max_total_num_tokens": capacity, "context_len": context_len,
        "max_running": max(1, max_running), "chunked_prefill_size": chunk, "page_size": page,
        "disable_prefix_cache": bool(args.disable_radix_cache or hybrid), "hybrid": hybrid,
        "prefill_tps": max(_env_float("SGLANG_SIM_PREFILL_TOKENS_PER_S", 200000.0), 1e-3),
        "decode_tps": max(decode_tps, 1e-3), "ttft_s": _env_float("SGLANG_SIM_TTFT_MS", 0.0) / 1000.0,
        "tick": tick, "batch_slowdown": _env_float("SGLANG_SIM_BATCH_SLOWDOWN", 0.02),
        "decode_log_interval": max(1, args.decode_log_interval),
        "fault": os.environ.get("SGLANG_SIM_FAULT", "").strip() or None,
        "kv_bytes": kv_bytes, "chat_template": chat_template,
        "max_mamba_cache_size": max_mamba, "mamba_gb": round((max_mamba or 0) * (mamba_per_req or 0) / float(1 << 30), 2),
    }
    return cfg


def server_args_dict(args, cfg):
    a = args
    return {
        "model_path": a.model_path, "tokenizer_path": a.tokenizer_path or a.model_path, "tokenizer_mode": a.tokenizer_mode,
        "tokenizer_worker_num": 1, "skip_tokenizer_init": False, "load_format": a.load_format,
        "model_loader_extra_config": "{}", "trust_remote_code": a.trust_remote_code,
        "context_length": a.context_length, "is_embedding": False, "enable_multimodal": None,
        "revision": a.revision, "model_impl": "auto", "host": a.host, "port": a.port,
        "skip_server_warmup": a.skip_server_warmup, "warmups": None, "nccl_port": None, "dtype": a.dtype,
        "quantization": a.quantization, "kv_cache_dtype": a.kv_cache_dtype, "enable_fp32_lm_head": False,
        "mem_fraction_static": cfg["mem_fraction_static"], "max_running_requests": cfg["max_running"],
        "max_queued_requests": a.max_queued_requests, "max_total_tokens": a.max_total_tokens,
        "chunked_prefill_size": cfg["chunked_prefill_size"], "max_prefill_tokens": a.max_prefill_tokens,
        "schedule_policy": a.schedule_policy, "schedule_conservativeness": 1.0, "page_size": cfg["page_size"],
        "swa_full_tokens_ratio": 0.8, "disable_hybrid_swa_memory": False, "device": a.device or "cuda",
        "tp_size": a.tp_size, "pp_size": a.pp_size, "dp_size": a.dp_size, "ep_size": a.ep_size,
        "stream_interval": a.stream_interval, "stream_output": False, "random_seed": a.random_seed,
        "watchdog_timeout": a.watchdog_timeout, "dist_timeout": None, "download_dir": a.download_dir,
        "base_gpu_id": a.base_gpu_id, "gpu_id_step": 1, "sleep_on_idle": False, "log_level": a.log_level,
        "log_level_http": a.log_level_http, "log_requests": a.log_requests,
        "log_requests_level": a.log_requests_level, "log_requests_format": a.log_requests_format,
        "crash_dump_folder": None, "show_time_cost": False, "enable_metrics": a.enable_metrics,
        "enable_metrics_for_all_schedulers": a.enable_metrics_for_all_schedulers,
        "decode_log_interval": a.decode_log_interval, "enable_request_time_stats_logging": False,
        "api_key": a.api_key, "admin_api_key": a.admin_api_key,
        "served_model_name": a.served_model_name or a.model_path, "weight_version": a.weight_version,
        "chat_template": a.chat_template, "completion_template": None, "file_storage_path": "sglang_storage",
        "enable_cache_report": a.enable_cache_report, "reasoning_parser": a.reasoning_parser,
        "tool_call_parser": a.tool_call_parser, "sampling_defaults": a.sampling_defaults,
        "preferred_sampling_params": a.preferred_sampling_params, "allow_auto_truncate": a.allow_auto_truncate,
        "stream_response_default_include_usage": a.stream_response_default_include_usage,
        "attention_backend": cfg["attention_backend"],
        "prefill_attention_backend": a.prefill_attention_backend or cfg["attention_backend"],
        "decode_attention_backend": a.decode_attention_backend or cfg["attention_backend"],
        "sampling_backend": a.sampling_backend or "flashinfer", "grammar_backend": a.grammar_backend or "xgrammar",
        "disable_radix_cache": a.disable_radix_cache, "enable_hierarchical_cache": a.enable_hierarchical_cache,
        # Set in the scheduler (the mamba pool sizing) for a hybrid model: None here, the resolved value in
        # /server_info's internal_states (see App.server_info).
        "max_mamba_cache_size": a.max_mamba_cache_size, "mamba_full_memory_ratio": a.mamba_full_memory_ratio,
        "cuda_graph_max_bs": a.cuda_graph_max_bs or max(cfg["graph_bs"]), "disable_cuda_graph": a.disable_cuda_graph,
        "enable_torch_compile": a.enable_torch_compile, "enable_dp_attention": False, "enable_lora": False,
        "uvicorn_access_log_exclude_prefixes": list(a.uvicorn_access_log_exclude_prefixes or []),
    }


def launch_command(prog, argv):
    out, redact = [], False
    for tok in argv:
        if redact:
            out.append("***")
            redact = False
            continue
        if tok in ("--api-key", "--admin-api-key"):
            redact = True
        elif tok.startswith(("--api-key=", "--admin-api-key=")):
            tok = tok.split("=", 1)[0] + "=***"
        out.append(tok)
    return " ".join(shlex.quote(t) for t in (prog.split() + out))


def _repr_args(d):
    return "ServerArgs(" + ", ".join("%s=%r" % kv for kv in d.items()) + ")"


def _sleep(seconds):
    if seconds > 0:
        time.sleep(seconds)


WEIGHT_PATTERNS = ["*.safetensors", "*.bin"]
# What a first start fetches before the weights: the config (main process), the tokenizer, the generation config.
CONFIG_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")


def _hub_files(args, cfg, weights=False):
    """(cache dir to write, repo handle, commit, simulated repository files) for a Hub model id; None for a local
    path. The weights go to --download-dir when given; the config and tokenizer always to the default cache."""
    model = args.model_path
    if os.path.isdir(model) or model.startswith(("/", ".")):
        return None
    cache_dir = os.path.expanduser(args.download_dir) if weights and args.download_dir else hfcache.hub_cache()
    revision = args.revision or "main"
    repo = hfcache.Repo(cache_dir, model)
    commit = hfcache.commit_for(model, revision)
    if repo.ref(revision) not in (None, commit):
        return "foreign"  # a revision some other client resolved (a real download): never written into
    files = hfcache.repo_files(model, commit, cfg["preset"], model_meta(model)[:2])
    return cache_dir, repo, commit, files


def _cache_dirs(args):
    dirs = [os.path.expanduser(args.download_dir)] if args.download_dir else []
    return dirs + [hfcache.hub_cache()]


def _hf_offline():
    return any(os.environ.get(n, "").lower() in ("1", "true", "yes", "on") for n in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def fetch_config(args, cfg):
    """The main process reads config.json (and the tokenizer) through the hub: written into the cache if missing;
    offline and not cached, transformers' OSError ends the process."""
    hub = _hub_files(args, cfg)
    if hub is None:
        return
    if _hf_offline():
        if hfcache.local_snapshot(args.model_path, args.revision, _cache_dirs(args)) is None:
            _main_process_traceback([
                '  File "%s/srt/utils/hf_transformers_utils.py", line 241, in get_config' % _SGL,
                "    config = AutoConfig.from_pretrained(",
                "OSError: We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in "
                "the cached files.",
                "Check your internet connection or see how to run the library in offline mode at "
                "'https://huggingface.co/docs/transformers/installation#offline-mode'.",
            ])
        return
    if hub == "foreign":
        return
    cache_dir, repo, commit, files = hub
    try:
        wrote = False
        for name in CONFIG_FILES:
            if name in files and not repo.has_file(commit, name):
                if not wrote:
                    repo.write_cachedir_tag()
                    wrote = True
                repo.write_file(commit, name, files[name])
        repo.write_ref(args.revision or "main", commit)
    except OSError as e:
        _main_process_traceback([
            '  File "%s/srt/utils/hf_transformers_utils.py", line 241, in get_config' % _SGL,
            "    config = AutoConfig.from_pretrained(",
            "%s: %s" % (type(e).__name__, e),
        ])


def fetch_weights(args, cfg):
    """DefaultModelLoader._prepare_weights / download_weights_from_hf: skip the download when the cache holds the
    snapshot's weights, else "download" them (SGLANG_SIM_DOWNLOAD_SECONDS) into the cache. Returns seconds spent."""
    hub = _hub_files(args, cfg, weights=True)
    if hub is None:
        return 0.0
    found = hfcache.local_snapshot(args.model_path, args.revision, _cache_dirs(args), WEIGHT_PATTERNS)
    if found is not None:
        snap, has_weights, missing = found
        if has_weights and not missing:
            logs.log("Found local HF snapshot for %s at %s; skipping download." % (args.model_path, snap))
            return 0.0
        if has_weights:
            logs.log("Local snapshot incomplete for %s: %s. Will download missing files." % (args.model_path, missing))
        else:
            logs.log("Local HF snapshot at %s has no files matching %s; will attempt download." % (snap, WEIGHT_PATTERNS))
    if _hf_offline():
        return 0.0
    logs.log("Using model weights format ['*.safetensors']")
    seconds = max(0.0, _env_float("SGLANG_SIM_DOWNLOAD_SECONDS", 0.0))
    _sleep(seconds)
    if hub == "foreign":
        return seconds
    cache_dir, repo, commit, files = hub
    try:
        repo.write_ref(args.revision or "main", commit)
        repo.write_tree(commit, files)
        repo.write_cachedir_tag()
        for name in hfcache.filter_files(list(files), ["*.safetensors", "model.safetensors.index.json"]):
            if not repo.has_file(commit, name):
                repo.write_file(commit, name, files[name])
    except OSError as e:
        scheduler_crash([
            '  File "%s/srt/managers/scheduler.py", line 3106, in run_scheduler_process' % _SGL,
            "    scheduler = Scheduler(server_args, port_args, gpu_id, tp_rank, moe_ep_rank, pp_rank, dp_rank)",
            '  File "%s/srt/model_loader/weight_utils.py", line 696, in download_weights_from_hf' % _SGL,
            "    hf_folder = snapshot_download(",
            "%s: %s" % (type(e).__name__, e),
        ])
    return seconds


def boot(args, cfg):
    """The phases before Uvicorn listens (the port stays closed meanwhile)."""
    boot_s = max(0.0, _env_float("SGLANG_SIM_BOOT_SECONDS", 2.0))
    fault = cfg["fault"]
    preset = cfg["preset"]
    avail = cfg["avail_gb"]
    logs.log("Using default HuggingFace chat template with detected content format: string")
    if fault == "hf_token_missing" or (preset.get("gated") and not hf_token_available()):
        m = args.model_path
        _main_process_traceback([
            '  File "/usr/local/lib/python3.12/dist-packages/huggingface_hub/utils/_http.py", line 657, '
            'in hf_raise_for_status',
            "    raise _format(GatedRepoError, message, response) from e",
            "huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: Root=1-6a3f0c2e-4b1d)",
            "",
            "Cannot access gated repo for url https://huggingface.co/%s/resolve/main/config.json." % m,
            "Access to model %s is restricted. You must have access to it and be authenticated to access it. "
            "Please log in." % m,
            "",
            "The above exception was the direct cause of the following exception:",
            "",
            "Traceback (most recent call last):",
            '  File "%s/srt/utils/hf_transformers_utils.py", line 241, in get_config' % _SGL,
            "    config = AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code, revision=revision)",
            '  File "/usr/local/lib/python3.12/dist-packages/huggingface_hub/utils/_headers.py", line 121, '
            'in get_token_to_send',
            "    raise LocalTokenNotFoundError(",
            "huggingface_hub.errors.LocalTokenNotFoundError: Token is required (`token=True`), but no token found. "
            "You need to provide a token or be logged in to Hugging Face with `hf auth login` or "
            "`huggingface_hub.login`. See https://huggingface.co/settings/tokens.",
            "OSError: You are trying to access a gated repo.",
            "Make sure to have access to it at https://huggingface.co/%s." % m,
            "401 Client Error. (Request ID: Root=1-6a3f0c2e-4b1d)",
        ])
    fetch_config(args, cfg)
    if not has_sys_nice():
        logs.log("User lacks permission to set NUMA affinity, skipping NUMA node configuration for GPU. "
                 "If using docker, try adding --cap-add SYS_NICE")
    if fault == "gpu_index_out_of_range":
        scheduler_crash([
            '  File "%s/srt/managers/scheduler.py", line 3106, in run_scheduler_process' % _SGL,
            "    scheduler = Scheduler(server_args, port_args, gpu_id, tp_rank, moe_ep_rank, pp_rank, dp_rank)",
            '  File "%s/srt/model_executor/model_runner.py", line 312, in init_torch_distributed' % _SGL,
            "    torch.get_device_module(self.device).set_device(self.gpu_id)",
            "RuntimeError: device >= 0 && device < num_gpus INTERNAL ASSERT FAILED at "
            "\"/pytorch/aten/src/ATen/cuda/CUDAContext.cpp\":50, please report a bug to PyTorch. "
            "device=1, num_gpus=1",
        ])
    logs.log("Init torch distributed begin.")
    _sleep(boot_s * 0.05)
    logs.log("Init torch distributed ends. elapsed=%.2f s, mem usage=0.09 GB" % (boot_s * 0.05))
    logs.log("Load weight begin. avail mem=%.2f GB" % avail)
    if fault == "deepseek_v4_load_failure":
        _sleep(boot_s * 0.1)
        scheduler_crash([
            '  File "%s/srt/managers/scheduler.py", line 3106, in run_scheduler_process' % _SGL,
            "    scheduler = Scheduler(server_args, port_args, gpu_id, tp_rank, moe_ep_rank, pp_rank, dp_rank)",
            '  File "%s/srt/model_loader/utils.py", line 112, in get_model_architecture' % _SGL,
            "    architectures = resolve_transformers_arch(model_config, architectures)",
            "ValueError: Model architectures ['DeepseekV4ForCausalLM'] are not supported for now. Supported "
            "architectures: dict_keys(['DeepseekV2ForCausalLM', 'DeepseekV3ForCausalLM', 'Qwen3ForCausalLM', "
            "'LlamaForCausalLM', ...])",
        ])
    download_s = fetch_weights(args, cfg)
    _sleep(boot_s * 0.45)
    after_weights = avail - cfg["weight_gb"]
    logs.log("Load weight end. elapsed=%.2f s, type=%s, avail mem=%.2f GB, mem usage=%.2f GB."
             % (boot_s * 0.45 + download_s, cfg["architecture"], after_weights, cfg["weight_gb"]))
    attn = cfg["attention_backend"]
    if fault == "fa3_on_blackwell" or (attn == "fa3" and not 80 <= cfg["sm"] <= 90):
        scheduler_crash([
            '  File "%s/srt/managers/scheduler.py", line 3106, in run_scheduler_process' % _SGL,
            "    scheduler = Scheduler(server_args, port_args, gpu_id, tp_rank, moe_ep_rank, pp_rank, dp_rank)",
            '  File "%s/srt/model_executor/model_runner.py", line 1902, in _get_attention_backend_from_str' % _SGL,
            "    return attn_backend_wrapper(self, full_attention_backend)",
            '  File "%s/srt/layers/attention/attention_registry.py", line 141, in create_flashattention_v3_backend'
            % _SGL,
            "    assert (",
            "AssertionError: FlashAttention v3 Backend requires SM>=80 and SM<=90. Please use "
            "`--attention-backend flashinfer`.",
        ])
    if fault == "oom_at_start" or cfg["max_total_num_tokens"] <= 0:
        scheduler_crash([
            '  File "%s/srt/managers/scheduler.py", line 3106, in run_scheduler_process' % _SGL,
            "    scheduler = Scheduler(server_args, port_args, gpu_id, tp_rank, moe_ep_rank, pp_rank, dp_rank)",
            '  File "%s/srt/model_executor/pool_configurator.py", line 208, in configure' % _SGL,
            "    raise RuntimeError(",
            "RuntimeError: Not enough memory. Please try to increase --mem-fraction-static. Current value: "
            "mem_fraction_static=%s" % cfg["mem_fraction_static"],
        ])
    kv_half = cfg["kv_gb"] / 2.0
    if cfg["hybrid"]:
        ssm_gb = cfg["mamba_gb"] * 0.977
        logs.log("Mamba Cache is allocated. max_mamba_cache_size: %d, conv_state size: %.2fGB, ssm_state size: %.2fGB "
                 % (cfg["max_mamba_cache_size"], cfg["mamba_gb"] - ssm_gb, ssm_gb))
    logs.log("Using KV cache dtype: torch.bfloat16")
    logs.log("KV Cache is allocated. #tokens: %d, K size: %.2f GB, V size: %.2f GB"
             % (cfg["max_total_num_tokens"], kv_half, kv_half))
    _sleep(boot_s * 0.1)
    after_pool = max(1.0, after_weights - cfg["kv_gb"] - cfg["mamba_gb"])
    logs.log("Memory pool end. avail mem=%.2f GB" % after_pool)
    logs.log("Capture decode CUDA graph begin. This can take up to several minutes. avail mem=%.2f GB" % after_pool)
    logs.log("Capture cuda graph bs %s" % cfg["graph_bs"])
    if fault == "trtllm_mha_sm103" or (attn == "trtllm_mha" and cfg["sm"] == 103):
        _sleep(boot_s * 0.2)
        scheduler_crash([
            '  File "%s/srt/managers/scheduler.py", line 3106, in run_scheduler_process' % _SGL,
            "    scheduler = Scheduler(server_args, port_args, gpu_id, tp_rank, moe_ep_rank, pp_rank, dp_rank)",
            '  File "%s/srt/model_executor/cuda_graph_runner.py", line 498, in capture' % _SGL,
            "    ) = self.capture_one_batch_size(bs, forward, stream_idx)",
            '  File "%s/srt/layers/attention/trtllm_mha_backend.py", line 377, in forward_decode' % _SGL,
            "    o = flashinfer.decode.trtllm_batch_decode_with_kv_cache(",
            "RuntimeError: Error in function 'buildNdTmaDescriptor' at "
            "/workspace/include/flashinfer/trtllm/fmha/kernelParams.h:614: Check failed: false "
            "(cuTensorMapEncodeTiled failed for SM103: CUDA_ERROR_INVALID_VALUE)",
        ])
    if fault == "cuda_graph_capture_oom":
        _sleep(boot_s * 0.2)
        scheduler_crash([
            '  File "%s/srt/managers/scheduler.py", line 3106, in run_scheduler_process' % _SGL,
            "    scheduler = Scheduler(server_args, port_args, gpu_id, tp_rank, moe_ep_rank, pp_rank, dp_rank)",
            '  File "%s/srt/model_executor/cuda_graph_runner.py", line 421, in __init__' % _SGL,
            "    raise Exception(",
            "Exception: Capture cuda graph failed: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a "
            "total capacity of %.2f GiB of which 1.06 GiB is free." % cfg["total_gb"],
        ] + GRAPH_FAILED_HINT)
    _sleep(boot_s * 0.4)
    logs.log("Capture decode CUDA graph end. elapsed=%.2f s, mem usage=%.2f GB, avail mem=%.2f GB."
             % (boot_s * 0.4, cfg["graph_gb"], after_pool - cfg["graph_gb"]))
    logs.log("max_total_num_tokens=%d, chunked_prefill_size=%d, max_prefill_tokens=%d, max_running_requests=%d, "
             "context_len=%d, available_gpu_mem=%.2f GB" % (
                 cfg["max_total_num_tokens"], cfg["chunked_prefill_size"], args.max_prefill_tokens,
                 cfg["max_running"], cfg["context_len"], after_pool - cfg["graph_gb"]))


SHUTDOWN_POLL_S = 5.0  # TokenizerManager.sigterm_watchdog sleeps 5 s between checks
UVICORN_SIGTERM = "uvicorn-sigterm"


def kill_process_tree_line():
    pid = os.getpid()
    logs.log("kill_process_tree called: parent_pid=%d, include_parent=False, pid=%d" % (pid, pid), prefix="")


async def serve(args, cfg, sargs):
    from .app import App
    from .httpd import HttpServer, request
    from .metrics import Metrics

    metrics = None
    if args.enable_metrics:
        metrics = Metrics(args.served_model_name or args.model_path)
        metrics.max_total_num_tokens.set(cfg["max_total_num_tokens"])
        metrics.context_len.set(cfg["context_len"])
        metrics.page_size.set(cfg["page_size"])
    app = App(args, cfg, sargs, metrics)
    app.engine.start()
    loop = asyncio.get_running_loop()
    pid = os.getpid()
    logs.uvicorn("INFO", "Started server process [%d]" % pid)
    logs.uvicorn("INFO", "Waiting for application startup.")
    logs.uvicorn("INFO", "Application startup complete.")
    http = HttpServer(app)
    try:
        await http.start(args.host, args.port)
    except OSError as e:
        logs.uvicorn("ERROR", "[Errno %d] error while attempting to bind on address (%r, %d): %s"
                     % (e.errno or 98, args.host, args.port, "address already in use" if e.errno == 98
                        else (e.strerror or str(e)).lower()))
        logs.uvicorn("INFO", "Waiting for application shutdown.")
        logs.uvicorn("INFO", "Application shutdown complete.")
        logs.flush()
        return 1
    logs.uvicorn("INFO", "Uvicorn running on http://%s:%d (Press CTRL+C to quit)" % (args.host, args.port))
    # The stop hook of the Uvicorn server (`server.should_exit = True`); the result says why it stopped.
    stop = loop.create_future()
    poll_s = max(0.01, _env_float("SGLANG_SIM_SHUTDOWN_POLL_S", SHUTDOWN_POLL_S))

    def _stop(reason):
        if not stop.done():
            stop.set_result(reason)

    # Uvicorn's own handlers (Server.capture_signals) until the tokenizer manager replaces the SIGTERM one.
    loop.add_signal_handler(signal.SIGTERM, _stop, UVICORN_SIGTERM)
    loop.add_signal_handler(signal.SIGINT, _stop, "uvicorn-sigint")

    def sigterm_handler():
        # SignalHandler.sigterm_handler, installed with loop.add_signal_handler (so signum and frame are None).
        logs.log("SIGTERM received. signum=None frame=None. Draining requests and shutting down...", prefix="")
        app.gracefully_exit = True

    async def sigterm_watchdog():
        while not app.gracefully_exit:
            await asyncio.sleep(poll_s)
        while True:
            rids = list(app.rid_to_state)
            if app.status == "UnHealthy":
                logs.log("Signal SIGTERM received while health check failed. Force exiting.", prefix="")
                break
            if os.environ.get("SGL_FORCE_SHUTDOWN", "false").lower() in ("true", "1"):
                logs.log("Signal SIGTERM received while force shutdown flag set. Force exiting.", prefix="")
                break
            logs.log("Gracefully exiting... Remaining number of requests %d. Remaining requests remaining_rids=%r."
                     % (len(rids), rids), prefix="")
            if rids:
                await asyncio.sleep(poll_s)
            else:
                break
        # ShutdownReq: the scheduler leaves its loop; then the children are killed and Uvicorn is asked to stop.
        app.engine.stop()
        kill_process_tree_line()
        _stop("graceful")

    def on_tm_loop_start():
        loop.add_signal_handler(signal.SIGTERM, sigterm_handler)
        loop.create_task(sigterm_watchdog())

    app.on_tm_loop_start = on_tm_loop_start

    async def warmup():
        host = "127.0.0.1" if args.host in ("0.0.0.0", "", "localhost") else ("::1" if args.host == "::" else args.host)
        headers = {"Authorization": "Bearer " + args.api_key} if args.api_key else {}
        if args.skip_server_warmup:
            app.status = "Up"
            logs.log("The server is fired up and ready to roll!", prefix="")
            return
        try:
            for unused_attempt in range(120):
                try:
                    st, unused_body = await request(host, args.port, "GET", "/model_info", headers=headers)
                    if st == 200:
                        break
                except OSError:
                    pass
                await asyncio.sleep(1)
            st, body = await request(host, args.port, "POST", "/generate", {
                "text": "The capital city of France is",
                "sampling_params": {"temperature": 0, "max_new_tokens": 8}}, headers=headers, timeout=600)
            if st != 200:
                raise RuntimeError("warmup /generate returned %d: %s" % (st, body[:200]))
            await request(host, args.port, "POST", "/freeze_gc", headers=headers)
        except Exception as e:  # noqa: BLE001
            logs.log("Initialization failed. warmup error: %r" % (e,), prefix="")
            die()
            return
        app.status = "Up"
        logs.log("The server is fired up and ready to roll!", prefix="")

    wtask = loop.create_task(warmup())
    reason = await stop
    wtask.cancel()
    # Uvicorn's Server.shutdown and the lifespan shutdown.
    await http.shutdown(logs.uvicorn)
    app.engine.stop()
    logs.uvicorn("INFO", "Waiting for application shutdown.")
    logs.uvicorn("INFO", "Application shutdown complete.")
    logs.uvicorn("INFO", "Finished server process [%d]" % pid)
    logs.flush()
    return reason


def main(argv, prog="sglang serve"):
    args = parse_args(argv, prog)
    presets = load_presets()
    cfg = resolve(args, presets)
    if cfg["fault"] is not None and cfg["fault"] not in FAULT_IDS:
        sys.stderr.write("SGLANG_SIM_FAULT=%s is not one of: %s\n" % (cfg["fault"], ", ".join(FAULT_IDS)))
        return 2
    cfg["launch_command"] = launch_command(prog if prog != "launch_server.py" else "python3 -m sglang.launch_server",
                                           argv)
    if args.tp_size > 1:
        logs.set_prefix(" TP0")
    sargs = server_args_dict(args, cfg)
    logs.log("server_args=" + _repr_args(sargs), prefix="")
    boot(args, cfg)
    try:
        reason = asyncio.run(serve(args, cfg, sargs))
    except KeyboardInterrupt:
        return 0
    if reason == 1:
        return 1
    if reason == UVICORN_SIGTERM:
        # Uvicorn re-raises the signal it captured once its handlers are restored (SIG_DFL): the process dies
        # of SIGTERM, except as PID 1 of a container, where the kernel ignores it and the exit goes on.
        logs.flush()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        time.sleep(0.05)
    # The `finally:` of `sglang serve` / `launch_server`.
    kill_process_tree_line()
    logs.flush()
    return 0
