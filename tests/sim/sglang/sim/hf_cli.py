"""`hf`: a stand-in for huggingface_hub's CLI (2.x, the version range transformers 5.19 / SGLang 0.5.23 pull in).

Only `hf download` does real work, offline: it "downloads" a repository of the simulated hub (see hfcache.py)
into the Hugging Face cache exactly in huggingface_hub's layout, honours --revision, --cache-dir, --local-dir,
--include/--exclude, filenames, --token / HF_TOKEN / the token file, refuses a gated preset without a token,
and prints what the real command prints (human, agent, json or quiet output). `hf version` and `hf --version`
answer 2.4.0. SGLANG_SIM_DOWNLOAD_SECONDS makes a download of files that are not cached yet take that long.
"""
import os
import sys
import time

from . import hfcache

VERSION = "2.4.0"
GREEN, RED_BOLD, GRAY, RESET = "\x1b[32m", "\x1b[1m\x1b[31m", "\x1b[90m", "\x1b[0m"
DEBUG_HINT = "set HF_DEBUG=1 as environment variable for full traceback."
USAGE = "Usage: hf download [OPTIONS] REPO_ID [FILENAMES]..."
VALUE_OPTS = {"--type": "repo_type", "--repo-type": "repo_type", "--revision": "revision",
              "--include": "include", "--exclude": "exclude", "--cache-dir": "cache_dir",
              "--local-dir": "local_dir", "--token": "token", "--max-workers": "max_workers", "--format": "format"}
FLAG_OPTS = {"--force-download": ("force_download", True), "--no-force-download": ("force_download", False),
             "--dry-run": ("dry_run", True), "--no-dry-run": ("dry_run", False), "--json": ("format", "json"),
             "-q": ("format", "quiet"), "--quiet": ("format", "quiet"), "--no-truncate": ("no_truncate", True)}
MULTI = ("include", "exclude")
FORMATS = ("auto", "human", "agent", "json", "quiet")
HELP = """Usage: hf download [OPTIONS] REPO_ID [FILENAMES]...

  Download files from the Hub (simulated: an offline stand-in of huggingface_hub %s).

Arguments:
  REPO_ID         The repository, `org/name`.  [required]
  [FILENAMES]...  Only these files (a name ending with `/` is a folder).

Options:
  --type, --repo-type [model|dataset|space|kernel]
  --revision TEXT        Branch, tag or commit hash.
  --include TEXT         Glob pattern of files to download (repeatable).
  --exclude TEXT         Glob pattern of files to skip (repeatable).
  --cache-dir TEXT       Cache directory (default: HF_HUB_CACHE, else HF_HOME/hub).
  --local-dir TEXT       Put the files in this directory instead of the cache.
  --force-download / --no-force-download
  --dry-run / --no-dry-run
  --token TEXT           A User Access Token.
  --max-workers INTEGER  [default: 8]
  -h, --help             Show this message and exit.

Formatting options:
  --format [auto|human|agent|json|quiet]
  --json
  -q, --quiet
""" % VERSION


class Out:
    def __init__(self, mode="human"):
        self.mode = mode

    def color(self, code, text):
        if self.mode != "human" or os.environ.get("NO_COLOR"):
            return text
        return code + text + RESET

    def stderr(self, text):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def hint(self, message):
        if self.mode != "quiet":
            self.stderr(self.color(GRAY, "Hint: " + message))

    def error(self, message):
        self.stderr(self.color(RED_BOLD, "Error: " + message))

    def result(self, message, **data):
        if self.mode == "human":
            lines = [self.color(GREEN, "\u2713 " + message)] + ["  %s: %s" % kv for kv in data.items()]
            text = "\n".join(lines)
        elif self.mode == "agent":
            text = " ".join("%s=%s" % kv for kv in data.items()) or message
        elif self.mode == "json":
            import json
            text = json.dumps(data) if data else ""
        else:
            text = str(list(data.values())[0]) if data else ""
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def progress(self, desc, done, total, elapsed, close=False):
        """A tqdm bar on stderr, shown in human mode only (as with the real CLI, also when not a TTY)."""
        if self.mode != "human" or os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS", "").lower() in ("1", "true", "yes", "on"):
            return
        pct = int(100 * done / total) if total else 100
        filled = int(10 * done / total) if total else 10
        meter = "\u2588" * filled + " " * (10 - filled)
        if done:
            rate = "%.2fit/s" % (done / elapsed if elapsed > 0 else 1000.0)
            text = "\r%s: %3d%%|%s| %d/%d [00:%02d<00:00, %s]" % (desc, pct, meter, done, total, int(elapsed), rate)
        else:
            text = "\r%s: %3d%%|%s| %d/%d [00:%02d<?, ?it/s]" % (desc, pct, meter, done, total, int(elapsed))
        sys.stderr.write(text + ("\n" if close else ""))
        sys.stderr.flush()


