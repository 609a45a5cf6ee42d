"""Reading scenario TOML files: ``extends`` inheritance and validation.

A scenario file may say ``extends = "reference"`` and override only some keys;
tables merge key by key (a nested lever key overrides just that key). The
parent is looked up by name among the scenario files of the same folder, then
the shipped set. Every problem is a :class:`ScenarioError` naming file and key; all the
problems of a file (of every file of a folder) are reported at once, unknown keys first
with the closest valid key suggested (a typo usually also causes a 'missing' key).

Limits: a scenario file is at most :data:`MAX_SCENARIO_BYTES` long and nests tables and
arrays at most :data:`MAX_SCENARIO_DEPTH` deep (dotted keys count as nesting); text
fields are capped in :mod:`models.scenario`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from flows.errors import ScenarioError, ScenarioProblem
from models.scenario import Scenario

__all__ = [
    "MAX_SCENARIO_BYTES",
    "MAX_SCENARIO_DEPTH",
    "REFERENCE_SCENARIO",
    "SHIPPED_SCENARIOS",
    "LoadedScenario",
    "load_scenarios",
    "resolve_scenario",
    "scenario_hash",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_SCENARIOS = PROJECT_ROOT / "data" / "scenarios"
REFERENCE_SCENARIO = SHIPPED_SCENARIOS / "reference.toml"
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
# TOML integers are 64-bit; tomllib accepts longer ones, which no float can hold.
_INT64 = (-(2**63), 2**63 - 1)
MAX_SCENARIO_BYTES = 1_000_000
"""Largest scenario file read (the shipped ones are a few kB)."""
MAX_SCENARIO_DEPTH = 16
"""Deepest nesting of tables and arrays in a scenario file (the shipped ones reach 4)."""


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from and its merged mapping."""

    scenario: Scenario
    path: Path
    resolved: dict[str, Any]
    chain: tuple[str, ...]

    @property
    def name(self) -> str:
        """The scenario's name (also its output partition)."""
        return self.scenario.name


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioError(str(path), f"file is {size:,} bytes; a scenario file may be at most "
                                f"{MAX_SCENARIO_BYTES:,} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(str(path), f"cannot read the file ({exc.strerror})") from None
    if len(raw) > MAX_SCENARIO_BYTES:  # grew since the stat
        raise ScenarioError(str(path), f"a scenario file may be at most {MAX_SCENARIO_BYTES:,} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), f"not valid UTF-8 at byte {exc.start}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), f"malformed TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested inline table or array
        raise ScenarioError(str(path), _too_deep()) from None
    key = _too_deep_key(data)
    if key is not None:
        raise ScenarioError(str(path), _too_deep(), key=key[:200])
    key = _out_of_range_int(data)
    if key is not None:
        raise ScenarioError(str(path), "integer out of range (TOML integers are 64-bit)", key=key)
    return data


def _too_deep() -> str:
    return (f"tables and arrays nest too deep (at most {MAX_SCENARIO_DEPTH} levels, dotted keys "
            "included)")


def _too_deep_key(data: dict[str, Any]) -> str | None:
    """Dotted key where the nesting passes MAX_SCENARIO_DEPTH, or None (no recursion)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        node, key, depth = stack.pop()
        if depth > MAX_SCENARIO_DEPTH:
            return key
        if isinstance(node, dict):
            stack.extend((v, f"{key}.{k}" if key else str(k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, key, depth + 1) for v in node)
    return None


def _out_of_range_int(node: Any, prefix: str = "") -> str | None:
    """Dotted key of the first integer outside TOML's 64-bit range, or None."""
    if isinstance(node, dict):
        items = ((f"{prefix}.{k}" if prefix else str(k), v) for k, v in node.items())
    elif isinstance(node, list):
        items = ((prefix, v) for v in node)
    else:
        bad = isinstance(node, int) and not isinstance(node, bool) and not _INT64[0] <= node <= _INT64[1]
        return prefix if bad else None
    for key, value in items:
        found = _out_of_range_int(value, key)
        if found is not None:
            return found
    return None


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: tables merge key by key, everything else is replaced."""
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _index(folders: list[Path]) -> dict[str, Path]:
    """Scenario name -> file, from the ``name`` key (or the file stem) of each TOML."""
    found: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                name = str(_read_toml(path).get("name", path.stem))
            except ScenarioError:
                name = path.stem
            found.setdefault(name, path)
    return found


def _resolve_mapping(
    path: Path, search: list[Path]
) -> tuple[dict[str, Any], tuple[str, ...], list[tuple[Path, dict[str, Any]]]]:
    index = _index(search)
    chain: list[str] = []
    seen: list[Path] = []
    layers: list[dict[str, Any]] = []
    files: list[Path] = []
    current = path
    while True:
        resolved_path = current.resolve()
        if resolved_path in seen:
            cycle = " -> ".join([p.stem for p in seen] + [current.stem])
            raise ScenarioError(str(path), f"'extends' forms a cycle: {cycle}", key="extends")
        seen.append(resolved_path)
        data = _read_toml(current)
        layers.append(data)
        files.append(current)
        chain.append(str(data.get("name", current.stem)))
        parent = data.get("extends")
        if parent is None:
            break
        if not isinstance(parent, str) or parent not in index:
            known = ", ".join(sorted(index)) or "none"
            raise ScenarioError(
                str(current), f"parent scenario {parent!r} not found (known: {known})", key="extends"
            )
        current = index[parent]
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        merged = _merge(merged, layer)
    merged["name"] = layers[0].get("name", path.stem)
    merged["description"] = layers[0].get("description", merged.get("description", ""))
    merged["extends"] = layers[0].get("extends")
    return merged, tuple(chain), list(zip(files, layers, strict=True))


def _file_setting(key: str, layers: list[tuple[Path, dict[str, Any]]]) -> Path:
    """The file of the ``extends`` chain that set ``key`` (deepest match, child first).

    A bad value inherited from a parent is reported in the parent's file, where
    it must be fixed; a key no file sets (a missing one) goes to the child.
    """
    best, depth = layers[0][0], 0
    for file, data in layers:
        node: Any = data
        d = 0
        for part in key.split(".") if key else []:
            if not isinstance(node, dict) or part not in node:
                break
            node, d = node[part], d + 1
        if d > depth:
            best, depth = file, d
    return best


def _model_at(parts: list[str]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at dotted key ``parts`` (or None)."""
    node: Any = Scenario
    for part in parts:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(part)
            if field is None:
                return None
            node = field.annotation
        elif typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]  # ``part`` is a free key (a lever's name)
        else:
            return None
    node = _unwrap(node)
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _unwrap(node: Any) -> Any:
    while True:
        origin = typing.get_origin(node)
        if origin is typing.Annotated:
            node = typing.get_args(node)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(node) if a is not type(None)]
            if len(args) != 1:
                return node
            node = args[0]
        else:
            return node


