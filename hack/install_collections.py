"""Install the collections of requirements.yml into a collections path without Galaxy.

Galaxy is not reachable from the project's machines, but PyPI is, and the `ansible`
community package on PyPI ships every collection we depend on. This reads
requirements.yml (the single declaration), downloads the pinned `ansible` wheel once,
extracts only the collections named there, and checks each against its lower bound.
Usage: install_collections.py REQUIREMENTS_YML COLLECTIONS_DIR ANSIBLE_PACKAGE_SPEC
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import yaml


def version_tuple(text):
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def installed_version(target, fqcn):
    namespace, name = fqcn.split(".")
    manifest = os.path.join(target, namespace, name, "MANIFEST.json")
    if not os.path.exists(manifest):
        return None, {}
    with open(manifest) as handle:
        info = json.load(handle)["collection_info"]
    return info["version"], info.get("dependencies") or {}


def main(requirements_path, collections_dir, package_spec):
    with open(requirements_path) as handle:
        wanted = {item["name"]: item.get("version", ">=0") for item in yaml.safe_load(handle)["collections"]}
    target = os.path.join(collections_dir, "ansible_collections")
    cache = os.path.join(collections_dir, ".wheel-cache")
    pending = list(wanted)
    seen = set()
    reused = []
    while pending:
        fqcn = pending.pop(0)
        if fqcn in seen:
            continue
        seen.add(fqcn)
        version, dependencies = installed_version(target, fqcn)
        if version is None:
            extract(cache, target, fqcn, package_spec)
            version, dependencies = installed_version(target, fqcn)
            print("collections: installed %s %s" % (fqcn, version))
        else:
            reused.append(fqcn)
        floor = wanted.get(fqcn, ">=0").lstrip(">=").strip()
        if version_tuple(version) < version_tuple(floor):
            sys.exit("collections: %s %s is older than the required %s" % (fqcn, version, floor))
        # The collections' own dependencies (community.docker needs
        # community.library_inventory_filtering_v1) come from the same package.
        pending.extend(dependencies)
    if reused:
        print("collections: %s present in %s, reusing them" % (", ".join(reused), collections_dir))
    return 0


def extract(cache, target, fqcn, package_spec):
    os.makedirs(cache, exist_ok=True)
    wheels = [f for f in os.listdir(cache) if f.endswith(".whl")]
    if not wheels:
        print("collections: downloading %s from PyPI" % package_spec)
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", cache, package_spec])
        wheels = [f for f in os.listdir(cache) if f.endswith(".whl")]
    namespace, name = fqcn.split(".")
    prefix = "ansible_collections/%s/%s/" % (namespace, name)
    with zipfile.ZipFile(os.path.join(cache, wheels[0])) as wheel:
        members = [m for m in wheel.namelist() if m.startswith(prefix)]
        if not members:
            sys.exit("collections: %s is not in %s" % (fqcn, wheels[0]))
        with tempfile.TemporaryDirectory() as tmp:
            wheel.extractall(tmp, members)
            dest = os.path.join(target, namespace, name)
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.move(os.path.join(tmp, prefix), dest)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
