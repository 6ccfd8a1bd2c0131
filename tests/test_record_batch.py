"""scripts/recording/record_batch.py: the unattended recorder, driven by a fake game.

The fake "recipe" writes one small clip into its job folder after sleeping (in a child process, so
each job has a grandchild too); one variant ignores SIGTERM like Warzone 2100 does.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "recording" / "record_batch.py"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups and /proc")

FAKE = r'''
import os, signal, subprocess, sys, time
job_dir, seed, sleep_s, stubborn = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1"
pids = os.environ["FAKE_PIDS"]
if stubborn:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, sys, time\n"
    f"if {stubborn}: signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    f"time.sleep({sleep_s})\n"])
tag = os.path.basename(job_dir)
for pid in (os.getpid(), child.pid):
    with open(os.path.join(pids, f"{tag}.{pid}"), "w") as f:
        f.write(str(pid))
with open(os.path.join(job_dir, "clip000.mp4.tmp.mp4"), "wb") as f:  # a half-written clip
    f.write(b"partial")
child.wait()
os.replace(os.path.join(job_dir, "clip000.mp4.tmp.mp4"), os.path.join(job_dir, "clip000.mp4"))
with open(os.path.join(job_dir, "clip000.mp4"), "wb") as f:
    f.write(f"fake clip {tag} seed {seed} {time.time()}".encode())
with open(os.path.join(job_dir, "clip000_labels.tsv"), "w") as f:
    f.write("0\tx\n")
with open(os.path.join(job_dir, "manifest.csv"), "w") as f:
    f.write("clip,game,scenario,seed,side1,side2,seconds,ended_early\n")
    f.write(f"clip000.mp4,fake,{sys.argv[5]},{seed},-,-,2,False\n")
'''


def write_plan(tmp: Path, games: list[tuple[str, float, bool, float]]) -> Path:
    fake = tmp / "fake_game.py"
    fake.write_text(FAKE)
    plan = {
        "recipe_version": "test-1",
        "games": [
            {
                "game": name,
                "weight": weight,
                "seconds": 2,
                "command": [sys.executable, str(fake), "{job_dir}", "{seed}", str(sleep_s), "1" if stubborn else "0",
                            "{map}"],
                "maps": ["mapA", "mapB", "mapC"],
            }
            for name, sleep_s, stubborn, weight in games
        ],
    }
    path = tmp / f"plan-{'-'.join(g[0] for g in games)}.json"
    path.write_text(json.dumps(plan))
    return path


def start(tmp: Path, plan: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, FAKE_PIDS=str(tmp / "pids"))
    (tmp / "pids").mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--hours", "10", "--out", str(tmp / "out"), "--config", str(plan),
         "--manifest", str(tmp / "corpus.csv"), "--parallel", "2", "--poll", "0.05", "--work", str(tmp / "work"),
         *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def rows(tmp: Path) -> list[dict[str, str]]:
    path = tmp / "corpus.csv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def alive(pid: int) -> bool:
    """Running (zombies count as gone: their parent or init reaps them)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def check_listed_clips(tmp: Path) -> list[dict[str, str]]:
    listed = rows(tmp)
    names = [r["clip"] for r in listed]
    assert len(names) == len(set(names))
    out = tmp / "out"
    for r in listed:
        path = out / r["clip"]
        assert path.is_file()
        assert r["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert r["recipe_version"] == "test-1" and r["seconds"] == "2" and r["split"] in {"train", "val", "test"}
        assert r["map_or_scenario"] in {"mapA", "mapB", "mapC"}
        assert (out / r["clip"].replace(".mp4", "_labels.tsv")).is_file()  # side files follow their clip
    clips = sorted(p.name for p in out.glob("*.mp4"))
    assert clips == sorted(names)  # nothing unlisted, nothing half-written
    assert not list(out.rglob("*.tmp*")) and not list(tmp.glob(".*.tmp"))
    assert not any((out / ".partial").iterdir()) if (out / ".partial").exists() else True
    return listed


def test_two_at_a_time_then_kill_then_resume(tmp_path: Path) -> None:
    # (a) two at a time, four clips, all listed with their sha256
    quick = write_plan(tmp_path, [("quick", 1.0, False, 1)])
    rec = start(tmp_path, quick, "--max-clips", "4")
    out_text, _ = rec.communicate(timeout=60)
    assert rec.returncode == 0, out_text
    first = check_listed_clips(tmp_path)
    assert len(first) == 4
    pids = sorted((tmp_path / "pids").iterdir())
    assert len(pids) == 8  # 4 jobs x (recipe + its child)
    # two ran at once: the second job started before the first ended
    assert out_text.count("started in slot 1") >= 1

    # (b) a fast game and one that ignores SIGTERM (a small share: it starts first, then the fast one
    # gets the other slot); stop the recorder mid-run
    mixed = write_plan(tmp_path, [("quick", 0.3, False, 9), ("stubborn", 120.0, True, 1)])
    rec = start(tmp_path, mixed, "--grace", "1")
    try:
        wait_for(lambda: len(rows(tmp_path)) >= 6 and any("stubborn" in p.name for p in (tmp_path / "pids").iterdir()),
                 60, "two more finished clips and a stubborn job")
        # every job started so far has written both of its pid files before the signal
        time.sleep(0.3)
        rec.send_signal(signal.SIGTERM)
        out_text, _ = rec.communicate(timeout=60)
    finally:
        if rec.poll() is None:
            rec.kill()
    assert rec.returncode == 128 + signal.SIGTERM, out_text
    started = [int(p.read_text()) for p in (tmp_path / "pids").iterdir()]
    wait_for(lambda: not any(alive(p) for p in started), 15, "every game process to end")
    second = check_listed_clips(tmp_path)
    assert second[: len(first)] == first and all(r["game"] == "quick" for r in second)
    assert not (tmp_path / "out" / ".record_batch.groups").exists()

    # (c) a new run continues the manifest: old rows kept, new names never reused
    rec = start(tmp_path, quick, "--max-clips", str(len(second) + 2))
    out_text, _ = rec.communicate(timeout=60)
    assert rec.returncode == 0, out_text
    third = check_listed_clips(tmp_path)
    assert third[: len(second)] == second and len(third) == len(second) + 2
    counters = [int(r["clip"].split("-b")[1].split("-")[0]) for r in third]
    # unique, and the new run's numbers follow every earlier one (two jobs at a time may finish, and be
    # listed, out of order: the listing order is not the numbering order)
    assert len(set(counters)) == len(counters)
    assert min(counters[len(second):]) > max(counters[: len(second)])
    # the killed jobs' numbers are not reused either (their logs keep them)
    killed = [int(p.name.split("-b")[1].split("-")[0]) for p in (tmp_path / "out" / ".logs").glob("*.killed.log")]
    assert killed and min(counters[-2:]) > max(killed)


def test_dry_run_prints_the_plan_and_records_nothing(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, [("quick", 1.0, False, 1), ("other", 1.0, False, 1)])
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--hours", str(10 / 3600), "--out", str(tmp_path / "out"), "--config", str(plan),
         "--manifest", str(tmp_path / "corpus.csv"), "--plan"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert len(lines) == 5  # 10 s of 2-s clips
    assert {line.split("\t")[1] for line in lines} == {"quick", "other"}
    assert not (tmp_path / "out").exists() and not (tmp_path / "corpus.csv").exists()


def test_recipe_script_has_the_batch_mode() -> None:
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "record_gameplay.sh")], check=True)
    assert "batch" in (ROOT / "scripts" / "record_gameplay.sh").read_text()
    json.loads((ROOT / "scripts" / "recording" / "batch_plan.json").read_text())