def _suggestion(bad: str, parent: list[str]) -> str:
    model = _model_at(parent)
    if model is None:
        return ""
    valid = list(model.model_fields)
    close = difflib.get_close_matches(bad, valid, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return "; valid keys here: " + ", ".join(valid)


def _validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(dotted key, rule) of every error: unknown keys first, each with a suggestion."""
    errors = exc.errors()
    unknown: dict[tuple[str, ...], list[str]] = {}
    for err in errors:
        if err["type"] == "extra_forbidden":
            loc = [str(x) for x in err["loc"]]
            unknown.setdefault(tuple(loc[:-1]), []).append(loc[-1])
    first, rest = [], []
    for err in errors:
        # pydantic marks a bad dict key (an unknown zone) with a "[key]" step: the key is the path itself
        loc = [str(x) for x in err["loc"] if x != "[key]"]
        key = ".".join(loc)
        rule = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            first.append((key, "unknown key (a typo?)" + _suggestion(loc[-1], loc[:-1])))
            continue
        if err["type"] == "missing":
            rule = "required key is missing"
            typos = difflib.get_close_matches(loc[-1], unknown.get(tuple(loc[:-1]), []), n=1, cutoff=0.6)
            if typos:
                rule += f" (is the unknown key {typos[0]!r} a typo of it?)"
        rest.append((key, rule))
    return first + rest


def resolve_scenario(path: Path, search: list[Path] | None = None) -> LoadedScenario:
    """Read one scenario file, apply ``extends`` and validate the result.

    Args:
        path: the TOML file.
        search: folders where parents are looked up by name (default: the file's
            folder, then the shipped scenarios).
    """
    path = Path(path)
    folders = search if search is not None else [path.parent, SHIPPED_SCENARIOS]
    merged, chain, layers = _resolve_mapping(path, folders)
    problems = []
    name = str(merged.get("name", ""))
    if not name or not set(name) <= _NAME_CHARS:
        problems.append(ScenarioProblem(
            str(path), "name must be lower-case letters, digits, '_' or '-' (it names output folders)",
            key="name"))
    try:
        scenario = Scenario.model_validate(merged)
    except ValidationError as exc:
        problems += [ScenarioProblem(str(_file_setting(key, layers)), rule, key=key or None)
                     for key, rule in _validation_problems(exc)]
    if problems:
        raise ScenarioError.of(problems)
    return LoadedScenario(scenario=scenario, path=path, resolved=merged, chain=chain)


def load_scenarios(target: Path | None) -> list[LoadedScenario]:
    """All scenarios of a file or folder (default: the shipped set), sorted by name.

    Raises:
        ScenarioError: no scenario found, two with one name, or any invalid file.
    """
    target = Path(target) if target is not None else SHIPPED_SCENARIOS
    if target.is_dir():
        files = sorted(target.glob("*.toml"))
        search = [target, SHIPPED_SCENARIOS]
    elif target.is_file():
        files = [target]
        search = [target.parent, SHIPPED_SCENARIOS]
    else:
        raise ScenarioError(str(target), "no such file or folder")
    if not files:
        raise ScenarioError(str(target), "no *.toml scenario files in this folder")
    loaded, problems, count = [], [], 0
    for f in files:  # every file's problems at once
        try:
            loaded.append(resolve_scenario(f, search))
        except ScenarioError as err:
            problems += err.problems
            count += err.count
    if problems:
        raise ScenarioError.of(problems, count)
    names = [s.name for s in loaded]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ScenarioError(str(target), f"two scenario files share the name {dupes[0]!r}", key="name")
    return sorted(loaded, key=lambda s: (s.name != "reference", s.name))  # reference first


def scenario_hash(loaded: LoadedScenario) -> str:
    """sha256 of the resolved scenario (canonical JSON), recorded with each run."""
    blob = json.dumps(loaded.scenario.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()
