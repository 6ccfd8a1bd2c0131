#!/usr/bin/env bash
# Install Foley Assistant from this unpacked archive for the current user (no root needed):
#   ./install.sh               -> ~/.local/opt/foley-assistant, ~/.local/bin/{foley-assistant,foley-engine},
#                                 menu entry + icons under ~/.local/share
#   ./install.sh --uninstall   -> removes exactly those files
# PREFIX=/some/dir ./install.sh installs under another prefix instead of ~/.local.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${PREFIX:-$HOME/.local}"
app_dir="$prefix/opt/foley-assistant"
bin_dir="$prefix/bin"
share="$prefix/share"
desktop="$share/applications/foley-assistant.desktop"
sizes=(16 22 24 32 48 64 128 256 512)

refresh_caches() {
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$share/applications" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$share/icons/hicolor" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$app_dir"
  rm -f "$bin_dir/foley-assistant" "$bin_dir/foley-engine" "$desktop"
  for s in "${sizes[@]}"; do rm -f "$share/icons/hicolor/${s}x${s}/apps/foley-assistant.png"; done
  rm -f "$share/icons/hicolor/scalable/apps/foley-assistant.svg"
  refresh_caches
  echo "Foley Assistant removed from $prefix"
  exit 0
fi
[ -x "$here/app/foley-assistant" ] || { echo "install.sh: run it from the unpacked archive (app/foley-assistant not found next to it)" >&2; exit 1; }

# Copy the app next to its final place, then swap it in, so a failed copy leaves the old one intact.
mkdir -p "$prefix/opt" "$bin_dir" "$share/applications"
rm -rf "$app_dir.new"
cp -a "$here/app" "$app_dir.new"
rm -rf "$app_dir.old"
[ -e "$app_dir" ] && mv "$app_dir" "$app_dir.old"
mv "$app_dir.new" "$app_dir"
rm -rf "$app_dir.old"

ln -sfn "$app_dir/foley-assistant" "$bin_dir/foley-assistant"
ln -sfn "$app_dir/foley-engine" "$bin_dir/foley-engine"

for s in "${sizes[@]}"; do
  install -D -m 644 "$here/share/icons/hicolor/${s}x${s}/apps/foley-assistant.png" "$share/icons/hicolor/${s}x${s}/apps/foley-assistant.png"
done
install -D -m 644 "$here/share/icons/hicolor/scalable/apps/foley-assistant.svg" "$share/icons/hicolor/scalable/apps/foley-assistant.svg"

# The menu entry points at the installed program by absolute path (~/.local/bin may not be on PATH).
tmp="$(mktemp "$share/applications/.foley-assistant.XXXXXX")"
sed -e "s|^Exec=foley-assistant|Exec=\"$app_dir/foley-assistant\"|" -e "s|^TryExec=.*|TryExec=$app_dir/foley-assistant|" \
  "$here/share/applications/foley-assistant.desktop" > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$desktop"
refresh_caches

echo "Foley Assistant $(cat "$here/VERSION") installed in $app_dir"
echo "Start it from your desktop's application menu, or run: $bin_dir/foley-assistant"
case ":$PATH:" in *":$bin_dir:"*) ;; *) echo "(add $bin_dir to PATH to run foley-assistant and foley-engine from a terminal)";; esac
