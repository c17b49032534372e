# -*- coding: utf-8 -*-
"""redaction.redact and write_private_file: no credential survives, everything else does."""
import copy
import json
import os
import stat

import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils.redaction import (
    REDACTED,
    is_secret_name,
    redact,
    write_private_file,
)

KEY = "sk-station-7f3a"
ADMIN = "adm-station-91c2"


def server_info():
    """The shape of SGLang 0.5.23's /server_info: flat server args, launch_command, internal_states."""
    args = {"model_path": "Qwen/Qwen3-8B", "page_size": 1, "port": 30000, "api_key": KEY, "admin_api_key": ADMIN,
            "enable_cache_report": True, "max_total_tokens": None, "context_length": 8192}
    info = dict(args, launch_command="sglang serve --model-path Qwen/Qwen3-8B --api-key %s --admin-api-key=%s "
                                     "--port 30000" % (KEY, ADMIN),
                internal_states=[dict(args, last_gen_throughput=12.5, memory_usage={"weight": 16.4})],
                version="0.5.23")
    return info


def test_nested_secret_keys_are_replaced_and_the_rest_is_kept():
    info = server_info()
    original = copy.deepcopy(info)
    out = redact(info)
    assert info == original, "the input must not change"
    assert out["api_key"] == REDACTED and out["admin_api_key"] == REDACTED
    assert out["internal_states"][0]["api_key"] == REDACTED and out["internal_states"][0]["admin_api_key"] == REDACTED
    assert out["internal_states"][0]["memory_usage"] == {"weight": 16.4}
    assert out["launch_command"] == ("sglang serve --model-path Qwen/Qwen3-8B --api-key <redacted> "
                                     "--admin-api-key=<redacted> --port 30000")
    for key in ("model_path", "page_size", "port", "enable_cache_report", "max_total_tokens", "context_length", "version"):
        assert out[key] == info[key]
    text = json.dumps(out)
    assert KEY not in text and ADMIN not in text


def test_unset_keys_stay_visible():
    assert redact({"api_key": None, "admin_api_key": "", "hf_token": None}) == {
        "api_key": None, "admin_api_key": "", "hf_token": None}


@pytest.mark.parametrize("name", ["api_key", "admin_api_key", "router_api_key", "API_KEY", "api-key", "--api-key",
                                  "--admin-api-key", "token", "hf_token", "HF_TOKEN", "sglang_server_hf_token",
                                  "access_token", "password", "ssl_keyfile_password", "secret", "watermark_secret",
                                  "Authorization"])
def test_secret_names(name):
    assert is_secret_name(name)
    assert redact({name: "v"}) == {name: REDACTED}


@pytest.mark.parametrize("name", ["page_size", "cached_tokens", "max_total_tokens", "eos_token", "tokenizer_path",
                                  "cached-token", "enable_cache_report", "model_path", "key"])
def test_ordinary_names(name):
    assert not is_secret_name(name)
    assert redact({name: "v"}) == {name: "v"}


@pytest.mark.parametrize("text,expected", [
    ("sglang serve --api-key sekret --port 1", "sglang serve --api-key <redacted> --port 1"),
    ("sglang serve --api-key=sekret --port 1", "sglang serve --api-key=<redacted> --port 1"),
    ("--admin-api-key 'two words' --host 0.0.0.0", "--admin-api-key '<redacted>' --host 0.0.0.0"),
    ("--admin-api-key=\"q\"", "--admin-api-key=\"<redacted>\""),
    ("--hf-token hf_abc", "--hf-token <redacted>"),
    ("server_args=ServerArgs(model_path='m', api_key='sekret', admin_api_key=None, port=30000)",
     "server_args=ServerArgs(model_path='m', api_key='<redacted>', admin_api_key=None, port=30000)"),
    ('{"api_key": "sekret", "page_size": 1, "admin_api_key": null}',
     '{"api_key": "<redacted>", "page_size": 1, "admin_api_key": null}'),
    ("Authorization: Bearer sekret", "Authorization: Bearer <redacted>"),
    # Harmless look-alikes are left alone.
    ("Prefill batch, #new-seq: 1, #new-token: 64, #cached-token: 128, token usage: 0.01",
     "Prefill batch, #new-seq: 1, #new-token: 64, #cached-token: 128, token usage: 0.01"),
    ("max_total_num_tokens=1000, --disable-radix-cache --port 30000",
     "max_total_num_tokens=1000, --disable-radix-cache --port 30000"),
])
def test_command_lines_and_log_text(text, expected):
    assert redact(text) == expected


def test_argv_lists_and_tuples():
    argv = ["sglang", "serve", "--api-key", "sekret", "--admin-api-key=adm", "--port", "30000", "--api-key"]
    assert redact(argv) == ["sglang", "serve", "--api-key", REDACTED, "--admin-api-key=" + REDACTED, "--port",
                            "30000", "--api-key"]
    assert redact(("--api-key", "sekret")) == ("--api-key", REDACTED)
    assert redact({"cmd": ["--api-key", "sekret", "--enable-metrics"]}) == {
        "cmd": ["--api-key", REDACTED, "--enable-metrics"]}


def test_known_secret_is_removed_wherever_it_appears():
    data = {"msg": "the server echoed %s back" % KEY, "samples": [{"message": "x%sy" % KEY}], KEY: 1,
            "n": 3, "ok": True, "ratio": 0.5, "none": None}
    out = redact(data, [KEY, None, ""])
    assert KEY not in json.dumps(out) and out["<redacted>"] == 1
    assert out["msg"] == "the server echoed <redacted> back" and out["samples"][0]["message"] == "x<redacted>y"
    assert out["n"] == 3 and out["ok"] is True and out["ratio"] == 0.5 and out["none"] is None


def _mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_write_private_file_creates_0600_in_a_new_0700_directory(tmp_path):
    path = tmp_path / "new" / "detail.log"
    write_private_file(str(path), "body\n")
    assert path.read_text() == "body\n"
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert os.listdir(str(path.parent)) == ["detail.log"]


def test_write_private_file_tightens_an_existing_file(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")
    os.chmod(str(path), 0o644)
    write_private_file(str(path), "new")
    assert path.read_text() == "new" and _mode(path) == 0o600
