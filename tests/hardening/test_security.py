"""Security: SQL is never built from input values, names cannot steer output paths, and
everything gridcast starts listens on the loopback interface only.

The SQL check parses every module of flows/ and models/ with :mod:`ast`. A call to
``.execute``, ``.executemany`` or ``.sql`` must pass SQL that is a string literal, or an
f-string whose interpolated parts are on :data:`ALLOWED_INTERPOLATIONS` (names of
tables and columns from the schema constants, each reviewed); ``+``, ``%`` and
``.format`` on SQL are refused outright. A parameter interpolated as a table name is
followed to every call site, which must pass a schema constant. Values always travel as
bound parameters (``?``/``$name``) or registered Arrow tables.
"""

from __future__ import annotations

import ast
import json
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import psutil
import pytest
from hardening_support import DATA, ROOT, kill_group, shipped_files, start_cli, write_folder

from flows import compare, outputs
from flows.errors import GridcastError, ScenarioError
from flows.scenarios import SHIPPED_SCENARIOS, load_scenarios
from flows.schema import SOURCE_ROW, TABLES
from flows.validate import load_inputs
from flows.warehouse import INPUTS_TABLE, RUN_COLUMNS, RUNS_TABLE, read_inputs, store_inputs

SQL_METHODS = {"execute", "executemany", "sql"}
SOURCES = sorted(p for folder in ("flows", "models") for p in (ROOT / folder).rglob("*.py"))

# (module, function) -> the expressions that function may interpolate into SQL, and why.
ALLOWED_INTERPOLATIONS: dict[tuple[str, str], dict[str, str]] = {
    ("flows/warehouse.py", "_store_table"): {
        "table.raw_table": "raw_<name> of a schema Table",
        "table.core_table": "core_<name> of a schema Table",
    },
    ("flows/warehouse.py", "_write_frame"): {
        "name": "a table name; every call site passes a schema constant (PASSTHROUGH)",
        "_VIEW": "module constant naming the registered Arrow view",
    },
    ("flows/warehouse.py", "_read_table"): {
        "name": "a table name; every call site passes a schema constant (PASSTHROUGH)",
        "SOURCE_ROW": "schema constant",
    },
    ("flows/warehouse.py", "read_inputs"): {"INPUTS_TABLE": "module constant"},
    ("flows/warehouse.py", "list_runs"): {"RUNS_TABLE": "module constant"},
    ("flows/warehouse.py", "record_run"): {
        "RUNS_TABLE": "module constant",
        "names": "quoted keys of RUN_COLUMNS (unknown keys are refused first)",
        "marks": "one '?' per column: values are bound parameters",
        "on_conflict": "built from the same RUN_COLUMNS keys",
    },
    ("flows/warehouse.py", "_create_runs_sql"): {
        "RUNS_TABLE": "module constant",
        "body": "RUN_COLUMNS names and types (module constant)",
    },
    ("flows/warehouse.py", "_add_missing_run_columns"): {
        "RUNS_TABLE": "module constant",
        "column": "a key of RUN_COLUMNS (module constant), iterated",
        "kind": "its DuckDB type from RUN_COLUMNS (module constant)",
    },
    ("flows/warehouse.py", "_stored_hashes"): {"INPUTS_TABLE": "module constant"},
    ("flows/warehouse.py", "inputs_current"): {"table.core_table": "core_<name> of a schema Table"},
    ("flows/compare.py", "table"): {"str(hive).lower()": "a bool rendered as true/false"},
    ("flows/baseline_cache.py", "_read"): {
        "CACHE_TABLE": "module constant",
        "cols": "quoted names of PATH_COLUMNS (module constant)",
    },
    ("flows/baseline_cache.py", "_write"): {
        "CACHE_TABLE": "module constant",
        "_VIEW": "module constant naming the registered Arrow view",
    },
}
# (module, function) -> (index of the argument that is interpolated, call-site expressions allowed)
PASSTHROUGH: dict[tuple[str, str], tuple[int, set[str]]] = {
    ("flows/warehouse.py", "_write_frame"): (1, {"table.core_table", "table.raw_table", "INPUTS_TABLE"}),
    ("flows/warehouse.py", "_read_table"): (1, {"table.core_table", "table.raw_table"}),
}


