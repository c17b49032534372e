"""The `hf` stand-in (huggingface_hub 2.x CLI) fills the Hugging Face cache in huggingface_hub's own layout, refuses
a gated preset without a token, is idempotent; the simulated server's boot honours that cache like SGLang 0.5.23
(download_weights_from_hf): a cached snapshot skips the download, an uncached model is fetched into the cache."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from _sim_http import REPO_ROOT, SIM_DIR

HF_BIN = os.path.join(SIM_DIR, "bin", "hf")
RECIPE = os.path.join(REPO_ROOT, "tests", "images", "20-sglang-sim", "image.sh")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
GATED = "meta-llama/Llama-3.3-70B-Instruct"
DENIED = "Error: Access denied. Model '%s' requires approval." % GATED


def hf(tmp_path, *args, env=None):
    """Run the stand-in with a clean home: (rc, stdout, stderr, seconds)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    full.update({"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": "", "NO_COLOR": ""})
    full.update(env or {})
    start = time.monotonic()
    proc = subprocess.run([sys.executable, HF_BIN] + list(args), capture_output=True, text=True, env=full,
                          cwd=str(tmp_path), timeout=60, check=False)
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start


def repo_dir(cache, repo):
    return os.path.join(cache, "models--" + repo.replace("/", "--"))


def test_download_writes_huggingface_hub_cache_layout(tmp_path):
    rc, out, err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B")
    assert rc == 0, err
    cache = str(tmp_path / "home" / ".cache" / "huggingface" / "hub")  # the default, ~/.cache/huggingface/hub
    folder = repo_dir(cache, "Qwen/Qwen3-8B")
    with open(os.path.join(folder, "refs", "main")) as f:
        commit = f.read()
    assert COMMIT.match(commit)  # no newline
    snap = os.path.join(folder, "snapshots", commit)
    # What the real CLI prints at the end (human mode: green check mark, then the snapshot path).
    assert out == "\x1b[32m\u2713 Downloaded\x1b[0m\n  path: %s\n" % snap
    assert "Fetching 11 files: 100%" in err
    assert "Hint: The `hf-cli` skill is not installed." in err  # first run of the day only
    names = sorted(os.listdir(snap))
    assert {"config.json", "tokenizer.json", "model.safetensors.index.json",
            "model-00001-of-00004.safetensors"} <= set(names)
    for name in names:
        link = os.path.join(snap, name)
        assert os.path.islink(link)
        target = os.readlink(link)
        assert target.startswith("../../blobs/")
        with open(link, "rb") as f:
            data = f.read()
        assert len(data) < 4096
        etag = os.path.basename(target)
        if name.endswith(".safetensors") or name == "tokenizer.json":  # LFS: the sha256
            assert etag == hashlib.sha256(data).hexdigest()
        else:  # a regular git file: its git blob sha1
            assert etag == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        assert os.path.isfile(os.path.join(cache, ".locks", "models--Qwen--Qwen3-8B", etag + ".lock"))
    with open(os.path.join(snap, "model-00001-of-00004.safetensors"), "rb") as f:
        head = f.read()
    assert json.loads(head[8:8 + int.from_bytes(head[:8], "little")])["__metadata__"]["format"] == "pt"
    with open(os.path.join(folder, "trees", commit + ".json")) as f:
        tree = json.load(f)
    assert tree["format_version"] == 1 and sorted(tree["files"]) == names
    assert "lfs_sha256" in tree["files"]["model-00001-of-00004.safetensors"]
    assert "lfs_sha256" not in tree["files"]["config.json"]
    assert os.path.isfile(os.path.join(cache, "CACHEDIR.TAG"))


