"""A simulated Hugging Face Hub and the on-disk cache layout of `huggingface_hub` 2.x.

Nothing here talks to a network: every repository "exists", its files are a few small, deterministic
stand-ins (a valid but empty safetensors per shard), and a repository is gated when the collection's
preset says so. What is written follows huggingface_hub's cache layout:

    <cache>/CACHEDIR.TAG
    <cache>/.locks/models--Org--Name/<etag>.lock
    <cache>/models--Org--Name/blobs/<etag>            etag: git blob sha1, or sha256 for LFS files
    <cache>/models--Org--Name/refs/<revision>         the commit hash (no newline), unless revision is one
    <cache>/models--Org--Name/snapshots/<commit>/<f>  relative symlink to ../../blobs/<etag>
    <cache>/models--Org--Name/trees/<commit>.json     the cached tree listing (format_version 1)
"""
import fnmatch
import hashlib
import json
import os
import re
import struct
import tempfile

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
DEFAULT_ENDPOINT = "https://huggingface.co"
CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# Cache directory tag (https://bford.info/cachedir/) of a Hugging Face hub cache.\n")
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
LFS_NAMES = ("tokenizer.json",)


def _env_path(name):
    value = os.environ.get(name, "")
    return os.path.expanduser(os.path.expandvars(value)) if value.strip() else None


