#!/usr/bin/env python3
"""Unattended batch recorder: runs the per-game recipe two at a time until N hours of clips exist.

    scripts/recording/record_batch.py --hours 10 --out ~/foley-recordings          # record
    scripts/recording/record_batch.py --hours 10 --out ~/foley-recordings --dry-run  # print the plan
    scripts/record_gameplay.sh batch 10 ~/foley-recordings                            # the same as the first

Each recording is ONE invocation of a recipe command from the plan (``--config``, default
``scripts/recording/batch_plan.json``: ``scripts/record_gameplay.sh MODE JOB_DIR 1 DUR`` with the
seed and map chosen here and passed in the environment). The job writes into its own folder
``OUT/.partial/CLIP/``; only when the command exits 0 and the clip file exists is it moved to
``OUT/CLIP.mp4`` and appended to the manifest (default ``scripts/recording/corpus.csv``; columns
clip, game, map_or_scenario, seed, seconds, split, sha256, recipe_version), atomically (temp
file, fsync, os.replace). The manifest is the state: a new run (after a kill, or on another
machine) counts the seconds it lists and records only what is missing.

Clip names are ``GAME-bNNNNN-sSEED``: NNNNN is one more than the highest counter in the manifest
and the output folder, so a name is never reused.

Stopping: SIGTERM or SIGINT sends SIGTERM to every recording's process group (each job runs in
its own session: the recipe script, Xvfb, the game, ffmpeg), waits ``--grace`` seconds, then
SIGKILLs what is left (Warzone ignores SIGTERM). The killed jobs' folders are deleted. If the
recorder itself is SIGKILLed, the kernel kills each recipe script (PR_SET_PDEATHSIG) and the
next run kills the process groups left in ``OUT/.record_batch.groups`` before it starts.

Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_PLAN = HERE / "batch_plan.json"
DEFAULT_MANIFEST = HERE / "corpus.csv"
COLUMNS = ["clip", "game", "map_or_scenario", "seed", "seconds", "split", "sha256", "recipe_version", "view"]
VIEW_RE = re.compile(r"^[A-Za-z0-9_]+$")
NAME_RE = re.compile(r"^(?P<game>[A-Za-z0-9_]+)-b(?P<n>\d{5,})-s(?P<seed>\d+)")
PARTIAL = ".partial"
GROUPS_FILE = ".record_batch.groups"
LOCK_FILE = ".record_batch.lock"
PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
LOGS = ".logs"
UNLISTED = ".unlisted"
REJECTED = ".rejected"  # finished clips whose sound is digital silence: kept, not listed
SILENT_DB = -90.0  # ffmpeg's volumedetect reports about -91 dB for digital silence


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- manifest


def read_manifest(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    """Write all rows atomically: a temp file in the same folder, fsync, os.replace, fsync the folder."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in COLUMNS})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- plan


def load_plan(path: Path) -> dict:
    plan = json.loads(path.read_text())
    for g in plan["games"]:
        g.setdefault("weight", 1.0)
        g.setdefault("maps", ["-"])
        g.setdefault("env", {})
        g.setdefault("clip_glob", "*.mp4")
        g.setdefault("views", ["default"])
        if not g["views"] or not all(isinstance(v, str) and VIEW_RE.match(v) for v in g["views"]):
            raise ValueError(f"{path}: game {g.get('game')!r}: 'views' must be a non-empty list of names")
    plan.setdefault("recipe_version", "1")
    plan.setdefault("slot_env", {})
    plan.setdefault("slot_teardown", [])
    return plan


def split_of(game: str, map_name: str, plan: dict) -> str:
    """Whole maps go to one split: a fixed one from the plan, else by a hash of (game, map)."""
    fixed = plan.get("splits", {}).get(game, {}).get(map_name)
    if fixed:
        return fixed
    h = int(hashlib.sha256(f"{game}|{map_name}".encode()).hexdigest(), 16) % 10
    return "test" if h == 0 else "val" if h == 1 else "train"