class UsageError(Exception):
    pass


def parse(argv):
    opts = {"repo_type": "model", "revision": None, "include": [], "exclude": [], "cache_dir": None,
            "local_dir": None, "token": None, "max_workers": "8", "format": None, "force_download": False,
            "dry_run": False, "no_truncate": False, "help": False}
    positional = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg.partition("=")
        if arg in ("-h", "--help"):
            opts["help"] = True
        elif name in VALUE_OPTS and arg.startswith("--"):
            key = VALUE_OPTS[name]
            if eq:
                value = inline
            else:
                if i + 1 >= len(argv):
                    raise UsageError("Option '%s' requires an argument." % name)
                i += 1
                value = argv[i]
            if key in MULTI:
                opts[key].append(value)
            else:
                opts[key] = value
        elif arg in FLAG_OPTS:
            key, value = FLAG_OPTS[arg]
            opts[key] = value
        elif arg.startswith("-") and arg != "-":
            raise UsageError("No such option '%s'." % name)
        else:
            positional.append(arg)
        i += 1
    if opts["format"] is not None and opts["format"] not in FORMATS:
        raise UsageError("Invalid value for '--format': '%s' is not one of %s." % (
            opts["format"], ", ".join("'%s'" % f for f in FORMATS)))
    if opts["repo_type"] not in ("model", "dataset", "space", "kernel"):
        raise UsageError("Invalid value for '--type' / '--repo-type': '%s' is not one of 'model', 'dataset', "
                         "'space', 'kernel'." % opts["repo_type"])
    try:
        int(opts["max_workers"])
    except ValueError:
        raise UsageError("Invalid value for '--max-workers': '%s' is not a valid integer." % opts["max_workers"])
    return opts, positional


def _skill_hint(out):
    """The CLI's once-a-day hint about its agent skill (stamps in HF_HOME); HF_HUB_DISABLE_UPDATE_CHECK skips it."""
    if os.environ.get("HF_HUB_DISABLE_UPDATE_CHECK", "").lower() in ("1", "true", "yes", "on"):
        return
    home = hfcache.hf_home()
    for stamp in (".check_for_update_done", ".check_for_skill_update_done"):
        path = os.path.join(home, stamp)
        fresh = os.path.exists(path) and time.time() - os.path.getmtime(path) < 24 * 3600
        if stamp.startswith(".check_for_skill") and fresh:
            return
        if not fresh:
            try:
                os.makedirs(home, exist_ok=True)
                with open(path, "a"):
                    os.utime(path, None)
            except OSError:
                pass
    roots = [os.path.expanduser("~/.agents/skills"),
             os.path.join(os.environ.get("CLAUDE_CONFIG_DIR") or os.path.expanduser("~/.claude"), "skills"),
             ".agents/skills", ".claude/skills"]
    if not any(os.path.isdir(os.path.join(r, "hf-cli")) for r in roots):
        out.hint("The `hf-cli` skill is not installed. Run `hf skills add -g` to teach your AI agents how to use "
                 "the `hf` CLI.")


def _preset_for(repo_id):
    try:
        from .main import load_presets, model_meta
        preset = load_presets().get_preset(repo_id)
        return preset, model_meta(repo_id)
    except Exception:  # noqa: BLE001
        return {}, None


