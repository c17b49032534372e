"""Make `ansible_collections.dgx_station.inference` importable for plain pytest.

`make venv` links this checkout at .build/collections/ansible_collections/dgx_station/inference,
next to the collections it depends on; the same layout ansible-test uses.
"""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_DIR = os.path.join(REPO_ROOT, ".build", "collections")
if not os.path.isdir(os.path.join(COLLECTIONS_DIR, "ansible_collections", "dgx_station", "inference")):
    raise RuntimeError("Run `make venv` first: it links the collection under .build/collections")
if COLLECTIONS_DIR not in sys.path:
    sys.path.insert(0, COLLECTIONS_DIR)
