#!/usr/bin/env bash
# Build the release artefacts into dist/:
#   dist/foley_assistant-<version>.tar.gz, dist/foley_assistant-<version>-py3-none-any.whl   (pip)
#   dist/foley-assistant-<version>-linux-<arch>.tar.gz   (desktop bundle: PyInstaller one-folder
#                                                        app + install.sh + menu entry + icons)
# Usage: packaging/build.sh [--python-only | --bundle-only]
# Needs the project venv (scripts/setup.sh) with the build tools: .venv/bin/pip install -e ".[package]"
# Work files go to build/pyinstaller/ (git-ignored). The bundle build takes minutes and several GB of
# temporary disk; run it on the OS you target (see docs/packaging.md for macOS/Windows).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
mode="${1:-all}"
case "$mode" in all|--python-only|--bundle-only) ;; *) echo "usage: $0 [--python-only|--bundle-only]" >&2; exit 2;; esac

version="$("$PY" -c 'from engine.version import __version__; print(__version__)')"
os="$(uname -s | tr '[:upper:]' '[:lower:]')"
arch="$(uname -m)"
mkdir -p dist
start=$SECONDS

if [ "$mode" != "--bundle-only" ]; then
  echo "build: wheel and sdist $version"
  mkdir -p build
  "$PY" -m build --no-isolation --outdir dist . > build/python-dist.log 2>&1 \
    || { tail -30 build/python-dist.log >&2; echo "build: wheel/sdist failed (log: build/python-dist.log)" >&2; exit 1; }
  ls -l "dist/foley_assistant-$version.tar.gz" "dist/foley_assistant-$version-py3-none-any.whl"
fi
[ "$mode" = "--python-only" ] && exit 0

[ -f resources/models/default.pt ] || echo "build: warning: resources/models/default.pt is missing; the bundle will ask for a model"
name="foley-assistant-$version-$os-$arch"
work=build/pyinstaller
stage="$work/stage/$name"

echo "build: PyInstaller one-folder bundle (this takes several minutes)"
"$PY" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$work/dist" --workpath "$work/work" packaging/foley-assistant.spec

rm -rf "$work/stage"
mkdir -p "$stage/share/applications" "$stage/share/icons/hicolor/scalable/apps"
cp -a "$work/dist/foley-assistant" "$stage/app"
ln -s foley-assistant "$stage/app/foley-engine"  # same program; the name selects the CLI
cp packaging/linux/install.sh "$stage/install.sh"
cp packaging/linux/foley-assistant.desktop "$stage/share/applications/"
cp resources/icons/foley-assistant.svg "$stage/share/icons/hicolor/scalable/apps/"
for png in packaging/icons/foley-assistant-*.png; do
  size="${png##*-}"; size="${size%.png}"
  install -D -m 644 "$png" "$stage/share/icons/hicolor/${size}x${size}/apps/foley-assistant.png"
done
echo "$version" > "$stage/VERSION"
chmod -R u+rwX,go+rX "$stage"  # readable by every user (e.g. a 0600 model file) for PREFIX=/opt installs
cat > "$stage/README.txt" <<EOF
Foley Assistant $version ($os $arch)

Run without installing:   ./app/foley-assistant
Install for this user:    ./install.sh          (menu entry, icons, ~/.local/bin/foley-assistant)
Uninstall:                ./install.sh --uninstall
Command-line tool:        ./app/foley-engine --help
Needs on Linux: glibc 2.28+, an X11 or Wayland desktop, libportaudio2 for audio playback.
EOF

echo "build: archive"
archive="dist/$name.tar.gz"
compress=gzip
command -v pigz >/dev/null && compress=pigz
tar -C "$work/stage" -cf - "$name" | "$compress" -6 > "$archive.tmp"
mv "$archive.tmp" "$archive"

echo "build: done in $((SECONDS - start)) s"
echo "  bundle:  $(du -sh "$stage/app" | cut -f1) unpacked ($stage/app)"
echo "  archive: $(du -h "$archive" | cut -f1) $archive"
