# -*- coding: utf-8 -*-
"""Each class of malformed option is refused with the option, the value and a fix named."""
import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils.settings_rules import (
    CHECKS,
    RuleError,
    check_settings,
    help_flags,
)

SGLANG_HELP = """usage: sglang serve [-h] [--model-path MODEL_PATH] [--tp-size TP_SIZE]
  --max-running-requests MAX_RUNNING_REQUESTS
  --tp-size TP_SIZE, --tensor-parallel-size TP_SIZE
  --enable-metrics      Enable log prometheus metrics.
"""


def refused(option, value, rule):
    errors = check_settings({option: value}, {option: rule})
    assert len(errors) == 1, errors
    assert errors[0].startswith(option + "="), errors[0]
    assert "Fix: " in errors[0], errors[0]
    return errors[0]


def accepted(option, value, rule):
    assert check_settings({option: value}, {option: rule}) == []


@pytest.mark.parametrize("value", [
    "lmsysorg/sglang:latest-cu130", "lmsysorg/sglang@sha256:" + "a" * 64, "localhost:5000/team/sglang:0.5.23",
    "nvcr.io/nvidia/sglang:25.11-py3", "ubuntu:24.04", "dgx-station-sim/sglang-sim:57f4d36010ca",
    "[::1]:5000/sglang", "Registry.Example.com/sglang:tag",
])
def test_image_references_docker_accepts(value):
    accepted("sglang_server_image", value, "image_reference")


@pytest.mark.parametrize("value", [
    "", " lmsysorg/sglang", "lmsysorg/SGLang:latest", "LMSYS/sglang", "lmsysorg/sglang:", "lmsysorg/sglang:bad tag",
    "lmsysorg/sglang@sha256:short", "lmsysorg//sglang", "https://lmsysorg/sglang",
])
def test_malformed_image_references(value):
    message = refused("sglang_server_image", value, "image_reference")
    assert "not an image reference" in message and "lmsysorg/sglang:latest-cu130" in message


def test_uppercase_repository_says_lowercase():
    assert "lowercase" in refused("sglang_server_image", "lmsysorg/SGLang:latest", "image_reference")


@pytest.mark.parametrize("value,ok", [
    ("sglang-server", True), ("sglang_server.2", True), ("a", False), ("sglang server", False), ("-sglang", False),
    ("sglang/server", False), ("", False),
])
def test_container_names(value, ok):
    (accepted if ok else refused)("sglang_server_name", value, "container_name")


def test_capabilities():
    accepted("caps", ["SYS_NICE", "CAP_IPC_LOCK", "sys_ptrace"], "capabilities")
    message = refused("caps", ["SYS_NICE", "SYS_NICER"], "capabilities")
    assert "SYS_NICER" in message and "SYS_NICE" in message.split("Fix:")[1]


@pytest.mark.parametrize("value,ok", [
    ("/home/dgx/.cache/huggingface/hub", True), ("~/.cache/huggingface", False), ("cache/hub", False),
    ("/data/hf:cache", False), ("/data/a,b", False),
])
def test_bind_mount_paths(value, ok):
    (accepted if ok else refused)("sglang_server_hf_cache_dir", value, {"check": "absolute_path", "bind_mount": True})


def test_file_path_must_not_be_a_directory():
    message = refused("token_file", "/etc/sglang/", {"check": "absolute_path", "directory": False})
    assert "directory" in message


@pytest.mark.parametrize("value,ok", [
    ("-1:-1", True), ("67108864:67108864", True), ("1024:-1", True), ("unlimited", False), ("-1", False),
    ("10:5", False), ("-1:1024", False), ("-2:-1", False),
])
def test_ulimits(value, ok):
    (accepted if ok else refused)("sglang_server_ulimit_memlock", value, "ulimit")


def test_environment_keys_values_and_forbidden_keys():
    accepted("env", {"NCCL_DEBUG": "INFO", "_X1": 3}, "env")
    assert "1BAD, MY-VAR" in refused("env", {"1BAD": "x", "MY-VAR": "y"}, "env")
    assert "not scalars" in refused("env", {"A": {"b": 1}}, "env")
    message = refused("env", {"HF_TOKEN": "hf_x"}, {"check": "env", "forbid": {"HF_TOKEN": "set sglang_server_hf_token"}})
    assert "sets HF_TOKEN" in message and "sglang_server_hf_token" in message


@pytest.mark.parametrize("value,ok", [(30000, True), ("8080", True), (0, False), (70000, False), (1.5, False),
                                      ("http", False), (True, False)])
def test_ports(value, ok):
    (accepted if ok else refused)("sglang_server_host_port", value, "port")


def test_numbers_ranges_and_optional():
    rule = {"check": "number", "above": 0, "below": 1, "optional": True}
    accepted("frac", 0.85, rule)
    accepted("frac", None, rule)
    assert "> 0 and < 1" in refused("frac", 1.5, rule)
    assert "> 0" in refused("ctx", 0, {"check": "number", "integer": True, "above": 0})
    assert "whole number" in refused("ctx", 81.5, {"check": "number", "integer": True, "above": 0})


def test_models_and_regexes_and_platforms():
    accepted("m", "Qwen/Qwen3-8B", "model")
    accepted("m", "/models/qwen3", "model")
    assert "is empty" in refused("m", "  ", "model")
    assert "OWNER/NAME" in refused("m", "qwen3 8b", "model")
    assert "regular expression" in refused("p", "GB300(", "regex")
    accepted("p", "GB300|H200", "regex")
    accepted("pl", "linux/arm64", "platform")
    refused("pl", "arm64", "platform")


