"""Reading scenario TOML files: ``extends`` inheritance and validation.

A scenario file may say ``extends = "reference"`` and override only some keys;
tables merge key by key (a nested lever key overrides just that key). The
parent is looked up by name among the scenario files of the same folder, then
the shipped set. Every problem is a :class:`ScenarioError` naming file and key.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flows.errors import ScenarioError
from models.scenario import Scenario

__all__ = [
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
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(str(path), f"cannot read the file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), f"not valid UTF-8 at byte {exc.start}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), f"malformed TOML: {exc}") from None
    key = _out_of_range_int(data)
    if key is not None:
        raise ScenarioError(str(path), "integer out of range (TOML integers are 64-bit)", key=key)
    return data


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


def _validation_message(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    # pydantic marks a bad dict key (an unknown zone) with a "[key]" step: the key is the path itself
    key = ".".join(str(x) for x in err["loc"] if x != "[key]") or None
    rule = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        rule = "unknown key (a typo?)"
    elif err["type"] == "missing":
        rule = "required key is missing"
    return key or "", rule


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
    name = str(merged.get("name", ""))
    if not name or not set(name) <= _NAME_CHARS:
        raise ScenarioError(
            str(path), "name must be lower-case letters, digits, '_' or '-' (it names output folders)",
            key="name",
        )
    try:
        scenario = Scenario.model_validate(merged)
    except ValidationError as exc:
        key, rule = _validation_message(exc)
        raise ScenarioError(str(_file_setting(key, layers)), rule, key=key) from None
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
    loaded = [resolve_scenario(f, search) for f in files]
    names = [s.name for s in loaded]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ScenarioError(str(target), f"two scenario files share the name {dupes[0]!r}", key="name")
    return sorted(loaded, key=lambda s: (s.name != "reference", s.name))  # reference first


def scenario_hash(loaded: LoadedScenario) -> str:
    """sha256 of the resolved scenario (canonical JSON), recorded with each run."""
    blob = json.dumps(loaded.scenario.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()
