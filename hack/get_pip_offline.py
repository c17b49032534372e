"""Stand-in for ansible-test's pip bootstrap script (get-pip.py), which lives on a host
our machines cannot reach. Like get-pip.py it is run with pip-install arguments in a
fresh venv without pip: install pip from the interpreter's bundled wheel (ensurepip),
then let that pip install what was asked (the pinned pip, from the package index)."""
import ensurepip
import os
import sys

GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")

# ensurepip rewrites os.environ to ignore pip's configuration (index, certificates);
# the real install must run with the caller's environment.
environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
os.execve(sys.executable, [sys.executable, "-m", "pip", "install"] + args, environment)
