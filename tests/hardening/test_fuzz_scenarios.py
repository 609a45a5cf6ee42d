"""Fuzzing scenario files: random mutations of data/scenarios/reference.toml.

Each variant either loads or is refused with one :class:`ScenarioError` (one line per
problem, each naming the file); never another exception. Mutations that certainly break a
rule (a reversed range, an unknown key, a path-like name, a non-UTF-8 byte) must be
refused. A variant that loads must also run: the central simulation on the shipped
fleet gives finite numbers without warnings (pytest turns warnings into errors).
"""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any

import numpy as np
import pytest
from hardening_support import DATA, REFERENCE_TOML
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flows.compute import all_ranges, fleet_from_inputs
from flows.errors import ScenarioError
from flows.scenarios import load_scenarios
from flows.validate import load_inputs
from models.engine import simulate
from models.sampling import central_params

REFERENCE_TEXT = REFERENCE_TOML.read_text(encoding="utf-8")
REFERENCE = tomllib.loads(REFERENCE_TEXT)
INPUTS = load_inputs(DATA)
FLEET = fleet_from_inputs(INPUTS)

REFUSE, EITHER = "refuse", "either"
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --------------------------------------------------------------------------- TOML out


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        # JSON strings are TOML basic strings, except that TOML wants DEL escaped too.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def dumps(doc: dict[str, Any]) -> str:
    """A TOML document of top-level keys (tables written inline)."""
    return "".join(f"{toml_value(str(k))} = {toml_value(v)}\n" for k, v in doc.items())


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a nested mapping (tables and leaves)."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out.extend(paths(v, (*prefix, k)))
    return out