def download(opts, positional, out):
    if not positional:
        sys.stdout.write(HELP)
        return 0
    repo_id, filenames = positional[0], positional[1:]
    endpoint = (os.environ.get("HF_ENDPOINT") or hfcache.DEFAULT_ENDPOINT).rstrip("/")
    if opts["local_dir"] is not None and opts["cache_dir"] is not None:
        out.error("Cannot use both `--local-dir` and `--cache-dir` at the same time. Use `--cache-dir` (or set the "
                  "HF_HOME environment variable) for shared caching, or `--local-dir` for a one-off download to a "
                  "specific directory.")
        out.hint(DEBUG_HINT)
        return 1
    repo_type = opts["repo_type"]
    if repo_id.startswith("hf://"):
        rest = repo_id[len("hf://"):]
        for prefix, rtype in (("datasets/", "dataset"), ("spaces/", "space"), ("models/", "model")):
            if rest.startswith(prefix):
                rest, repo_type = rest[len(prefix):], rtype
        repo_id, _sep, rev = rest.partition("@")
        if rev:
            opts["revision"] = rev
    revision = opts["revision"] or "main"
    cache_dir = os.path.expanduser(opts["cache_dir"]) if opts["cache_dir"] else hfcache.hub_cache()
    repo = hfcache.Repo(cache_dir, repo_id, repo_type)
    preset, meta = _preset_for(repo_id) if repo_type == "model" else ({}, None)
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on") or \
        os.environ.get("TRANSFORMERS_OFFLINE", "").lower() in ("1", "true", "yes", "on")

    subfolders = [f for f in filenames if f.endswith("/")]
    regular = [f for f in filenames if not f.endswith("/")]
    if filenames:
        allow, ignore = regular + [f.rstrip("/") + "/**" for f in subfolders], None
    else:
        allow, ignore = opts["include"] or None, opts["exclude"] or None
    single = len(regular) == 1 and not subfolders

    if offline:
        # No Hub: only what the cache already holds.
        commit = hfcache.COMMIT_RE.match(revision) and revision or repo.ref(revision)
        snap = repo.snapshot(commit) if commit else None
        target = os.path.join(snap, regular[0]) if snap and single else snap
        if target and os.path.exists(target) and opts["local_dir"] is None:
            out.result("Downloaded", path=target)
            return 0
        if single:
            url = "%s/%s/resolve/%s/%s" % (endpoint, repo_id, revision, regular[0])
        else:
            url = "%s/api/%ss/%s/revision/%s" % (endpoint, repo_type, repo_id, revision)
        out.error("Local entry not found. Cannot reach %s: offline mode is enabled. To disable it, please unset the "
                  "`HF_HUB_OFFLINE` environment variable." % url)
        out.hint(DEBUG_HINT)
        return 1

    commit = hfcache.commit_for(repo_id, revision)
    files = hfcache.repo_files(repo_id, commit, preset, meta)
    wanted = hfcache.filter_files(list(files), allow, ignore)
    if single and regular[0] not in files:
        out.error("File not found in %s '%s'.\nURL: %s/%s/resolve/%s/%s" % (
            repo_type, repo_id, endpoint, repo_id, commit, regular[0]))
        out.hint(DEBUG_HINT)
        return 1
    gated = bool(preset.get("gated")) and repo_type == "model"
    token = hfcache.find_token(opts["token"])
    desc = "Fetching %d files" % len(wanted)
    local_dir = opts["local_dir"]
    start = time.monotonic()

    if opts["dry_run"]:
        return _dry_run(out, repo, commit, files, wanted, local_dir, opts["force_download"], gated and not token)

    # The repository's metadata and tree listing are public, gated or not: the ref and the tree cache land first.
    if local_dir is None and not single:
        repo.write_ref(revision, commit)
        repo.write_tree(commit, files)
    if not single:
        out.progress(desc, 0, len(wanted), 0.0)
    todo = [n for n in wanted if opts["force_download"] or not _present(repo, commit, n, local_dir)]
    if gated and not token and todo:
        # A file that is not cached yet needs the Hub, which answers 401 GatedRepo (cached files need nothing).
        if not single:
            out.progress(desc, 0, len(wanted), time.monotonic() - start, close=True)
        out.error("Access denied. Model '%s' requires approval." % repo_id)
        out.hint(DEBUG_HINT)
        return 1
    seconds = _env_float("SGLANG_SIM_DOWNLOAD_SECONDS", 0.0)
    if todo and seconds > 0:
        time.sleep(seconds)
    if todo and local_dir is None:
        repo.write_cachedir_tag()
    for name in wanted:
        if name in todo:
            if local_dir is None:
                repo.write_file(commit, name, files[name])
            else:
                _write_local(local_dir, repo_id, commit, name, files[name], files)
    if local_dir is None and single:
        repo.write_ref(revision, commit)
    if not single:
        out.progress(desc, len(wanted), len(wanted), time.monotonic() - start, close=True)
    if local_dir is not None:
        path = os.path.realpath(local_dir)
        if single:
            path = os.path.join(path, regular[0])
    else:
        path = repo.snapshot(commit)
        if single:
            path = os.path.join(path, regular[0])
    out.result("Downloaded", path=path)
    return 0