# --------------------------------------------------------------------------- the SQL check


def _functions(tree: ast.AST) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def _assigned(func: ast.AST, name: str) -> list[ast.expr]:
    """Every value assigned to ``name`` inside ``func`` (plain, annotated or augmented)."""
    out = []
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            out.append(node.value)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name) \
                and node.target.id == name and node.value is not None:
            out.append(node.value)
    return out


def _enclosing(tree: ast.AST) -> dict[ast.AST, str]:
    """Node -> name of the innermost function holding it (outer functions come first)."""
    owner: dict[ast.AST, str] = {}
    for func in sorted(_functions(tree).values(), key=lambda f: f.lineno):
        for node in ast.walk(func):
            owner[node] = func.name
    return owner


class _SqlChecker:
    """Follows the SQL argument of each call back to literals or reviewed interpolations."""

    MAX_DEPTH = 5

    def __init__(self, source: str, module: str, allowed: dict) -> None:
        self.tree = ast.parse(source)
        self.module = module
        self.allowed = allowed
        self.funcs = _functions(self.tree)
        self.problems: list[str] = []

    def run(self) -> list[str]:
        owner = _enclosing(self.tree)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in SQL_METHODS and node.args:
                self.check(node.args[0], owner.get(node, "<module>"), node.lineno)
        return self.problems

    def flag(self, where: int, what: str) -> None:
        self.problems.append(f"{self.module}:{where}: {what}")

    def ok_names(self, func: str) -> dict[str, str]:
        return self.allowed.get((self.module, func), {})

    def check(self, expr: ast.expr, func: str, where: int, depth: int = 0) -> None:
        if depth > self.MAX_DEPTH:
            self.flag(where, "SQL built too indirectly to check")
        elif isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return
        elif isinstance(expr, ast.JoinedStr):
            self.joined(expr, func, where)
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            # "+" of literal parts is fine; each side is followed like the whole.
            self.check(expr.left, func, where, depth + 1)
            self.check(expr.right, func, where, depth + 1)
        elif isinstance(expr, ast.BinOp):
            self.flag(where, f"SQL built with {type(expr.op).__name__}")
        elif isinstance(expr, ast.Name):
            self.name(expr, func, where, depth)
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in self.funcs \
                and not expr.args and not expr.keywords:
            for ret in ast.walk(self.funcs[expr.func.id]):
                if isinstance(ret, ast.Return) and ret.value is not None:
                    self.check(ret.value, expr.func.id, where, depth + 1)
        else:
            self.flag(where, f"SQL built by {ast.unparse(expr)[:60]!r}")

    def joined(self, expr: ast.JoinedStr, func: str, where: int) -> None:
        for part in expr.values:
            if isinstance(part, ast.FormattedValue):
                text = ast.unparse(part.value)
                if text not in self.ok_names(func):
                    self.flag(where, f"{func}() interpolates {text!r} into SQL")

    def name(self, expr: ast.Name, func: str, where: int, depth: int) -> None:
        values = _assigned(self.funcs[func], expr.id) if func in self.funcs else []
        for value in values:
            self.check(value, func, where, depth + 1)
        if not values and expr.id not in self.ok_names(func):
            self.flag(where, f"SQL from {expr.id!r}, not traceable to a literal")


def sql_problems(source: str, module: str, allowed: dict = ALLOWED_INTERPOLATIONS) -> list[str]:
    """Every SQL argument in ``source`` that is built from something not reviewed as safe."""
    return _SqlChecker(source, module, allowed).run()