def test_gpu_ids():
    accepted("ids", ["1", "GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e", "MIG-2b4d3e6f-1a2b-5c3d-9e8f-0a1b2c3d4e5f"], "gpu_ids")
    assert "nvidia-smi -L" in refused("ids", ["gpu1"], "gpu_ids")
    assert "twice" in refused("ids", ["1", "1"], "gpu_ids")


def test_urls_hosts_and_addresses():
    accepted("u", "https://download.docker.com/linux/ubuntu", "url")
    accepted("u", "http://[::1]:8080/simple", "url")
    refused("u", "download.docker.com/linux", "url")
    refused("u", "ftp://x", "url")
    accepted("u", "file:///srv/wheels", {"check": "url", "schemes": ["https", "file"]})
    accepted("a", "127.0.0.1", "host_address")
    accepted("a", "::1", "host_address")
    assert "127.0.0.1" in refused("a", "localhost", "host_address")


def test_user_group_and_package_names():
    accepted("users", ["dgx", "ml_ops"], "unix_names")
    assert "Alice" in refused("users", ["dgx", "Alice"], "unix_names")
    refused("group", "docker group", "unix_name")
    accepted("pkgs", ["docker.io", "nvidia-container-toolkit=1.17.8-1"], "deb_packages")
    assert "Docker.IO" in refused("pkgs", ["Docker.IO"], "deb_packages")
    accepted("pip", ["requests", "docker>=7,<8", "jsonschema[format]==4.23.0"], "pip_requirements")
    refused("pip", ["requests; rm -rf /"], "pip_requirements")
    accepted("mods", ["docker", "jsonschema.validators"], "python_modules")
    refused("mods", ["python-docker"], "python_modules")


def test_secrets_are_not_shown():
    message = refused("sglang_server_api_key", "my secret key", {"check": "string", "no_whitespace": True, "secret": True})
    assert "my secret key" not in message and "<hidden>" in message


def test_extra_args_shape_and_flags_the_role_owns():
    owned = {"--port": "sglang_server_port", "--api-key": "sglang_server_api_key"}
    rule = {"check": "sglang_args", "owned": owned}
    accepted("extra", ["--max-running-requests", "64", "--enable-metrics-for-all-schedulers"], rule)
    assert "not a flag" in refused("extra", ["64", "--max-running-requests"], rule)
    message = refused("extra", ["--port=30001"], rule)
    assert "--port" in message and "sglang_server_port" in message
    assert "sglang_server_api_key" in refused("extra", ["--api-key", "k"], rule)


def test_extra_args_checked_against_the_images_help():
    rule = {"check": "sglang_args", "known_flags_text": SGLANG_HELP, "image": "lmsysorg/sglang:x"}
    accepted("extra", ["--tensor-parallel-size", "1", "--max-running-requests=8"], rule)
    message = refused("extra", ["--max-runing-requests", "8"], rule)
    assert "--max-runing-requests" in message and "lmsysorg/sglang:x" in message
    assert "did you mean --max-running-requests" in message
    assert "listed no flags" in refused("extra", ["--tp-size", "1"], dict(rule, known_flags_text=""))
    assert help_flags(SGLANG_HELP) >= {"--model-path", "--tp-size", "--tensor-parallel-size", "--enable-metrics"}


def test_every_error_of_a_run_is_reported_and_undefined_options_are_named():
    errors = check_settings({"a": "x y", "b": 0}, {"a": "container_name", "b": "port", "c": "port"})
    assert [e.split("=")[0].split(" ")[0] for e in errors] == ["a", "b", "c"]
    assert "c is not defined" in errors[2]


def test_a_rule_with_an_unknown_check_is_a_bug_not_a_user_error():
    with pytest.raises(RuleError):
        check_settings({"a": 1}, {"a": "no_such_check"})
    assert "port" in CHECKS


def test_apt_sources_and_signing_keys_as_the_roles_document_them():
    accepted("repo", "https://nvidia.github.io/libnvidia-container/stable/deb/arm64", "apt_source")
    accepted("repo", "file:/opt/dgx-station-test-repo/stable/deb/amd64", "apt_source")
    accepted("repo", "file:///srv/mirror", "apt_source")
    refused("repo", "nvidia.github.io/libnvidia-container", "apt_source")
    accepted("key", "https://nvidia.github.io/libnvidia-container/gpgkey", "signing_key")
    accepted("key", "/usr/share/keyrings/nvidia.gpg", "signing_key")
    accepted("key", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF...\n-----END PGP PUBLIC KEY BLOCK-----", "signing_key")
    assert "armored key" in refused("key", "nvidia.gpg", "signing_key")


def test_extra_args_checked_against_another_programs_help():
    rule = {"check": "sglang_args", "known_flags_text": "usage: smg launch [--policy P] [--cache-threshold T]",
            "help_command": "smg launch --help", "image": "smg 1.13.0", "kept": "the running gateway"}
    accepted("sglang_gateway_extra_args", ["--cache-threshold", "0.5"], rule)
    message = refused("sglang_gateway_extra_args", ["--cache-treshold", "0.5"], rule)
    assert "which `smg launch --help` of smg 1.13.0 does not list (did you mean --cache-threshold?)" in message
    assert "the running gateway was not touched" in message