def test_cache_location_revision_and_output_formats(tmp_path):
    # HF_HOME/hub, HF_HUB_CACHE and --cache-dir, in that order of precedence (lowest first).
    rc, out, unused_err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "-q",
                                       env={"HF_HOME": str(tmp_path / "hfhome")})
    assert rc == 0 and out.startswith(str(tmp_path / "hfhome" / "hub" / "models--Qwen--Qwen3-8B" / "snapshots"))
    rc, out, unused_err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "-q",
                                       env={"HF_HOME": str(tmp_path / "hfhome"), "HF_HUB_CACHE": str(tmp_path / "c1")})
    assert rc == 0 and out.startswith(str(tmp_path / "c1" / "models--Qwen--Qwen3-8B" / "snapshots"))
    rc, out, unused_err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "--cache-dir", str(tmp_path / "c2"),
                                       "--format", "json", env={"HF_HUB_CACHE": str(tmp_path / "c1")})
    main = json.loads(out)["path"]
    assert rc == 0 and main.startswith(str(tmp_path / "c2"))
    # A tag resolves to its own commit, recorded in refs/<tag>; a commit hash is used as is, without a ref.
    rc, out, unused_err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "--revision", "v2", "-q",
                                       "--cache-dir", str(tmp_path / "c2"))
    folder = repo_dir(str(tmp_path / "c2"), "Qwen/Qwen3-8B")
    with open(os.path.join(folder, "refs", "v2")) as f:
        v2 = f.read()
    assert rc == 0 and out.strip() == os.path.join(folder, "snapshots", v2) != main
    commit = "0123456789abcdef0123456789abcdef01234567"
    rc, out, unused_err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "--revision", commit, "-q",
                                       "--cache-dir", str(tmp_path / "c2"))
    assert rc == 0 and out.strip() == os.path.join(folder, "snapshots", commit)
    assert sorted(os.listdir(os.path.join(folder, "refs"))) == ["main", "v2"]
    # One file: its path in the snapshot.
    rc, out, unused_err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "config.json", "-q",
                                       "--cache-dir", str(tmp_path / "c3"))
    assert rc == 0 and out.strip().endswith("/config.json") and os.path.isfile(out.strip())
    # Click-style usage errors exit 2; `huggingface-cli` is not part of huggingface_hub 2.x at all.
    rc, unused_out, err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "--bogus")
    assert rc == 2 and "Error: No such option '--bogus'." in err
    rc, out, unused_err, unused_s = hf(tmp_path, "version")
    assert rc == 0 and "version: 2.4.0" in out
    assert not os.path.exists(os.path.join(SIM_DIR, "bin", "huggingface-cli"))


def test_gated_model_needs_a_token(tmp_path):
    rc, out, err, unused_s = hf(tmp_path, "download", GATED, env={"NO_COLOR": "1"})
    assert (rc, out) == (1, "")
    assert DENIED in err and "Hint: set HF_DEBUG=1 as environment variable for full traceback." in err
    folder = repo_dir(str(tmp_path / "home" / ".cache" / "huggingface" / "hub"), GATED)
    assert not os.path.exists(os.path.join(folder, "snapshots"))  # metadata only: refs and the tree listing
    assert os.path.isdir(os.path.join(folder, "trees")) and os.path.isfile(os.path.join(folder, "refs", "main"))
    # Colours as the real CLI prints them (bold red error, grey hint) when NO_COLOR is not set.
    rc, unused_out, err, unused_s = hf(tmp_path, "download", GATED)
    assert rc == 1 and "\x1b[1m\x1b[31m" + DENIED + "\x1b[0m" in err
    # Any of the hub client's token sources lets it through: --token, HF_TOKEN, the token file.
    assert hf(tmp_path, "download", GATED, "-q", "--token", "hf_cli")[0] == 0
    assert hf(tmp_path, "download", GATED, "-q", env={"HF_TOKEN": "hf_env",
                                                      "HF_HUB_CACHE": str(tmp_path / "e")})[0] == 0
    # Once cached, the files need no Hub call, so no token either (as with the real client).
    assert hf(tmp_path, "download", GATED, "-q")[0] == 0
    assert hf(tmp_path, "download", GATED, "-q", "--force-download")[0] == 1
    hf_home = tmp_path / "hfhome"
    hf_home.mkdir()
    (hf_home / "token").write_text("")  # an empty token file is no token
    assert hf(tmp_path, "download", GATED, "-q", env={"HF_HOME": str(hf_home)})[0] == 1
    (hf_home / "token").write_text("hf_file\n")
    rc, out, unused_err, unused_s = hf(tmp_path, "download", GATED, "-q", env={"HF_HOME": str(hf_home)})
    assert rc == 0 and os.path.isdir(out.strip())
    token_path = tmp_path / "elsewhere"
    token_path.write_text("hf_path")
    assert hf(tmp_path, "download", GATED, "-q", env={"HF_TOKEN_PATH": str(token_path),
                                                      "HF_HUB_CACHE": str(tmp_path / "c")})[0] == 0


def test_second_download_is_quick_and_says_the_same(tmp_path):
    env = {"SGLANG_SIM_DOWNLOAD_SECONDS": "1.5", "HF_HUB_CACHE": str(tmp_path / "cache")}
    rc1, out1, unused_err, first = hf(tmp_path, "download", "Qwen/Qwen3-8B", env=env)
    folder = repo_dir(str(tmp_path / "cache"), "Qwen/Qwen3-8B")
    blob_dir = os.path.join(folder, "blobs")
    blobs = {n: os.stat(os.path.join(blob_dir, n)).st_mtime_ns for n in os.listdir(blob_dir)}
    rc2, out2, err2, second = hf(tmp_path, "download", "Qwen/Qwen3-8B", env=env)
    assert rc1 == rc2 == 0 and out1 == out2
    assert first >= 1.5 and second < 1.0
    assert "Hint:" not in err2 and "Fetching 11 files: 100%" in err2
    assert blobs == {n: os.stat(os.path.join(blob_dir, n)).st_mtime_ns for n in blobs}
    # Offline, a cached snapshot still answers; an uncached one is the hub client's offline error.
    rc, out, unused_err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "-q",
                                       env=dict(env, HF_HUB_OFFLINE="1"))
    assert rc == 0 and out.strip() == out1.split("path: ")[1].strip()
    rc, unused_out, err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3.6-27B", env=dict(env, HF_HUB_OFFLINE="1"))
    assert rc == 1 and "Local entry not found. Cannot reach https://huggingface.co/api/models/Qwen/Qwen3.6-27B/" \
                       "revision/main: offline mode is enabled." in err


