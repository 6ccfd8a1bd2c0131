#!/usr/bin/env bash
# Manual check of the pip route: build sdist -> wheel (as `python -m build` does) from a copy of this
# checkout, install the wheel into a FRESH venv, and run the installed foley-app/foley-engine from a
# clean environment and folder: --version, where resources resolve, and `foley-app --smoke-test` on
# the bundled demo. Dependencies are reused from .venv through a .pth file (nothing is downloaded);
# drop that line to test a full `pip install` from PyPI instead.
# Usage: packaging/check_wheel.sh [WORK_DIR]   (default: a new temp dir, kept for inspection)
set -euo pipefail
cd "$(dirname "$0")/.."
T="${1:-$(mktemp -d -t foley-wheel-XXXXXX)}"
mkdir -p "$T/src" "$T/out" "$T/home"
cp -r engine foley_app resources pyproject.toml setup.py MANIFEST.in "$T/src/"
if [ -f README.md ]; then cp README.md "$T/src/"; else echo "Foley Assistant" > "$T/src/README.md"; fi
find "$T/src" -name __pycache__ -prune -exec rm -rf {} +
.venv/bin/python -m build --no-isolation --outdir "$T/out" "$T/src" >/dev/null
ls -l "$T"/out/*
python3 -m venv "$T/venv"
site="$("$T/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > "$site/zz_foley_deps.pth"
"$T/venv/bin/pip" install -q --no-deps "$T"/out/*.whl
cd "$T/home"
clean=(env -i PATH=/usr/bin:/bin HOME="$T/home" QT_QPA_PLATFORM=offscreen)
"${clean[@]}" "$T/venv/bin/foley-app" --version
"${clean[@]}" "$T/venv/bin/foley-engine" --version
"${clean[@]}" "$T/venv/bin/python" -c "import engine.resources as r; print('model:', r.default_model_path()); print('demo:', r.demo_video_path())"
start=$SECONDS
"${clean[@]}" "$T/venv/bin/foley-app" --smoke-test 600 | tail -1
echo "check_wheel: passed in $((SECONDS - start)) s (work dir $T)"