def next_counter(manifest_rows: list[dict[str, str]], out: Path) -> int:
    names = [r.get("clip", "") for r in manifest_rows]
    for d in (out, out / PARTIAL, out / LOGS, out / UNLISTED):
        if d.is_dir():
            names += os.listdir(d)
    top = 0
    for n in names:
        m = NAME_RE.match(n)
        if m:
            top = max(top, int(m.group("n")))
    return top + 1


def choose_job(plan: dict, counter: int, done_s: dict[str, float], base_seed: int) -> dict:
    """The game furthest behind its share (weight), a map and a seed that depend only on the counter."""
    games = plan["games"]
    total_w = sum(g["weight"] for g in games)
    game = min(games, key=lambda g: (done_s.get(g["game"], 0.0) / (g["weight"] / total_w), games.index(g)))
    rng = random.Random(f"{base_seed}:{game['game']}:{counter}")
    map_name = game["maps"][(counter + rng.randrange(len(game["maps"]))) % len(game["maps"])]
    seed = rng.randrange(1000, 1_000_000)
    views = game.get("views") or ["default"]
    view = views[rng.randrange(len(views))] if len(views) > 1 else views[0]
    clip = f"{game['game']}-b{counter:05d}-s{seed}"
    return {"game": game, "map": map_name, "seed": seed, "clip": clip, "counter": counter, "view": view}


def fill(template: str, values: dict[str, str]) -> str:
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", str(v))
    return out


# ---------------------------------------------------------------- processes


def _pdeathsig() -> None:  # preexec_fn: the kernel SIGKILLs the recipe script if the recorder dies
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # the recorder blocks them around Popen
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass


def group_alive(pgid: int) -> bool:
    """Any process (zombies aside) in the process group?"""
    if sys.platform.startswith("linux") and os.path.isdir("/proc"):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                return True
        return False
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_groups(pgids: list[int], grace: float, procs: list[subprocess.Popen] | None = None) -> None:
    """SIGTERM every group, wait up to ``grace`` s for them to empty, then SIGKILL the rest."""
    for g in pgids:
        try:
            os.killpg(g, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for p in procs or []:
            p.poll()
        if not any(group_alive(g) for g in pgids):
            break
        time.sleep(0.1)
    for g in pgids:
        try:
            os.killpg(g, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for p in procs or []:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def save_groups(out: Path, pgids: list[int]) -> None:
    tmp = out / (GROUPS_FILE + ".tmp")
    tmp.write_text("".join(f"{g}\n" for g in pgids))
    os.replace(tmp, out / GROUPS_FILE)


def kill_leftover_groups(out: Path, grace: float) -> None:
    """Groups a SIGKILLed earlier run left behind (its recipe scripts' games, Xvfb, ffmpeg)."""
    f = out / GROUPS_FILE
    if not f.exists():
        return
    pgids = []
    for line in f.read_text().split():
        g = int(line)
        if g != os.getpgrp() and group_alive(g):
            pgids.append(g)
    if pgids:
        log(f"stopping {len(pgids)} process group(s) left by an earlier run: {pgids}")
        stop_groups(pgids, grace)
    f.unlink()


# ---------------------------------------------------------------- the recorder


def keep_killed_logs(out: Path) -> None:
    """Keep the recipe logs of killed jobs (OUT/.logs/CLIP.killed.log): they also keep the names taken."""
    if (out / PARTIAL).is_dir():
        for job_dir in (out / PARTIAL).iterdir():
            if (job_dir / "recipe.log").exists():
                os.replace(job_dir / "recipe.log", out / LOGS / f"{job_dir.name}.killed.log")


class Stop(Exception):
    pass


def finished_clip(job_dir: Path, glob: str) -> Path | None:
    clips = sorted(p for p in job_dir.glob(glob) if p.is_file() and p.stat().st_size > 0 and ".tmp" not in p.name)
    return clips[0] if clips else None


def recipe_row(job_dir: Path) -> dict[str, str]:
    """The recipe's own manifest row (scenario, seed, seconds), when it wrote one."""
    rows = read_manifest(job_dir / "manifest.csv")
    return rows[-1] if rows else {}


def peak_db(path: Path) -> float | None:
    """The peak level of a clip's sound in dB (ffmpeg's volumedetect); None when it cannot be
    measured (no ffmpeg, no sound stream, not a media file)."""
    if shutil.which("ffmpeg") is None:
        return None
    try:
        done = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path), "-vn", "-af", "volumedetect", "-f", "null", "-"],
                              capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"max_volume:\s*(-?[0-9.]+|-inf) dB", done.stderr)
    return None if m is None else float(m.group(1))