def _present(repo, commit, name, local_dir):
    if local_dir is not None:
        return os.path.exists(os.path.join(local_dir, name))
    return repo.has_file(commit, name)


def _write_local(local_dir, repo_id, commit, name, data, files):
    meta_dir = os.path.join(local_dir, ".cache", "huggingface")
    os.makedirs(os.path.join(meta_dir, "download"), exist_ok=True)
    for fname, content in ((".gitignore", "*"), ("CACHEDIR.TAG", hfcache.CACHEDIR_TAG)):
        path = os.path.join(meta_dir, fname)
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(content)
    tree = os.path.join(meta_dir, "trees", commit + ".json")
    if not os.path.exists(tree):
        import json
        os.makedirs(os.path.dirname(tree), exist_ok=True)
        with open(tree, "w") as f:
            json.dump(hfcache.tree_listing(files), f, indent=1)
    target = os.path.join(local_dir, *name.split("/"))
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    with open(target, "wb") as f:
        f.write(data)
    base = os.path.join(meta_dir, "download", *name.split("/"))
    os.makedirs(os.path.dirname(base), exist_ok=True)
    with open(base + ".lock", "a"):
        pass
    with open(base + ".metadata", "w") as f:
        f.write("%s\n%s\n%s\n" % (commit, hfcache.etag_of(name, data), time.time()))


def _dry_run(out, repo, commit, files, wanted, local_dir, force, refused):
    if refused:
        out.error("Dry run cannot be performed as the repository cannot be accessed. Please check your internet "
                  "connection or authentication token.")
        out.hint(DEBUG_HINT)
        return 1
    rows, total = [], 0
    for name in sorted(wanted):
        will = force or not _present(repo, commit, name, local_dir)
        size = len(files[name])
        total += size if will else 0
        rows.append((name, _fmt_size(size) if will else "-", will))
    count = sum(1 for r in rows if r[2])
    sys.stdout.write("[dry-run] Will download %d files (out of %d) totalling %s.\n" % (count, len(rows), _fmt_size(total)))
    width = max([len("FILE")] + [len(r[0]) for r in rows])
    swidth = max([len("SIZE")] + [len(r[1]) for r in rows])
    sys.stdout.write("%s %s\n%s %s\n" % ("FILE".ljust(width), "SIZE".ljust(swidth), "-" * width, "-" * swidth))
    for name, size, unused_will in rows:
        sys.stdout.write("%s %s\n" % (name.ljust(width), size.ljust(swidth)))
    return 0


def _fmt_size(num):
    for unit in ("", "K", "M", "G", "T"):
        if abs(num) < 1000.0:
            return "%.1f%s" % (num, unit)
        num /= 1000.0
    return "%.1fP" % num


def _env_float(name, default):
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Out()
    if argv and argv[0] in ("-v", "--version"):
        sys.stdout.write(VERSION + "\n")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write("Usage: hf [OPTIONS] COMMAND [ARGS]...\n\n  Hugging Face Hub CLI (simulated: only `download` "
                         "and `version`).\n\nCommands:\n  download  Download files from the Hub.\n  version   Print "
                         "information about the hf version.\n")
        return 0
    _skill_hint(out)
    command, rest = argv[0], argv[1:]
    if command == "version":
        out.result("hf version", version=VERSION)
        return 0
    if command != "download":
        sys.stderr.write("Usage: hf [OPTIONS] [COMMAND] [ARGS]...\nTry 'hf --help' for help.\n\nError: No such command "
                         "'%s'.\n" % command)
        return 2
    try:
        opts, positional = parse(rest)
    except UsageError as e:
        sys.stderr.write("%s\nTry 'hf download --help' for help.\n\nError: %s\n" % (USAGE, e))
        return 2
    if opts["help"]:
        sys.stdout.write(HELP)
        return 0
    mode = opts["format"] or "auto"
    out.mode = "human" if mode == "auto" else mode
    return download(opts, positional, out)


if __name__ == "__main__":
    sys.exit(main())
