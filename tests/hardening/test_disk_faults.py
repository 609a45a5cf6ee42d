"""Full and read-only file systems: one line naming the path and the cause, nothing half-written.

Before the fix, run, export and compare ended in raw ``OSError`` tracebacks naming no
file, and a failed DuckDB COMMIT surfaced as "cannot rollback - no transaction is active".

The tests run as root, which ignores permission bits, so a chmod'd folder proves nothing:
they mount a tiny tmpfs (full after a few KB) and a read-only one, and skip where mounting
is not permitted. Where no mount is possible the fault is injected at the write helper
(``os.replace`` raising ENOSPC), which every gridcast write goes through.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows import outputs
from flows.errors import StorageError
from flows.validate import load_inputs
from flows.warehouse import store_inputs

ROOT = Path(__file__).resolve().parents[2]
GRIDCAST = [sys.executable, "-m", "flows.cli"]


def _mount(target: Path, options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                         capture_output=True, check=False)
    return res.returncode == 0


def _umount(target: Path) -> None:
    subprocess.run(["umount", str(target)], capture_output=True, check=False)


def _tmpfs(tmp_path: Path, name: str, options: str) -> Iterator[Path]:
    target = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"
    if not _mount(target, options):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield target
    finally:
        _umount(target)


@pytest.fixture
def full_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a few KB of metadata fit, a Parquet table of 1 MB does not."""
    yield from _tmpfs(tmp_path, "full", "size=64k")


@pytest.fixture
def ro_fs(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs."""
    yield from _tmpfs(tmp_path, "ro", "ro,size=64k")


def _big_frame() -> pd.DataFrame:
    return pd.DataFrame({"v": np.random.default_rng(3).random(200_000)})


def test_full_disk_names_the_file_and_leaves_nothing(full_fs: Path) -> None:
    target = full_fs / "national.parquet"
    with pytest.raises(StorageError) as err:
        outputs.write_parquet(target, _big_frame())
    assert str(err.value) == f"cannot write {target}: no space left on the device (ENOSPC)"
    assert list(full_fs.iterdir()) == []  # no partial file, no temp


def test_full_disk_in_a_partitioned_write(full_fs: Path) -> None:
    frame = _big_frame().assign(scenario="reference")
    with pytest.raises(StorageError, match=r"no space left on the device \(ENOSPC\)") as err:
        outputs.write_partitioned(full_fs / "forecast", frame)
    assert str(full_fs / "forecast") in str(err.value)
    assert list(full_fs.iterdir()) == []


def test_full_disk_while_streaming_a_scenario_leaves_nothing(full_fs: Path) -> None:
    # the run's streamed tables: the first scenario fits, the second fills the disk
    from flows.run_sink import RunSink

    sink = RunSink(full_fs, ["reference", "hub_push"])
    small = pd.DataFrame({"scenario": "reference", "v": [1.0]})
    sink.take("reference", {"hourly": small, "hub_assignment": small})
    with pytest.raises(StorageError, match=r"no space left on the device \(ENOSPC\)") as err:
        sink.take("hub_push", {"hourly": _big_frame().assign(scenario="hub_push")})
    assert str(full_fs / "hourly") in str(err.value)
    sink.abort()  # what the run does on any failure
    assert list(full_fs.iterdir()) == []


def test_read_only_disk_names_the_file(ro_fs: Path) -> None:
    with pytest.raises(StorageError) as err:
        outputs.write_json(ro_fs / "run" / "run.json", {"a": 1})
    assert "the file system is read-only (EROFS)" in str(err.value) and str(ro_fs / "run") in str(err.value)


def test_injected_enospc_at_the_rename_is_reported_and_cleaned(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    def no_space(src, dst):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(StorageError, match="no space left on the device"):
        outputs.atomic_write_text(tmp_path / "report.html", "x")
    assert list(tmp_path.iterdir()) == []


def test_warehouse_on_a_full_disk_shows_duckdbs_error_not_the_rollback(tmp_path: Path) -> None:
    target = tmp_path / "wh-full"
    if not _mount(target, "size=256k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with pytest.raises(StorageError) as err:
            store_inputs(target / "wh.duckdb", load_inputs(ROOT / "data" / "default"))
    finally:
        _umount(target)
    message = str(err.value)
    assert "cannot rollback" not in message and "no transaction is active" not in message
    assert str(target / "wh.duckdb") in message
    assert "space" in message.lower() or "write" in message.lower(), message


def test_warehouse_on_a_read_only_disk_is_one_line(ro_fs: Path) -> None:
    with pytest.raises(StorageError) as err:
        store_inputs(ro_fs / "wh.duckdb", load_inputs(ROOT / "data" / "default"))
    assert str(ro_fs / "wh.duckdb") in str(err.value) and "\n" not in str(err.value).strip()


def test_cli_compare_and_export_into_a_read_only_folder(ro_fs: Path, tmp_path: Path) -> None:
    import importlib.util

    # the small run folder of the compare/export tests (tests/flows/conftest.py)
    spec = importlib.util.spec_from_file_location("flows_test_conftest", ROOT / "tests" / "flows" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = module.build_run(tmp_path / "run", ("reference", "efficiency_led"), n_draws=0)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for args in (["compare", "reference", "efficiency_led", "--run", str(run), "--out", str(ro_fs / "cmp")],
                 ["export", "--run", str(run), "--out", str(ro_fs / "exp")]):
        res = subprocess.run(GRIDCAST + args, cwd=ROOT, capture_output=True, text=True, timeout=300,
                             env=env, check=False)
        assert res.returncode == 2, (args, res.stderr[-2000:])
        assert "Traceback" not in res.stderr, res.stderr[-2000:]
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith("gridcast: cannot write")]
        assert len(lines) == 1 and "read-only (EROFS)" in lines[0] and str(ro_fs) in lines[0], res.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_cli_run_onto_a_full_disk_is_one_line_and_leaves_no_partial_file(full_fs: Path, tmp_path: Path) -> None:
    out = full_fs / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    res = subprocess.run(GRIDCAST + ["run", "--draws", "0", "--scenario", str(ROOT / "data" / "scenarios" / "reference.toml"),
                                     "--out", str(out), "--warehouse", str(tmp_path / "wh.duckdb")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("gridcast: cannot write")]
    assert len(lines) == 1 and "no space left on the device (ENOSPC)" in lines[0] and str(out) in lines[0], res.stderr
    assert not (out / "run.json").exists()
    for path in out.rglob("*"):  # whatever fitted is whole: no temporary names are left
        assert ".gridcast-" not in path.name, path