def adopt(job: dict, job_dir: Path, out: Path, plan: dict) -> dict[str, str] | None:
    """Move a finished job's files to OUT/CLIP.* and return its manifest row (None: no clip).

    A clip whose sound is digital silence (a game that lost its audio device) teaches nothing: it
    is moved to OUT/.rejected/ and not listed, so the batch records another one in its place.
    """
    game = job["game"]
    clip_file = finished_clip(job_dir, game["clip_glob"])
    if clip_file is None:
        return None
    peak = peak_db(clip_file)
    if peak is not None and peak <= SILENT_DB:
        (out / REJECTED).mkdir(exist_ok=True)
        os.replace(clip_file, out / REJECTED / f"{job['clip']}{clip_file.suffix}")
        log(f"{job['clip']}: its sound is silent (peak {peak:g} dB): set aside in {REJECTED}/, not listed")
        return None
    stem = clip_file.stem
    rec = recipe_row(job_dir)
    seconds = rec.get("seconds") or str(game.get("seconds", ""))
    final = out / f"{job['clip']}{clip_file.suffix}"
    digest = sha256_of(clip_file)
    for p in sorted(job_dir.iterdir()):  # side files: labels (stem_labels.tsv) etc.
        if p.is_file() and p != clip_file and p.name.startswith(stem) and ".tmp" not in p.name:
            os.replace(p, out / (job["clip"] + p.name[len(stem) :]))
    os.replace(clip_file, final)
    return {
        "clip": final.name,
        "game": game["game"],
        "map_or_scenario": rec.get("scenario") or job["map"],
        "seed": str(job["seed"]),
        "seconds": seconds,
        "split": split_of(game["game"], job["map"], plan),
        "sha256": digest,
        "recipe_version": str(plan["recipe_version"]),
        "view": rec.get("view") or job.get("view") or "default",
    }


def plan_jobs(plan: dict, rows: list[dict[str, str]], out: Path, target_s: float, base_seed: int, limit: int) -> list[dict]:
    done_s: dict[str, float] = {}
    for r in rows:
        done_s[r["game"]] = done_s.get(r["game"], 0.0) + float(r.get("seconds") or 0)
    total = sum(done_s.values())
    counter = next_counter(rows, out)
    jobs = []
    while total < target_s and len(jobs) < limit:
        job = choose_job(plan, counter, done_s, base_seed)
        nominal = float(job["game"].get("seconds", 0) or 0)
        if nominal <= 0:
            break
        done_s[job["game"]["game"]] = done_s.get(job["game"]["game"], 0.0) + nominal
        total += nominal
        counter += 1
        jobs.append(job)
    return jobs


