# -*- coding: utf-8 -*-
"""execution-environment.yml gives ansible-builder a build context with the collection's needs
(the image itself is not built: there is no registry for the base image here)."""
import os
import subprocess
import sys

import yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_ansible_builder_creates_a_build_context(tmp_path):
    builder = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    context = tmp_path / "context"
    run = subprocess.run([builder, "create", "-f", os.path.join(ROOT, "execution-environment.yml"),
                          "--context", str(context)], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    containerfile = (context / "Dockerfile").read_text()
    assert "ansible-core" in containerfile and "ansible-runner" in containerfile
    with open(os.path.join(ROOT, "requirements.yml")) as handle:
        wanted = yaml.safe_load(handle)["collections"]
    carried = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    assert [c["name"] for c in carried] == [c["name"] for c in wanted] == ["community.docker", "community.general"]
    python = (context / "_build" / "requirements.txt").read_text()
    assert "jsonschema" in python
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        assert set(yaml.safe_load(handle)["dependencies"]) == set(c["name"] for c in wanted)
