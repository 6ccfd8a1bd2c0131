"""Smoke-test the BUILT desktop app the way a user gets it, with none of our Python environment.

    python3 packaging/smoke_test.py [ARCHIVE_OR_APP_DIR] [--timeout 600] [--keep]

ARCHIVE_OR_APP_DIR: a release archive (default: the newest dist/foley-assistant-*.tar.gz) or an
unpacked app folder. Steps, each in a fresh temporary folder with a clean environment
(``env -i``: only PATH=/usr/bin:/bin, HOME=<empty temp dir>, QT_QPA_PLATFORM=offscreen):

1. unpack the archive;
2. ``app/foley-assistant --version`` and ``app/foley-engine --version`` print engine/version.py's version;
3. ``install.sh`` with PREFIX=<temp> installs the menu entry, icons and launchers, and the
   installed ``bin/foley-assistant --version`` runs;
4. ``app/foley-engine export`` renders the bundled demo project (``demo/demo.foley.json``) to a WAV
   (the command comes from the bundled package metadata's entry point);
5. ``app/foley-assistant --smoke-test`` opens the bundled demo (indexes the demo library with the
   default model on first start) and exits 0 once the first recommendations are listed.

Exits 0 when every step passes, else 1. Standard library only, so any python3 can run it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def project_version() -> str:
    """The version as engine/version.py defines it (read, not imported: no project env needed)."""
    text = (ROOT / "engine" / "version.py").read_text()
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        raise SystemExit("cannot read __version__ from engine/version.py")
    return match.group(1)


def newest_archive() -> Path:
    archives = sorted((ROOT / "dist").glob("foley-assistant-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not archives:
        raise SystemExit("no dist/foley-assistant-*.tar.gz: build one with packaging/build.sh")
    return archives[-1]


def clean_env(home: Path) -> dict[str, str]:
    """What ``env -i PATH=/usr/bin:/bin HOME=... QT_QPA_PLATFORM=offscreen`` gives the app."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    """Run one command; return (exit code, combined output, seconds). A timeout gives code 124."""
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, check=False)
        return proc.returncode, proc.stdout, time.monotonic() - start
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return 124, out, time.monotonic() - start


def unpack(archive: Path, dest: Path) -> Path:
    """Extract the archive; return its top folder (holding app/, install.sh, share/)."""
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="tar")  # keeps the executable bits and the app/foley-engine link
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise SystemExit(f"{archive}: expected one top folder, found {[p.name for p in tops]}")
    return tops[0]


class Report:
    """Collects step results and prints them as they come."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def step(self, name: str, ok: bool, detail: str = "") -> bool:
        sys.stdout.write(f"[{'PASS' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}\n")
        sys.stdout.flush()
        if not ok:
            self.failed.append(name)
        return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", type=Path, help="release archive or unpacked app folder")
    parser.add_argument("--timeout", type=float, default=600, help="seconds the app may take to show recommendations")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, index) for inspection")
    args = parser.parse_args()
    version = project_version()
    target = (args.target or newest_archive()).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="foley-smoke-"))
    report = Report()
    try:
        start = time.monotonic()
        if target.is_file():
            top = unpack(target, tmp / "unpacked")
            report.step("unpack", True, f"{target.name} in {time.monotonic() - start:.1f} s")
        else:
            top = target if (target / "app").is_dir() else target.parent
        app = top / "app" / "foley-assistant"
        if not report.step("app executable", app.is_file() and os.access(app, os.X_OK), str(app)):
            return 1

        for prog in ("foley-assistant", "foley-engine"):
            home = tmp / f"home-{prog}"
            home.mkdir()
            code, out, secs = run([str(top / "app" / prog), "--version"], home, clean_env(home), 120)
            ok = code == 0 and out.strip().splitlines()[-1:] in ([f"foley-app {version}"], [f"foley-engine {version}"])
            report.step(f"{prog} --version", ok, f"{out.strip()[-300:]!r} in {secs:.1f} s")

        if (top / "install.sh").is_file():
            home, prefix = tmp / "home-install", tmp / "prefix"
            home.mkdir()
            env = {**clean_env(home), "PREFIX": str(prefix)}
            code, out, _ = run(["/bin/bash", str(top / "install.sh")], home, env, 300)
            desktop = prefix / "share" / "applications" / "foley-assistant.desktop"
            icon = prefix / "share" / "icons" / "hicolor" / "256x256" / "apps" / "foley-assistant.png"
            launcher = prefix / "bin" / "foley-assistant"
            exec_line = next((ln for ln in desktop.read_text().splitlines() if ln.startswith("Exec=")), "") if desktop.is_file() else ""
            ok = code == 0 and icon.is_file() and launcher.is_symlink() and str(prefix / "opt" / "foley-assistant") in exec_line
            report.step("install.sh", ok, out.strip()[-400:] if not ok else f"{desktop.name}, icons, {launcher}")
            if ok:
                for prog in ("foley-assistant", "foley-engine"):
                    code, out, _ = run([str(prefix / "bin" / prog), "--version"], home, clean_env(home), 120)
                    report.step(f"installed {prog} --version", code == 0 and version in out, out.strip()[-200:])
                code, out, _ = run(["/bin/bash", str(top / "install.sh"), "--uninstall"], home, env, 120)
                report.step("install.sh --uninstall", code == 0 and not launcher.exists() and not desktop.exists(), out.strip()[-200:])

        home = tmp / "home-export"
        home.mkdir()
        project = top / "app" / "_internal" / "resources" / "demo" / "demo.foley.json"
        code, out, secs = run([str(top / "app" / "foley-engine"), "export", str(project), "--wav", str(home / "demo.wav")],
                              home, clean_env(home), 300)
        report.step("foley-engine export (demo project)", code == 0 and (home / "demo.wav").is_file(),
                    f"{out.strip()[-300:]!r} in {secs:.1f} s")

        home = tmp / "home-smoke"
        home.mkdir()
        code, out, secs = run([str(app), "--smoke-test", str(args.timeout)], home, clean_env(home), args.timeout + 60)
        lines = [ln for ln in out.splitlines() if ln.startswith("smoke test:")]
        detail = (lines[-1] if lines else out.strip()[-2000:]) + f" [process {secs:.1f} s]"
        report.step("demo recommendations (--smoke-test)", code == 0 and bool(lines) and ": ok:" in lines[-1], detail)
        if code != 0:
            sys.stdout.write(out[-4000:] + "\n")
            for log_file in home.rglob("foley-app.log"):  # the app's own log (errors before any window)
                sys.stdout.write(f"--- {log_file}\n{log_file.read_text(errors='replace')[-6000:]}\n")
    finally:
        if args.keep:
            sys.stdout.write(f"kept {tmp}\n")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.write(f"smoke test {'passed' if not report.failed else 'FAILED: ' + ', '.join(report.failed)}\n")
    return 0 if not report.failed else 1


if __name__ == "__main__":
    sys.exit(main())