def run(args: argparse.Namespace) -> int:
    try:
        plan = load_plan(args.config)
    except (OSError, ValueError, KeyError, TypeError) as e:  # json.JSONDecodeError is a ValueError
        log(f"bad plan {args.config}: {e!r}")
        return 2
    out: Path = args.out.resolve()
    manifest: Path = args.manifest.resolve()
    target_s = args.hours * 3600.0
    rows = read_manifest(manifest)
    have = sum(float(r.get("seconds") or 0) for r in rows)

    if args.dry_run:
        jobs = plan_jobs(plan, rows, out, target_s, args.seed, args.max_clips or 10**6)
        print(f"# manifest {manifest}: {len(rows)} clips, {have / 3600:.2f} h; target {args.hours:g} h; "
              f"{len(jobs)} recordings to go, {args.parallel} at a time")
        for j in jobs:
            cmd = [fill(c, {"job_dir": out / PARTIAL / j["clip"], "seed": j["seed"], "map": j["map"],
                            "clip": j["clip"], "slot": 0, "root": ROOT, "view": j["view"]}) for c in j["game"]["command"]]
            print(f"{j['clip']}\t{j['game']['game']}\t{j['map']}\t{j['seed']}\t{j['view']}\t"
                  f"{split_of(j['game']['game'], j['map'], plan)}\t{' '.join(cmd)}")
        return 0

    out.mkdir(parents=True, exist_ok=True)
    import fcntl

    lock = open(out / LOCK_FILE, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        log(f"another recorder is running on {out}")
        return 3

    kill_leftover_groups(out, args.grace)
    listed = {m.group(0) for m in (NAME_RE.match(r["clip"]) for r in rows) if m}
    counter = next_counter(rows, out)  # before the cleanup: a killed job's number is not reused either
    (out / LOGS).mkdir(exist_ok=True)
    keep_killed_logs(out)  # jobs of an earlier run that was SIGKILLed
    shutil.rmtree(out / PARTIAL, ignore_errors=True)
    for p in out.iterdir():  # moved in place by a run killed before it listed them (or another manifest's)
        m = NAME_RE.match(p.name)
        if m and p.is_file() and m.group(0) not in listed:
            log(f"{p.name} is not in the manifest: moved to {UNLISTED}/")
            (out / UNLISTED).mkdir(exist_ok=True)
            os.replace(p, out / UNLISTED / p.name)
    (out / PARTIAL).mkdir()

    stopping = {"sig": 0}

    def on_signal(signum, _frame):
        stopping["sig"] = signum
        raise Stop()

    old = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    running: dict[int, tuple[subprocess.Popen, dict, Path, int]] = {}  # slot -> (proc, job, job_dir, t0)
    failures = 0
    status = 0
    log(f"manifest {manifest}: {len(rows)} clips, {have / 3600:.2f} h of {args.hours:g} h")
    try:
        while True:
            # reap finished jobs
            for slot, (proc, job, job_dir, t0) in list(running.items()):
                rc = proc.poll()
                if rc is None:
                    continue
                if group_alive(proc.pid):  # the recipe exited but left something in its group
                    stop_groups([proc.pid], args.grace)
                # no signal between moving the clip in place and listing it (they wait until after)
                signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
                try:
                    del running[slot]
                    save_groups(out, [p.pid for p, *_ in running.values()])
                    row = adopt(job, job_dir, out, plan) if rc == 0 else None
                    if row is not None:
                        rows.append(row)
                        write_manifest(manifest, rows)
                    log_name = job["clip"] + (".log" if row is not None else ".failed.log")
                    if (job_dir / "recipe.log").exists():
                        os.replace(job_dir / "recipe.log", out / LOGS / log_name)
                    shutil.rmtree(job_dir, ignore_errors=True)
                finally:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
                if row is None:
                    failures += 1
                    log(f"{job['clip']}: failed (exit {rc}; log in {out / LOGS / log_name})")
                    continue
                have += float(row["seconds"] or 0)
                log(f"{row['clip']}: done in {time.monotonic() - t0:.0f} s, {row['seconds']} s; "
                    f"{have / 3600:.3f} h of {args.hours:g} h")
            if failures > args.max_failures:
                log(f"stopping: {failures} failed recordings")
                status = 1
                break
            in_flight = sum(float(j["game"].get("seconds", 0) or 0) for _, j, _, _ in running.values())
            n_done = len(rows)
            budget_left = args.max_clips - n_done - len(running) if args.max_clips else 1
            # start new jobs
            while (len(running) < args.parallel and have + in_flight < target_s and budget_left > 0):
                slot = next(s for s in range(args.parallel) if s not in running)
                done_s: dict[str, float] = {}
                for r in rows:
                    done_s[r["game"]] = done_s.get(r["game"], 0.0) + float(r.get("seconds") or 0)
                for _, j, _, _ in running.values():
                    done_s[j["game"]["game"]] = done_s.get(j["game"]["game"], 0.0) + float(j["game"].get("seconds", 0))
                job = choose_job(plan, counter, done_s, args.seed)
                counter += 1
                job_dir = out / PARTIAL / job["clip"]
                values = {"job_dir": job_dir, "seed": job["seed"], "map": job["map"], "clip": job["clip"], "view": job["view"],
                          "slot": slot, "display": args.display_base + slot, "root": ROOT,
                          "work": Path(args.work) / f"slot{slot}"}
                env = dict(os.environ)
                for k, v in {**plan["slot_env"], **job["game"]["env"]}.items():
                    env[k] = fill(v, values)
                cmd = [fill(c, values) for c in job["game"]["command"]]
                # a signal here would leave a started job unrecorded: it waits until the job is listed
                signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
                try:
                    job_dir.mkdir(parents=True)
                    with open(job_dir / "recipe.log", "w") as logf:
                        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                                stderr=subprocess.STDOUT, start_new_session=True,
                                                preexec_fn=_pdeathsig)
                    running[slot] = (proc, job, job_dir, time.monotonic())
                    save_groups(out, [p.pid for p, *_ in running.values()])
                finally:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
                in_flight += float(job["game"].get("seconds", 0) or 0)
                budget_left -= 1
                log(f"{job['clip']}: started in slot {slot} ({job['game']['game']}, {job['map']}, seed {job['seed']}, "
                    f"view {job['view']})")
            if not running:
                log(f"finished: {len(rows)} clips, {have / 3600:.3f} h")
                break
            time.sleep(args.poll)
    except Stop:
        status = 128 + stopping["sig"]
        log(f"signal {stopping['sig']}: stopping {len(running)} recording(s)")
    finally:
        for s in old:
            signal.signal(s, signal.SIG_IGN)  # a second signal must not interrupt the cleanup
        if running:
            stop_groups([p.pid for p, *_ in running.values()], args.grace, [p for p, *_ in running.values()])
        keep_killed_logs(out)
        shutil.rmtree(out / PARTIAL, ignore_errors=True)  # the killed jobs' folders (partial clips)
        try:
            (out / GROUPS_FILE).unlink()
        except FileNotFoundError:
            pass
        for cmd_t in plan["slot_teardown"]:
            for slot in range(args.parallel):
                values = {"slot": slot, "display": args.display_base + slot, "root": ROOT,
                          "work": Path(args.work) / f"slot{slot}"}
                env = dict(os.environ)
                for k, v in plan["slot_env"].items():
                    env[k] = fill(v, values)
                subprocess.run([fill(c, values) for c in cmd_t], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        for s, h in old.items():
            signal.signal(s, h)
    return status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, required=True, help="record until the manifest lists this many hours")
    ap.add_argument("--out", type=Path, required=True, help="folder for the recordings (keep it outside the repo)")
    ap.add_argument("--config", type=Path, default=DEFAULT_PLAN, help="games, maps and recipe commands (JSON)")
    ap.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="the corpus manifest (CSV)")
    ap.add_argument("--parallel", type=int, default=2, help="recordings at a time (about one core each)")
    ap.add_argument("--seed", type=int, default=0, help="base seed of the map/seed choices")
    ap.add_argument("--grace", type=float, default=5.0, help="seconds between SIGTERM and SIGKILL when stopping")
    ap.add_argument("--max-clips", type=int, default=0, help="stop when the manifest lists this many clips (0: no limit)")
    ap.add_argument("--max-failures", type=int, default=5, help="give up after this many failed recordings")
    ap.add_argument("--work", default=os.environ.get("REC_WORK", "/tmp/foley-rec"), help="scratch folder; one per slot under it")
    ap.add_argument("--display-base", type=int, default=96, help="X display of slot 0 (slot k uses base + k)")
    ap.add_argument("--poll", type=float, default=0.5, help=argparse.SUPPRESS)
    ap.add_argument("--dry-run", "--plan", dest="dry_run", action="store_true", help="print what would be recorded")
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
