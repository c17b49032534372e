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


def main(requirements_path, collections_dir, package_spec):
    with open(requirements_path) as handle:
        wanted = yaml.safe_load(handle)["collections"]
    target = os.path.join(collections_dir, "ansible_collections")
    missing = []
    for item in wanted:
        namespace, name = item["name"].split(".")
        manifest = os.path.join(target, namespace, name, "MANIFEST.json")
        if not os.path.exists(manifest):
            missing.append(item)
    if not missing:
        print("collections: all present in %s, reusing them" % collections_dir)
        return 0
    cache = os.path.join(collections_dir, ".wheel-cache")
    os.makedirs(cache, exist_ok=True)
    wheels = [f for f in os.listdir(cache) if f.endswith(".whl")]
    if not wheels:
        print("collections: downloading %s from PyPI for %s" % (package_spec, ", ".join(i["name"] for i in missing)))
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", cache, package_spec])
        wheels = [f for f in os.listdir(cache) if f.endswith(".whl")]
    with zipfile.ZipFile(os.path.join(cache, wheels[0])) as wheel:
        for item in missing:
            namespace, name = item["name"].split(".")
            prefix = "ansible_collections/%s/%s/" % (namespace, name)
            members = [m for m in wheel.namelist() if m.startswith(prefix)]
            if not members:
                sys.exit("collections: %s is not in %s" % (item["name"], wheels[0]))
            with tempfile.TemporaryDirectory() as tmp:
                wheel.extractall(tmp, members)
                dest = os.path.join(target, namespace, name)
                shutil.rmtree(dest, ignore_errors=True)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.move(os.path.join(tmp, prefix), dest)
            with open(os.path.join(dest, "MANIFEST.json")) as handle:
                version = json.load(handle)["collection_info"]["version"]
            floor = item.get("version", ">=0").lstrip(">=").strip()
            if version_tuple(version) < version_tuple(floor):
                sys.exit("collections: %s %s is older than the required %s" % (item["name"], version, floor))
            print("collections: installed %s %s" % (item["name"], version))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
