"""``run --out`` never destroys a user's files; concurrent runs cannot share a folder.

Before this was fixed, a run pointed at any folder replaced its ``report.html`` and
``national.parquet``, deleted its ``forecast/`` and every hidden ``*.tmp`` / ``*.old``
below it, and exited 0; two runs given the same ``--out --overwrite`` both reported
success over each other's files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import outputs, runfolder
from flows.errors import GridcastError
from flows.pipeline import RunParams, _resolve_out
from flows.procs import HOST, process_alive, this_process

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "data" / "scenarios" / "reference.toml"


def _user_folder(folder: Path) -> dict[Path, bytes]:
    """A folder of the user's, with names gridcast writes and hidden temp-like files."""
    files = {
        folder / "report.html": b"my own report",
        folder / "national.parquet": b"my own table",
        folder / "forecast" / "mine.txt": b"my own forecast",
        folder / ".draft.v2.tmp": b"editor swap",
        folder / "sub" / ".cache.1.old": b"old cache",
        folder / "notes.txt": b"notes",
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def _params(out: Path, overwrite: bool) -> RunParams:
    return RunParams(out=out, overwrite=overwrite, scenario=REFERENCE)


def _untouched(files: dict[Path, bytes]) -> bool:
    return all(p.is_file() and p.read_bytes() == data for p, data in files.items())


def test_a_folder_that_is_not_a_run_is_refused_without_overwrite(tmp_path: Path) -> None:
    files = _user_folder(tmp_path / "mine")
    with pytest.raises(GridcastError, match="not a gridcast run folder"):
        _resolve_out(_params(tmp_path / "mine", False), "r1")
    assert _untouched(files)
    assert not (tmp_path / "mine" / runfolder.LOCK).exists()


def test_overwrite_refuses_to_replace_files_gridcast_did_not_write(tmp_path: Path) -> None:
    files = _user_folder(tmp_path / "mine")
    with pytest.raises(GridcastError) as err:
        _resolve_out(_params(tmp_path / "mine", True), "r1")
    message = str(err.value)
    assert "forecast" in message and "national.parquet" in message and "report.html" in message
    assert "not written by gridcast" in message and "\n" not in message
    assert _untouched(files)
    assert not (tmp_path / "mine" / runfolder.LOCK).exists()


def test_overwrite_beside_unrelated_files_keeps_them_and_their_temps(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    files = {folder / "notes.txt": b"n", folder / ".draft.v2.tmp": b"d", folder / "sub" / ".cache.1.old": b"c",
             folder / ".report.html.abc.tmp": b"an editor's, not ours"}
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    ours = folder / ".national.parquet.gridcast-k2j3.tmp"
    ours.write_bytes(b"a killed write of gridcast's")
    run_dir, latest = _resolve_out(_params(folder, True), "r1")
    assert run_dir == folder and latest is None
    assert _untouched(files) and not ours.exists()
    runfolder.plan_outputs(folder, "r1", {"national.parquet", "report.html", "run.json"})
    runfolder.finish(folder, "r1", {"national.parquet", "report.html", "run.json"})
    runfolder.release(folder)
    assert _untouched(files)


def test_a_second_run_over_a_run_removes_only_the_first_runs_files(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    _resolve_out(_params(folder, True), "r1")
    first = {"national.parquet", "sensitivity.parquet", "report.html", "run.json"}
    runfolder.plan_outputs(folder, "r1", first)
    for name in first:
        outputs.atomic_write_text(folder / name, "r1")
    runfolder.finish(folder, "r1", first)
    runfolder.release(folder)
    with pytest.raises(GridcastError, match="already holds a gridcast run"):
        _resolve_out(_params(folder, False), "r2")
    _resolve_out(_params(folder, True), "r2")
    assert not (folder / "run.json").exists(), "run.json goes first: the folder is incomplete now"
    second = {"national.parquet", "report.html", "run.json"}
    runfolder.plan_outputs(folder, "r2", second)
    for name in second:
        outputs.atomic_write_text(folder / name, "r2")
    assert runfolder.finish(folder, "r2", second) == ["sensitivity.parquet"]
    runfolder.release(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*second, "notes.txt", runfolder.MANIFEST])
    assert json.loads((folder / runfolder.MANIFEST).read_text())["entries"] == sorted(second)


def test_a_version_one_run_folder_is_adopted(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    for name in ("run.json", "national.parquet", "report.html"):
        (folder / name).write_text("v1")
    (folder / "mine.txt").write_text("mine")
    _resolve_out(_params(folder, True), "r2")
    runfolder.release(folder)
    assert (folder / "mine.txt").read_text() == "mine"
    assert set(json.loads((folder / runfolder.MANIFEST).read_text())["entries"]) == {
        "run.json", "national.parquet", "report.html"}


def test_a_tampered_manifest_cannot_reach_outside(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (folder / runfolder.MANIFEST).write_text(json.dumps({"entries": ["run.json", "../victim.txt", "/etc/passwd", ".."]}))
    (folder / "run.json").write_text("{}")
    _resolve_out(_params(folder, True), "r1")
    runfolder.finish(folder, "r1", {"run.json"})
    runfolder.release(folder)
    assert victim.read_text() == "keep"


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_live_run_holds_the_folder_and_a_dead_ones_lock_is_taken_over(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    other = _sleeper()
    try:
        lock = {"run_id": "r-other", "host": HOST, "pid": other.pid, "pid_start": None,
                "started_at": "2026-12-01T10:00:00+00:00"}
        (folder / runfolder.LOCK).write_text(json.dumps(lock))
        with pytest.raises(GridcastError, match=rf"being written by run r-other \(pid {other.pid}"):
            _resolve_out(_params(folder, True), "r2")
    finally:
        other.kill()
        other.wait()
    assert process_alive(lock) is False
    _resolve_out(_params(folder, True), "r2")  # the holder is gone: taken over
    assert json.loads((folder / runfolder.LOCK).read_text())["run_id"] == "r2"
    runfolder.release(folder)
    assert not (folder / runfolder.LOCK).exists()


def test_process_identity_detects_pid_reuse() -> None:
    me = this_process()
    assert process_alive(me) is True
    assert process_alive({**me, "pid_start": (me["pid_start"] or 0) + 1}) is (me["pid_start"] is None or False)
    assert process_alive({**me, "host": "another-machine"}) is None


def test_crashed_run_folders_under_runs_are_removed(tmp_path: Path) -> None:
    root = tmp_path / "outputs"
    dead = _sleeper()
    dead.kill()
    dead.wait()
    crashed = outputs.new_run_dir(root, "r-crashed")
    (crashed / runfolder.LOCK).write_text(json.dumps({"run_id": "r-crashed", "host": HOST, "pid": dead.pid}))
    runfolder.plan_outputs(crashed, "r-crashed", {"national.parquet", "run.json"})
    (crashed / "national.parquet").write_text("partial")
    (crashed / ".report.html.gridcast-x1.tmp").write_text("partial")
    done = outputs.new_run_dir(root, "r-done")
    (done / "run.json").write_text("{}")
    live = outputs.new_run_dir(root, "r-live")
    runfolder.claim_new(live, "r-live")  # this process: alive
    assert runfolder.clean_crashed_runs(root) == [crashed]
    assert not crashed.exists() and done.is_dir() and live.is_dir()
    runfolder.release(live)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_only_one_of_two_racing_claims_wins(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from flows import runfolder\n"
        "from flows.errors import GridcastError\n"
        "try:\n"
        "    runfolder.claim_out(Path(sys.argv[1]), sys.argv[2], True)\n"
        "except GridcastError as exc:\n"
        "    print('refused', exc, flush=True); sys.exit(2)\n"
        "print('claimed', flush=True); time.sleep(3)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(folder), f"r{i}"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    assert sum("being written by run" in o for o in outs) == 1