def hf_home():
    """HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface (an empty variable counts as unset)."""
    home = _env_path("HF_HOME")
    if home:
        return home
    xdg = _env_path("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(xdg, "huggingface")


def hub_cache():
    """HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub."""
    return _env_path("HF_HUB_CACHE") or _env_path("HUGGINGFACE_HUB_CACHE") or os.path.join(hf_home(), "hub")


def token_path():
    return _env_path("HF_TOKEN_PATH") or os.path.join(hf_home(), "token")


def find_token(explicit=None):
    """The token the hub client would send: --token, HF_TOKEN (or HUGGING_FACE_HUB_TOKEN), the token file."""
    if explicit is not None and explicit.strip():
        return explicit.strip()
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    try:
        with open(token_path()) as f:
            return f.read().strip() or None
    except OSError:
        return None


def repo_folder_name(repo_id, repo_type="model"):
    return "--".join(["%ss" % repo_type] + repo_id.split("/"))


def commit_for(repo_id, revision):
    """The commit a revision resolves to: a 40-hex revision is a commit, a branch or tag maps to a stable fake one."""
    revision = revision or "main"
    if COMMIT_RE.match(revision):
        return revision
    return hashlib.sha1(("sglang-sim:%s@%s" % (repo_id, revision)).encode()).hexdigest()


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(name):
    return name.endswith(LFS_SUFFIXES) or os.path.basename(name) in LFS_NAMES


def etag_of(name, data):
    return hashlib.sha256(data).hexdigest() if is_lfs(name) else git_blob_sha1(data)


def _safetensors(shard, total):
    header = json.dumps({"__metadata__": {"format": "pt", "sglang_sim": "placeholder shard %d of %d"
                                          % (shard, total)}}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header


def repo_files(repo_id, commit, preset=None, meta=None):
    """{filename: bytes} of the simulated repository at `commit` (small stand-ins, stable across runs)."""
    preset = preset or {}
    model_type, arch = (meta or ("qwen3", "Qwen3ForCausalLM"))[:2]
    gb = float(preset.get("download_gb") or 16)
    shards = max(1, min(8, int((gb + 3.999) // 4)))
    names = ["model-%05d-of-%05d.safetensors" % (i, shards) for i in range(1, shards + 1)]

    def js(obj):
        return (json.dumps(obj, indent=2) + "\n").encode()

    files = {
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\ntokenizer.json filter=lfs diff=lfs "
                          b"merge=lfs -text\n",
        "README.md": ("# %s\n\nSimulated repository (commit %s): small placeholder files, no real weights.\n"
                      % (repo_id, commit)).encode(),
        "config.json": js({"architectures": [arch], "model_type": model_type, "torch_dtype": "bfloat16",
                           "max_position_embeddings": 40960}),
        "generation_config.json": js({"do_sample": True, "temperature": 0.6, "top_p": 0.95, "top_k": 20}),
        "tokenizer.json": js({"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []}}),
        "tokenizer_config.json": js({"model_max_length": 131072, "eos_token": "<|im_end|>"}),
        "model.safetensors.index.json": js({"metadata": {"total_size": int(gb * (1 << 30))},
                                            "weight_map": {"model.layers.%d.weight" % i: n
                                                           for i, n in enumerate(names)}}),
    }
    for i, n in enumerate(names, start=1):
        files[n] = _safetensors(i, shards)
    return dict(sorted(files.items()))


def tree_listing(files):
    out = {}
    for name, data in files.items():
        entry = {"size": len(data), "blob_id": git_blob_sha1(data)}
        if is_lfs(name):
            entry["lfs_sha256"] = hashlib.sha256(data).hexdigest()
            entry["lfs_size"] = len(data)
        out[name] = entry
    return {"format_version": 1, "files": out}


def filter_files(names, allow=None, ignore=None):
    """huggingface_hub's filter_repo_objects: a pattern ending with '/' matches everything below it."""
    def norm(p):
        return p + "*" if p.endswith("/") else p
    out = []
    for n in names:
        if allow and not any(fnmatch.fnmatch(n, norm(p)) for p in allow):
            continue
        if ignore and any(fnmatch.fnmatch(n, norm(p)) for p in ignore):
            continue
        out.append(n)
    return out


def _atomic_write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class Repo:
    """One repository in one cache directory."""

    def __init__(self, cache_dir, repo_id, repo_type="model"):
        self.cache_dir = cache_dir
        self.repo_id = repo_id
        self.repo_type = repo_type
        self.folder = os.path.join(cache_dir, repo_folder_name(repo_id, repo_type))

    def ref(self, revision):
        try:
            with open(os.path.join(self.folder, "refs", revision or "main")) as f:
                return f.read().strip() or None
        except OSError:
            return None

    def snapshot(self, commit):
        return os.path.join(self.folder, "snapshots", commit)

    def write_ref(self, revision, commit):
        if revision == commit:
            return
        path = os.path.join(self.folder, "refs", revision)
        if self.ref(revision) != commit:
            _atomic_write(path, commit.encode())

    def write_tree(self, commit, files):
        path = os.path.join(self.folder, "trees", commit + ".json")
        if not os.path.exists(path):
            _atomic_write(path, json.dumps(tree_listing(files), indent=1).encode())

    def has_file(self, commit, name):
        return os.path.exists(os.path.join(self.snapshot(commit), name))

    def write_file(self, commit, name, data):
        """One file as hf_hub_download stores it: the blob, its lock file, the snapshot symlink."""
        tag = etag_of(name, data)
        lock = os.path.join(self.cache_dir, ".locks", repo_folder_name(self.repo_id, self.repo_type), tag + ".lock")
        os.makedirs(os.path.dirname(lock), exist_ok=True)
        if not os.path.exists(lock):
            with open(lock, "ab"):
                pass
            os.chmod(lock, 0o664)
        blob = os.path.join(self.folder, "blobs", tag)
        if not os.path.exists(blob):
            _atomic_write(blob, data)
        pointer = os.path.join(self.snapshot(commit), *name.split("/"))
        os.makedirs(os.path.dirname(pointer), exist_ok=True)
        if os.path.lexists(pointer):
            os.unlink(pointer)
        os.symlink(os.path.relpath(blob, os.path.dirname(pointer)), pointer)

    def write_cachedir_tag(self):
        path = os.path.join(self.cache_dir, "CACHEDIR.TAG")
        if not os.path.exists(path):
            try:
                os.makedirs(self.cache_dir, exist_ok=True)
                with open(path, "w") as f:
                    f.write(CACHEDIR_TAG)
            except OSError:
                pass


def local_snapshot(model, revision, cache_dirs, patterns=("*.safetensors", "*.bin")):
    """SGLang's _find_local_hf_snapshot_dir_unlocked: (snapshot dir, has weights, what is missing) or None.

    Looks in each cache directory: refs/<revision or main> gives the commit (or the revision is one), the
    snapshot must exist, hold a weight file matching the patterns, and every shard its index lists."""
    for cache_dir in cache_dirs:
        if not cache_dir:
            continue
        repo = Repo(cache_dir, model)
        commit = repo.ref(revision or "main") or revision
        if not commit:
            continue
        snap = repo.snapshot(commit)
        if not os.path.isdir(snap):
            continue
        weights = [n for n in sorted(os.listdir(snap)) if any(fnmatch.fnmatch(n, p) for p in patterns)
                   and os.path.exists(os.path.join(snap, n))]
        missing = None
        for n in sorted(os.listdir(snap)):
            if n.endswith(".safetensors.index.json"):
                try:
                    with open(os.path.join(snap, n)) as f:
                        shards = set(json.load(f).get("weight_map", {}).values())
                except (OSError, ValueError):
                    continue
                lost = sorted(s for s in shards if not os.path.exists(os.path.join(snap, s)))
                if lost:
                    missing = "Missing %d file(s) from index %s: %r%s" % (len(lost), n, lost[:3],
                                                                          "..." if len(lost) > 3 else "")
                    break
        return snap, bool(weights), missing
    return None