def test_a_sigkilled_recorder_leaves_nothing_running_after_the_next_start(tmp_path: Path) -> None:
    stubborn = write_plan(tmp_path, [("stubborn", 120.0, True, 1)])
    rec = start(tmp_path, stubborn, "--parallel", "1", "--grace", "1")
    try:
        wait_for(lambda: len(list((tmp_path / "pids").iterdir())) >= 2, 60, "the stubborn job and its child")
    finally:
        rec.kill()  # SIGKILL: no cleanup in the recorder
        rec.communicate(timeout=60)
    pids = [int(p.read_text()) for p in (tmp_path / "pids").iterdir()]
    # the kernel kills the recipe itself (PR_SET_PDEATHSIG); its child lives on until the next start
    quick = write_plan(tmp_path, [("quick", 0.2, False, 1)])
    rec = start(tmp_path, quick, "--max-clips", "1", "--grace", "1")
    out_text, _ = rec.communicate(timeout=60)
    assert rec.returncode == 0, out_text
    wait_for(lambda: not any(alive(p) for p in pids), 15, "the earlier run's processes to end")
    listed = check_listed_clips(tmp_path)
    assert len(listed) == 1 and listed[0]["clip"].startswith("quick-b00002-")  # b00001 was the killed job's
    assert list((tmp_path / "out" / ".logs").glob("stubborn-b00001-*.killed.log"))