def get(doc: dict, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def copy(doc: Any) -> Any:
    return json.loads(json.dumps(doc))


def triples(doc: dict) -> list[tuple]:
    return [p for p in paths(doc) if isinstance(get(doc, p), list) and len(get(doc, p)) == 3
            and all(isinstance(x, float | int) for x in get(doc, p))]


# --------------------------------------------------------------------------- mutations
# Each returns (TOML text or bytes, expectation).

ODD_VALUES = st.one_of(
    st.text(max_size=8), st.booleans(), st.just([]), st.just([1.0, 2.0]), st.just([1, 2, 3, 4]),
    st.just(["a", "b", "c"]), st.just({}), st.just({"x": 1}), st.integers(-10**30, 10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.just(10**400), st.just(-(10**400)),
)


def m_delete_key(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    path = draw.draw(st.sampled_from(paths(doc)), label="deleted")
    del get(doc, path[:-1])[path[-1]]
    return dumps(doc), EITHER


def m_unknown_key(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    tables = [p for p in paths(doc) if isinstance(get(doc, p), dict)
              and p not in (("sources",), ("levers",), ("pue", "new_build_cap"))]
    path = draw.draw(st.sampled_from([(), *tables]), label="table")
    key = draw.draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in get(doc, path)))
    get(doc, path)[key] = draw.draw(ODD_VALUES, label="value")
    return dumps(doc), REFUSE


def m_wrong_type(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    leaves = [p for p in paths(doc) if not isinstance(get(doc, p), dict)]
    path = draw.draw(st.sampled_from(leaves), label="leaf")
    get(doc, path[:-1])[path[-1]] = draw.draw(ODD_VALUES, label="value")
    return dumps(doc), EITHER


def m_reversed_range(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    spread = [p for p in triples(doc) if get(doc, p)[0] < get(doc, p)[2]]
    path = draw.draw(st.sampled_from(spread), label="range")
    get(doc, path[:-1])[path[-1]] = list(reversed(get(doc, path)))
    return dumps(doc), REFUSE


def m_out_of_range(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    path = draw.draw(st.sampled_from(triples(doc)), label="range")
    factor = draw.draw(st.sampled_from([-1.0, 0.0, 1e3, 1e-9, 1e300, math.inf, math.nan]))
    scale = draw.draw(st.sampled_from(["all", "low", "high"]))
    low, mid, high = get(doc, path)
    new = {"all": [low * factor, mid * factor, high * factor], "low": [low * factor, mid, high],
           "high": [low, mid, high * factor]}[scale]
    get(doc, path[:-1])[path[-1]] = new
    return dumps(doc), EITHER


def m_huge_integer(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    leaves = [p for p in paths(doc) if isinstance(get(doc, p), int | float | list)
              and not isinstance(get(doc, p), bool) and p[0] != "sources"
              and not (isinstance(get(doc, p), list) and isinstance(get(doc, p)[0], str))]
    path = draw.draw(st.sampled_from(leaves), label="leaf")
    huge = draw.draw(st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1]))
    value = get(doc, path)
    get(doc, path[:-1])[path[-1]] = [value[0], value[1], huge] if isinstance(value, list) else huge
    return dumps(doc), REFUSE


def m_bad_name(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    doc["name"] = draw.draw(st.sampled_from(
        ["../../etc/x", "/etc/passwd", "a/b", "..", ".", "", "Reference", "ref erence", "x" * 65,
         "ref\x00", "réf", "..\\..\\x", "scenario=x"]), label="name")
    return dumps(doc), REFUSE


def m_bad_years(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    base = draw.draw(st.sampled_from([2024, 1800, 2200, -1, 0]))
    end = draw.draw(st.sampled_from([2024, 2023, 1989, 2101, 10**6]))
    doc["horizon"] = {"base_year": base, "end_year": end}
    return dumps(doc), REFUSE


def m_extends(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    doc["extends"] = draw.draw(st.one_of(
        st.sampled_from(["reference", "no_such", "../reference", "", "efficiency_led"]),
        st.integers(), st.just(["reference"]), st.just({"a": 1})), label="extends")
    return dumps(doc), EITHER


def m_truncate(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    cut = draw.draw(st.integers(0, len(REFERENCE_TEXT)), label="cut")
    return REFERENCE_TEXT[:cut], EITHER


def m_splice_bytes(doc: dict, draw: st.DataObject) -> tuple[bytes, str]:
    raw = REFERENCE_TEXT.encode("utf-8")
    at = draw.draw(st.integers(0, len(raw)), label="at")
    junk = draw.draw(st.binary(min_size=1, max_size=6), label="junk")
    return raw[:at] + junk + raw[at:], EITHER


def m_latin1(doc: dict, draw: st.DataObject) -> tuple[bytes, str]:
    return REFERENCE_TEXT.replace("Jevons", "J\u00e9vons", 1).encode("latin-1", errors="replace"), REFUSE


def m_duplicate_line(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    lines = REFERENCE_TEXT.splitlines(keepends=True)
    keyed = [i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith("#")]
    i = draw.draw(st.sampled_from(keyed), label="line")
    return "".join(lines[: i + 1] + [lines[i]] + lines[i + 1:]), REFUSE


def m_deep_nesting(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    depth = draw.draw(st.integers(17, 4000), label="depth")
    kind = draw.draw(st.sampled_from(["inline tables", "arrays", "dotted key"]), label="kind")
    if kind == "inline tables":
        extra = "deep = " + "{a = " * depth + "1" + "}" * depth + "\n"
    elif kind == "arrays":
        extra = "deep = " + "[" * depth + "1" + "]" * depth + "\n"
    else:
        extra = ".".join(["a"] * depth) + " = 1\n"
    return extra + dumps(doc), REFUSE


def m_long_text(doc: dict, draw: st.DataObject) -> tuple[str, str]:
    n = draw.draw(st.sampled_from([2001, 10_000, 1_000_001]), label="characters")
    where = draw.draw(st.sampled_from(["description", "lever source", "sources value"]), label="field")
    text = "x" * n
    if where == "description":
        doc["description"] = text
    elif where == "lever source":
        next(iter(doc["levers"].values()))["source"] = text
    else:
        doc.setdefault("sources", {})["growth.general"] = text
    return dumps(doc), REFUSE


MUTATIONS = {
    "deep_nesting": m_deep_nesting, "long_text": m_long_text,
    "delete_key": m_delete_key, "unknown_key": m_unknown_key, "wrong_type": m_wrong_type,
    "reversed_range": m_reversed_range, "out_of_range": m_out_of_range,
    "huge_integer": m_huge_integer, "bad_name": m_bad_name, "bad_years": m_bad_years,
    "extends": m_extends, "truncate": m_truncate, "splice_bytes": m_splice_bytes,
    "latin1": m_latin1, "duplicate_line": m_duplicate_line,
}


def test_dumps_round_trips_the_reference() -> None:
    assert tomllib.loads(dumps(REFERENCE)) == REFERENCE


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
@SETTINGS
@given(draw=st.data())
def test_mutated_scenario_loads_or_raises_scenario_error(kind: str, draw: st.DataObject,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    content, expect = MUTATIONS[kind](copy(REFERENCE), draw)
    path = tmp_path_factory.mktemp("scn") / "variant.toml"
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    try:
        loaded = load_scenarios(path)
    except ScenarioError as err:
        msg = str(err)
        event(f"refused: {err.rule[:50]}")
        assert msg.startswith("invalid scenario: file "), msg
        lines = msg.split("\n")  # one line per problem, at most MAX_LISTED, then a count
        assert "\r" not in msg, repr(msg)
        assert lines[: len(err.problems)] == [str(p) for p in err.problems], msg
        assert all(line.startswith("invalid scenario: file ") for line in lines[: len(err.problems)])
        assert len(lines) == len(err.problems) + (err.count > len(err.problems)), msg
        return
    event("loaded")
    assert expect != REFUSE, f"{kind}: a broken scenario was loaded"
    for s in loaded:
        assert s.name == s.scenario.name and "/" not in s.name and ".." not in s.name
        central = simulate(FLEET, s.scenario, central_params(all_ranges(s.scenario, INPUTS)))
        assert np.isfinite(central.region_facility_twh).all()
