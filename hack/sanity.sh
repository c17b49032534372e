#!/usr/bin/env bash
# Run `ansible-test sanity` without Docker images. ansible-test needs the collection
# at a path ending in ansible_collections/<namespace>/<name>, so the files git would
# ship (tracked plus untracked-but-not-ignored) are copied into such a tree first.
set -euo pipefail
cd "$(dirname "$0")/.."
tree="$PWD/.build/sanity/ansible_collections/dgx_station/inference"
rm -rf "$tree" && mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard | xargs -0 -r ls -d 2>/dev/null | tar -cf - -T - | tar -xf - -C "$tree"
cd "$tree"
# ansible-test asks git for the file list: give the copy its own throwaway repository.
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
# ansible-test bootstraps pip in each test venv with a script from a host we cannot
# reach; give it a local stand-in, under a HOME of our own so nothing else is touched.
export HOME="$tree/../../../home"
pip_version="$(grep -oP "^\s+pip='\K[0-9.]+" "$(python3 -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")"
mkdir -p "$HOME/.ansible/test/cache"
cp "$OLDPWD/hack/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
exec ansible-test sanity --venv --requirements --python "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" "$@"