def test_boot_skips_the_download_when_cached(start_sim, tmp_path):
    cache = str(tmp_path / "station-cache")
    rc, out, unused_err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "-q", env={"HF_HUB_CACHE": cache})
    assert rc == 0
    snap = out.strip()
    start = time.monotonic()
    sim = start_sim(env={"HF_HUB_CACHE": cache, "SGLANG_SIM_DOWNLOAD_SECONDS": "3"})
    assert time.monotonic() - start < 3
    logs = sim.logs()
    assert "Found local HF snapshot for Qwen/Qwen3-8B at %s; skipping download." % snap in logs
    assert "Using model weights format" not in logs


def test_boot_downloads_an_uncached_model_into_the_cache(start_sim, tmp_path):
    cache = str(tmp_path / "fresh-cache")
    start = time.monotonic()
    sim = start_sim(env={"HF_HUB_CACHE": cache, "SGLANG_SIM_DOWNLOAD_SECONDS": "1"})
    assert time.monotonic() - start >= 1
    logs = sim.logs()
    folder = repo_dir(cache, "Qwen/Qwen3-8B")
    with open(os.path.join(folder, "refs", "main")) as f:
        snap = os.path.join(folder, "snapshots", f.read())
    # The config and tokenizer arrive first (main process), then the weights in the load-weight phase.
    assert "Local HF snapshot at %s has no files matching ['*.safetensors', '*.bin']; will attempt download." \
        % snap in logs
    assert "Using model weights format ['*.safetensors']" in logs
    assert re.search(r"Load weight end\. elapsed=1\.\d\d s", logs)
    assert {"config.json", "model.safetensors.index.json", "model-00004-of-00004.safetensors"} <= set(os.listdir(snap))
    assert "README.md" not in os.listdir(snap)  # the server fetches what it loads, not the whole repository
    sim.stop()
    # The hf stand-in then fetches only what is missing and ends at the same snapshot.
    rc, out, unused_err, unused_s = hf(tmp_path, "download", "Qwen/Qwen3-8B", "-q", env={"HF_HUB_CACHE": cache})
    assert rc == 0 and out.strip() == snap and "README.md" in os.listdir(snap)
    sim = start_sim(env={"HF_HUB_CACHE": cache})
    assert "Found local HF snapshot for Qwen/Qwen3-8B at %s; skipping download." % snap in sim.logs()


def test_a_gated_model_boots_with_a_token_and_uses_the_cache(start_sim, tmp_path):
    cache = str(tmp_path / "cache")
    assert hf(tmp_path, "download", GATED, "-q", env={"HF_HUB_CACHE": cache, "HF_TOKEN": "hf_x"})[0] == 0
    sim = start_sim(model=GATED, env={"HF_HUB_CACHE": cache, "HF_TOKEN": "hf_x"})
    assert "Found local HF snapshot for %s" % GATED in sim.logs()


def _docker_ok():
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False).returncode == 0


@pytest.mark.slow
def test_image_has_hf_and_no_huggingface_cli(tmp_path):
    if not _docker_ok():
        pytest.skip("no Docker engine")
    image = subprocess.run(["bash", RECIPE], capture_output=True, text=True, timeout=600, check=True
                           ).stdout.strip().splitlines()[-1]
    hub = tmp_path / "hub"
    hub.mkdir()
    cmd = ["docker", "run", "--rm", "-v", "%s:/root/.cache/huggingface/hub" % hub, image]
    proc = subprocess.run(cmd + ["hf", "download", "Qwen/Qwen3-8B"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    path = proc.stdout.split("path: ")[1].strip()
    assert re.match(r"^/root/\.cache/huggingface/hub/models--Qwen--Qwen3-8B/snapshots/[0-9a-f]{40}$", path)
    commit = path.rsplit("/", 1)[1]
    assert (hub / "models--Qwen--Qwen3-8B" / "refs" / "main").read_text() == commit
    proc = subprocess.run(cmd + ["hf", "download", GATED], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and DENIED in proc.stderr
    proc = subprocess.run(cmd + ["bash", "-c", "huggingface-cli --help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 127
    subprocess.run(["docker", "run", "--rm", "-v", "%s:/hub" % hub, image, "rm", "-rf", "/hub/models--Qwen--Qwen3-8B",
                    "/hub/models--meta-llama--Llama-3.3-70B-Instruct", "/hub/.locks", "/hub/CACHEDIR.TAG"],
                   capture_output=True, timeout=60, check=False)