def passthrough_problems(sources: list[Path]) -> list[str]:
    problems = []
    for path in sources:
        module = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            for (mod, func), (index, ok) in PASSTHROUGH.items():
                if node.func.id == func and mod == module and len(node.args) > index:
                    text = ast.unparse(node.args[index])
                    if text not in ok:
                        problems.append(f"{module}:{node.lineno}: {func}() called with table {text!r}")
    return problems


def test_no_sql_is_built_from_values() -> None:
    problems = []
    for path in SOURCES:
        problems += sql_problems(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    assert not problems, "\n".join(problems)


def test_table_names_interpolated_into_sql_come_from_the_schema() -> None:
    assert not passthrough_problems(SOURCES)
    ident = re.compile(r"^[a-z_][a-z0-9_]*$")
    names = [INPUTS_TABLE, RUNS_TABLE, SOURCE_ROW, *RUN_COLUMNS]
    names += [n for t in TABLES.values() for n in (t.raw_table, t.core_table)]
    assert all(ident.match(n) for n in names), names


def test_the_sql_check_catches_pasted_values() -> None:
    bad = '''
def f(con, value, table):
    con.execute(f"SELECT * FROM t WHERE id = '{value}'")
    con.execute("SELECT * FROM t WHERE id = '" + value + "'")
    con.sql("SELECT * FROM %s" % table)
    con.execute("SELECT * FROM {}".format(table))
    q = "DELETE FROM t WHERE x = " + value
    con.execute(q)
def g(con):
    con.execute("SELECT 1 WHERE x = ?", [1])
    con.execute("SELECT " "1")
'''
    problems = sql_problems(bad, "x.py", allowed={})
    assert [int(p.split(":")[1]) for p in problems] == [3, 4, 5, 6, 8], problems


def test_no_shell_or_eval_on_anything() -> None:
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                assert name not in {"eval", "exec", "pickle.load", "pickle.loads", "os.system"}, \
                    f"{path}:{node.lineno}: {name}"
                for kw in node.keywords:
                    assert not (kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value), \
                        f"{path}:{node.lineno}: shell=True"


def test_hostile_text_in_inputs_is_stored_as_data(tmp_path: Path) -> None:
    files = shipped_files()
    hostile = "x'); DROP TABLE core_regions; --\"\"; SELECT 1; \\"
    records = files["compute_centers.csv"].decode("utf-8").splitlines()
    header, first = records[0], records[1].split(",")
    first[1] = '"' + hostile.replace('"', '""') + '"'
    records[1] = ",".join(first)
    records[0] = header + ',"' + hostile.replace('"', '""') + '"'
    records[1:] = [r + ",v" for r in records[1:]]
    files["compute_centers.csv"] = ("\n".join(records) + "\n").encode("utf-8")
    warehouse = tmp_path / "wh.duckdb"
    store_inputs(warehouse, load_inputs(write_folder(tmp_path / "data", files)))
    back = read_inputs(warehouse)
    assert back.compute_centers["name"].iloc[0] == hostile
    assert hostile in back.raw["compute_centers"].columns
    assert len(back.regions) == len(load_inputs(DATA).regions)


# --------------------------------------------------------------------------- output paths


@pytest.mark.parametrize("name", ["../../etc/x", "/etc/x", "a/b", "..", "x\\..\\y", "scenario=../x", ""])
def test_path_like_scenario_names_are_refused(tmp_path: Path, name: str) -> None:
    text = (SHIPPED_SCENARIOS / "reference.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^name = ".*"$', lambda _: f"name = {json.dumps(name)}", text, count=1)
    path = tmp_path / "evil.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenarios(path)
    assert info.value.key == "name"


def test_a_file_name_cannot_stand_in_for_a_bad_name(tmp_path: Path) -> None:
    text = (SHIPPED_SCENARIOS / "reference.toml").read_text(encoding="utf-8")
    path = tmp_path / "..Evil Name.toml"
    path.write_text(re.sub(r'(?m)^name = ".*"\n', "", text, count=1), encoding="utf-8")
    with pytest.raises(ScenarioError):
        load_scenarios(path)


def test_safe_child_refuses_every_escape(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    assert outputs.safe_child(root, "a", "b.parquet") == (root / "a" / "b.parquet").resolve()
    for parts in (("..", "x"), ("/etc/passwd",), ("a/../../x",), ("link", "x"), ("scenario=x/../../../y",)):
        with pytest.raises(GridcastError):
            outputs.safe_child(root, *parts)


def test_partition_values_cannot_leave_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "out"
    frame = pd.DataFrame({"scenario": ["../../evil", "/abs", "a/b", "..", "ok"], "v": [1, 2, 3, 4, 5]})
    outputs.write_partitioned(root / "regional", frame)
    outside = [p for p in tmp_path.rglob("*") if root not in p.parents and p != root]
    assert not outside, outside
    parts = sorted(p.name for p in (root / "regional").iterdir())
    assert len(parts) == 5 and all(p.startswith("scenario=") and "/" not in p for p in parts), parts


def test_compare_folder_from_a_hostile_run_id_is_refused() -> None:
    comp = SimpleNamespace(run=SimpleNamespace(run_id="../../../../../../tmp/evil"), scenarios=["a", "b"])
    with pytest.raises(GridcastError):
        compare._default_out(comp)


# --------------------------------------------------------------------------- listening sockets

TEXT_FILES = [ROOT / "README.md", ROOT / "Makefile", *sorted((ROOT / "docs").rglob("*.md")),
              *SOURCES, *sorted((ROOT / "tests").rglob("*.py")), *sorted(ROOT.glob("*.yaml"))]
SERVER_START = re.compile(r"""server["',\s]+start""")


def test_documented_servers_bind_loopback() -> None:
    this = Path(__file__).resolve()
    for path in TEXT_FILES:
        if path.resolve() == this or not path.is_file():
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert "0.0.0.0" not in line, f"{path}:{i}: binds every interface: {line.strip()}"
            if SERVER_START.search(line) and "--host" in line:
                assert re.search(r"--host[\"',\s=]+(127\.0\.0\.1|localhost|::1)", line), f"{path}:{i}: {line}"
    pipeline = (ROOT / "flows" / "pipeline.py").read_text(encoding="utf-8")
    # The Dask LocalCluster of --runner dask: scheduler and dashboard (if any) on loopback.
    assert '"host": "127.0.0.1"' in pipeline
    for value in re.findall(r'"dashboard_address":\s*([^,}]+)', pipeline):
        assert value.strip() == "None" or re.match(r'"(127\.0\.0\.1|localhost):', value.strip()), value


def test_prefect_server_setting_defaults_to_loopback() -> None:
    from flows.settings import configure_prefect

    configure_prefect()
    from prefect.settings import get_current_settings

    assert get_current_settings().server.api.host in ("127.0.0.1", "localhost", "::1")


@pytest.mark.slow
@pytest.mark.integration
def test_everything_gridcast_starts_listens_on_loopback(tmp_path: Path) -> None:
    proc = start_cli(["ingest", "--warehouse", str(tmp_path / "wh.duckdb")], tmp_path / "log")
    seen: set[tuple[str, int]] = set()
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            pids = {p.pid for p in psutil.process_iter() if _in_session(p, proc.pid)}
            for conn in psutil.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
                    seen.add((conn.laddr.ip, conn.laddr.port))
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    assert proc.returncode == 0, (tmp_path / "log").read_text()[-3000:]
    assert seen, "no listening socket seen (the ephemeral Prefect server should have one)"
    assert all(ip in ("127.0.0.1", "::1") for ip, _ in seen), seen


def _in_session(p: psutil.Process, sid: int) -> bool:
    try:
        return p.pid == sid or os.getsid(p.pid) == sid
    except (psutil.Error, ProcessLookupError, PermissionError):
        return False
