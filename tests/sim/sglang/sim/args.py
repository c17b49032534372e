"""Command line of `sglang serve` / `python -m sglang.launch_server` (the subset the simulator models)."""
import argparse

ATTENTION_BACKEND_CHOICES = [
    "triton", "torch_native", "flex_attention", "dsa", "nsa", "qsa", "dsv4", "compressed", "fa3", "fa4",
    "flashinfer", "llada2_cfg_flashinfer", "flashmla", "trtllm_mla", "cutedsl_mla", "tokenspeed_mla",
    "trtllm_mha", "hpc_ops", "minicpm_flashattn", "minicpm_flashinfer", "aiter", "wave", "intel_amx",
    "ascend", "intel_xpu",
]
GRAMMAR_BACKEND_CHOICES = ["xgrammar", "outlines", "llguidance", "none"]
REASONING_PARSER_CHOICES = [
    "auto", "deepseek-r1", "deepseek-v3", "qwen3", "qwen3-thinking", "glm45", "kimi", "kimi_k2", "gpt-oss",
    "minimax", "minimax-append-think", "mistral", "step3", "nemotron_3", "gemma4", "interns1",
]
TOOL_CALL_PARSER_CHOICES = [
    "deepseekv3", "deepseekv31", "glm", "glm45", "gpt-oss", "kimi_k2", "llama3", "mistral", "pythonic",
    "qwen", "qwen25", "qwen3_coder", "step3", "minimax-m2",
]


def build_parser(prog):
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--model-path", "--model", dest="model_path", default=None,
                   help="The path of the model weights. This can be a local folder or a Hugging Face repo ID.")
    p.add_argument("--tokenizer-path", default=None)
    p.add_argument("--tokenizer-mode", default="auto", choices=["auto", "slow"])
    p.add_argument("--load-format", default="auto")
    p.add_argument("--trust-remote-code", action="store_true")
    p.add_argument("--revision", default=None)
    p.add_argument("--download-dir", default=None)
    p.add_argument("--dtype", default="auto", choices=["auto", "half", "float16", "bfloat16", "float", "float32"])
    p.add_argument("--kv-cache-dtype", default="auto")
    p.add_argument("--quantization", default=None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=30000)
    p.add_argument("--served-model-name", default=None)
    p.add_argument("--context-length", type=int, default=None)
    p.add_argument("--mem-fraction-static", type=float, default=None)
    p.add_argument("--max-running-requests", type=int, default=None)
    p.add_argument("--max-queued-requests", type=int, default=None)
    p.add_argument("--max-total-tokens", type=int, default=None)
    p.add_argument("--chunked-prefill-size", type=int, default=None)
    p.add_argument("--max-prefill-tokens", type=int, default=16384)
    p.add_argument("--schedule-policy", default="fcfs", choices=["lpm", "random", "fcfs", "dfs-weight", "lof", "priority"])
    p.add_argument("--page-size", type=int, default=None)
    p.add_argument("--tp-size", "--tensor-parallel-size", dest="tp_size", type=int, default=1)
    p.add_argument("--dp-size", "--data-parallel-size", dest="dp_size", type=int, default=1)
    p.add_argument("--pp-size", "--pipeline-parallel-size", dest="pp_size", type=int, default=1)
    p.add_argument("--ep-size", "--expert-parallel-size", dest="ep_size", type=int, default=1)
    p.add_argument("--device", default=None)
    p.add_argument("--base-gpu-id", type=int, default=0)
    p.add_argument("--random-seed", type=int, default=None)
    p.add_argument("--watchdog-timeout", type=float, default=300)
    p.add_argument("--stream-interval", type=int, default=1)
    p.add_argument("--log-level", default="info")
    p.add_argument("--log-level-http", default=None)
    p.add_argument("--log-requests", action="store_true")
    p.add_argument("--log-requests-level", type=int, default=2, choices=[0, 1, 2, 3])
    p.add_argument("--log-requests-format", default="text", choices=["text", "json"])
    p.add_argument("--decode-log-interval", type=int, default=40)
    p.add_argument("--enable-metrics", action="store_true")
    p.add_argument("--enable-metrics-for-all-schedulers", action="store_true")
    p.add_argument("--api-key", default=None)
    p.add_argument("--admin-api-key", default=None)
    p.add_argument("--enable-cache-report", action="store_true")
    p.add_argument("--disable-radix-cache", action="store_true")
    p.add_argument("--enable-hierarchical-cache", "--enable-hicache", dest="enable_hierarchical_cache",
                   action="store_true")
    p.add_argument("--max-mamba-cache-size", type=int, default=None)
    p.add_argument("--mamba-full-memory-ratio", type=float, default=0.9)
    p.add_argument("--attention-backend", default=None, choices=ATTENTION_BACKEND_CHOICES)
    p.add_argument("--prefill-attention-backend", default=None, choices=ATTENTION_BACKEND_CHOICES)
    p.add_argument("--decode-attention-backend", default=None, choices=ATTENTION_BACKEND_CHOICES)
    p.add_argument("--sampling-backend", default=None, choices=["flashinfer", "pytorch", "ascend"])
    p.add_argument("--grammar-backend", default=None, choices=GRAMMAR_BACKEND_CHOICES)
    p.add_argument("--reasoning-parser", default=None, choices=REASONING_PARSER_CHOICES)
    p.add_argument("--tool-call-parser", default=None, choices=TOOL_CALL_PARSER_CHOICES)
    p.add_argument("--chat-template", default=None)
    p.add_argument("--sampling-defaults", default="model", choices=["openai", "model"])
    p.add_argument("--preferred-sampling-params", default=None)
    p.add_argument("--skip-server-warmup", action="store_true")
    p.add_argument("--stream-response-default-include-usage", action="store_true")
    p.add_argument("--allow-auto-truncate", action="store_true")
    p.add_argument("--disable-cuda-graph", action="store_true")
    p.add_argument("--cuda-graph-max-bs", type=int, default=None)
    p.add_argument("--cuda-graph-max-bs-decode", type=int, default=None)
    p.add_argument("--cuda-graph-backend-decode", default=None)
    p.add_argument("--enable-torch-compile", action="store_true")
    p.add_argument("--uvicorn-access-log-exclude-prefixes", nargs="*", default=[])
    p.add_argument("--weight-version", default="default")
    return p


def parse_args(argv, prog):
    parser = build_parser(prog)
    argv = list(argv)
    positional = None
    if prog.startswith("sglang") and argv and not argv[0].startswith("-"):
        positional = argv.pop(0)  # `sglang serve MODEL [flags]`
    args = parser.parse_args(argv)
    if positional is not None:
        if args.model_path is not None and args.model_path != positional:
            parser.error("model specified both positionally (%s) and with --model-path (%s)"
                         % (positional, args.model_path))
        args.model_path = positional
    if args.model_path is None:
        parser.error("the following arguments are required: --model-path/--model")
    if args.served_model_name is not None and ":" in args.served_model_name:
        parser.error("--served-model-name may not contain ':' (got %r)" % args.served_model_name)
    if args.page_size is not None and args.page_size < 1:
        parser.error("argument --page-size: must be >= 1")
    return args