def test_views_are_drawn_passed_to_the_recipe_and_listed(tmp_path: Path) -> None:
    """A game with two views: each clip gets one of them, as {view} in its command and in the manifest."""
    fake = tmp_path / "fake_view.py"
    fake.write_text(
        "import os, sys\n"
        "job_dir, view = sys.argv[1], sys.argv[2]\n"
        "open(os.path.join(job_dir, 'clip000.mp4'), 'w').write('clip ' + view + ' ' + os.path.basename(job_dir))\n"
        "open(os.path.join(job_dir, 'seen_view.txt'), 'w').write(os.environ['FAKE_VIEW'])\n")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"recipe_version": "v", "games": [{
        "game": "viewy", "seconds": 1, "maps": ["m1", "m2"], "views": ["default", "zoom2x"],
        "env": {"FAKE_VIEW": "{view}"},
        "command": [sys.executable, str(fake), "{job_dir}", "{view}"]}]}))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--hours", str(12 / 3600), "--out", str(tmp_path / "out"), "--config", str(plan),
         "--manifest", str(tmp_path / "corpus.csv"), "--parallel", "1", "--poll", "0.02", "--work", str(tmp_path / "w")],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = rows(tmp_path)
    assert len(listed) == 12
    for r in listed:
        assert r["view"] in {"default", "zoom2x"}
        assert (tmp_path / "out" / r["clip"]).read_text().startswith(f"clip {r['view']} ")  # the command got it
    assert {r["view"] for r in listed} == {"default", "zoom2x"}


def test_a_bad_plan_is_refused_with_one_line_and_nothing_is_created(tmp_path: Path) -> None:
    for i, text in enumerate(["{not json", json.dumps({"games": [{"game": "g", "views": []}]})]):
        plan = tmp_path / f"bad{i}.json"
        plan.write_text(text)
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "--hours", "1", "--out", str(tmp_path / "out"), "--config", str(plan),
             "--manifest", str(tmp_path / "corpus.csv")], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "bad plan" in done.stderr
        assert not (tmp_path / "out").exists() and not (tmp_path / "corpus.csv").exists()


SEED = ROOT / "scripts" / "recording" / "seed_corpus.py"


def test_seed_corpus_lists_an_existing_corpus_once_with_pinned_splits(tmp_path: Path) -> None:
    src = tmp_path / "starter"
    (src / "clips").mkdir(parents=True)
    (src / "clips" / "a.mp4").write_bytes(b"clip a")
    (src / "clips" / "b.mp4").write_bytes(b"clip b")
    (src / "manifest.csv").write_text(
        "clip,game,scenario,seed,side1,side2,seconds,seconds_with_sound_start,ended_early,view\n"
        "clips/a.mp4,wesnoth,mapVal,1,x,y,150,3,False,default\n"
        "clips/b.mp4,wesnoth,mapTrain,2,x,y,150,3,False,zoom2x\n")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"recipe_version": "v", "games": [],
                                "splits": {"wesnoth": {"mapVal": "val", "mapTrain": "train"}}}))
    manifest = tmp_path / "corpus.csv"
    cmd = [sys.executable, str(SEED), str(src), "--manifest", str(manifest), "--config", str(plan)]
    for _ in range(2):  # the second run adds nothing
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    listed = rows(tmp_path)
    assert [(r["clip"], r["split"], r["view"], r["recipe_version"]) for r in listed] == [
        ("clips/a.mp4", "val", "default", "starter-corpus"), ("clips/b.mp4", "train", "zoom2x", "starter-corpus")]
    assert listed[0]["sha256"] == hashlib.sha256(b"clip a").hexdigest()
    before = manifest.read_bytes()
    (src / "clips" / "a.mp4").write_bytes(b"changed")  # same name, other contents: refused, nothing written
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "another sha256" in done.stderr
    assert manifest.read_bytes() == before
    done = subprocess.run([sys.executable, str(SEED), str(tmp_path / "nowhere"), "--manifest", str(manifest)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command")
def test_a_clip_with_silent_sound_is_set_aside_not_listed(tmp_path: Path) -> None:
    """A game that lost its audio device records a silent clip: it is kept in .rejected/, not adopted."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("record_batch", SCRIPT)
    rb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rb)
    plan = json.loads(write_plan(tmp_path, [("fake", 0.1, False, 1.0)]).read_text())
    game = {**plan["games"][0], "clip_glob": "*.mp4"}
    out = tmp_path / "out"
    out.mkdir()
    rows = {}
    for name, audio in (("quiet", "anullsrc=r=48000:cl=mono"), ("loud", "sine=frequency=440:sample_rate=48000")):
        job_dir = tmp_path / name
        job_dir.mkdir()
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=black:s=64x48:r=5", "-f", "lavfi", "-i", audio,
                        "-t", "2", "-c:v", "libx264", "-c:a", "aac", "-shortest", str(job_dir / "clip000.mp4")], check=True)
        assert (rb.peak_db(job_dir / "clip000.mp4") <= rb.SILENT_DB) == (name == "quiet")
        job = {"game": game, "clip": f"fake-b0000{len(rows)}-s1", "map": "mapA", "seed": 1, "view": "default"}
        rows[name] = (job, rb.adopt(job, job_dir, out, plan))
    quiet_job, quiet_row = rows["quiet"]
    assert quiet_row is None and (out / ".rejected" / f"{quiet_job['clip']}.mp4").is_file()
    loud_job, loud_row = rows["loud"]
    assert loud_row is not None and loud_row["clip"] == f"{loud_job['clip']}.mp4" and (out / loud_row["clip"]).is_file()
    assert rb.peak_db(tmp_path / "not_there.mp4") is None
