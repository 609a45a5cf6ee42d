"""Scenario files: every validation rule names file and key; inheritance; the shipped set.

Each bad case is a small child of the shipped reference written to a temporary
folder; the expected key is written out by hand.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from flows.errors import ScenarioError
from flows.scenarios import SHIPPED_SCENARIOS, load_scenarios, resolve_scenario
from models.scenario import parameter_ranges

SHIPPED = ("distributed_small", "domestic_chips", "efficiency_led", "flexible_training", "green_hubs",
           "green_relaxed", "hub_push", "jevons_backfire", "pipeline_as_requested", "reference")
REFERENCE = tomllib.loads((SHIPPED_SCENARIOS / "reference.toml").read_text(encoding="utf-8"))


def _write(folder: Path, stem: str, body: str) -> Path:
    path = folder / f"{stem}.toml"
    path.write_text(body, encoding="utf-8")
    return path


def _child(body: str, name: str = "child") -> str:
    return f'name = "{name}"\nextends = "reference"\n{body}'


def _refused(path: Path, key: str | None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        resolve_scenario(path)
    err = info.value
    assert str(path) in str(err), "the message names the file"
    if key is not None:
        assert err.key == key
        assert repr(key) in str(err), "the message names the key"
    return err


BAD_CASES = {
    "top-level typo": ('descripton = "x"\n', "descripton"),
    "section typo": ("[growht]\ngeneral = 0.1\n", "growht"),
    "nested lever typo": ("[levers.fp8_mixed_precision]\nsavng = 0.5\n", "levers.fp8_mixed_precision.savng"),
    "nested section typo": ("[rebound]\nelasticty_training = 0.5\n", "rebound.elasticty_training"),
    "wrong type: text for a number": ('[growth]\ngeneral = "fast"\n', "growth.general"),
    "wrong type: boolean": ("[growth]\ngeneral = true\n", "growth.general"),
    "wrong type: quoted year": ('[horizon]\nend_year = "2035"\n', "horizon.end_year"),
    "wrong type: two-number range": ("[growth]\ngeneral = [0.1, 0.2]\n", "growth.general"),
    "low > central": ("[growth]\ngeneral = [0.3, 0.2, 0.4]\n", "growth.general"),
    "central > high": ("[growth]\ngeneral = [0.1, 0.5, 0.4]\n", "growth.general"),
    "saving > 1": ("[levers.fp8_mixed_precision]\nsaving = 1.5\n", "levers.fp8_mixed_precision.saving"),
    "saving < 0": ("[levers.sparse_moe_mla]\nsaving = [-0.1, 0.5, 0.6]\n", "levers.sparse_moe_mla.saving"),
    "ceiling > 1": ("[levers.ptx_kernels]\nadoption_ceiling = 2\n", "levers.ptx_kernels.adoption_ceiling"),
    "small/medium share > 1": ("[pue]\nnew_build_small_medium_share = [0.5, 0.9, 1.2]\n",
                               "pue.new_build_small_medium_share"),
    "hub shift < 0": ("[hubs]\ntraining_shift_to_hubs = -0.1\n", "hubs.training_shift_to_hubs"),
    "taper > 1": ("[growth]\ntaper = [0.9, 1.0, 1.1]\n", "growth.taper"),
    "not finite": ("[growth]\ngeneral = nan\n", "growth.general"),
    "unknown workload": ('[levers.fp8_mixed_precision]\nworkloads = ["trainig"]\n',
                         "levers.fp8_mixed_precision.workloads.0"),
    "new lever incomplete": ("[levers.new_one]\nsaving = 0.5\n", "levers.new_one.workloads"),
    "end year before base year": ("[horizon]\nend_year = 2020\n", "horizon.end_year"),
    "end year equal to base year": ("[horizon]\nend_year = 2024\n", "horizon.end_year"),
    "cap below 1": ("[pue.new_build_cap.east]\nvalue = 0.9\nfrom_year = 2025\n", "pue.new_build_cap.east.value"),
    "cap for an unknown zone": ("[pue.new_build_cap.north]\nvalue = 1.2\nfrom_year = 2025\n",
                                "pue.new_build_cap.north"),
}


@pytest.mark.parametrize("body,key", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_bad_scenario_is_refused_naming_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    _refused(_write(tmp_path, "child", _child(body)), key)


def test_end_before_base_message_says_the_rule(tmp_path: Path) -> None:
    err = _refused(_write(tmp_path, "child", _child("[horizon]\nend_year = 2020\n")), "horizon.end_year")
    assert "2020" in err.rule and "2024" in err.rule


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    err = _refused(_write(tmp_path, "child", _child("[growth\ngeneral = 0.1\n")), None)
    assert "malformed TOML" in err.rule and "line 3" in err.rule


def test_missing_parent(tmp_path: Path) -> None:
    err = _refused(_write(tmp_path, "child", 'name = "child"\nextends = "no_such_parent"\n'), "extends")
    assert "no_such_parent" in err.rule


def test_cycle_a_b_a(tmp_path: Path) -> None:
    a = _write(tmp_path, "a", 'name = "a"\nextends = "b"\n')
    _write(tmp_path, "b", 'name = "b"\nextends = "a"\n')
    err = _refused(a, "extends")
    assert "cycle" in err.rule and "a -> b -> a" in err.rule


def test_self_cycle(tmp_path: Path) -> None:
    err = _refused(_write(tmp_path, "a", 'name = "a"\nextends = "a"\n'), "extends")
    assert "cycle" in err.rule


@pytest.mark.parametrize("name", ["../../etc/x", "a/b", "..", "Ref", "x y", "C:\\x", ""])
def test_name_with_path_characters_is_refused(tmp_path: Path, name: str) -> None:
    body = f'name = "{name}"\nextends = "reference"\n'.replace("\\", "\\\\")
    _refused(_write(tmp_path, "child", body), "name")


def test_error_in_a_parent_names_the_parent_file(tmp_path: Path) -> None:
    parent = _write(tmp_path, "parent", _child("[growth]\ngeneral = [0.3, 0.2, 0.4]\n", name="parent"))
    child = _write(tmp_path, "child", 'name = "child"\nextends = "parent"\n')
    with pytest.raises(ScenarioError) as info:
        resolve_scenario(child)
    assert info.value.file == str(parent)
    assert info.value.key == "growth.general"


def test_inheritance_overrides_only_the_nested_lever_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "child", _child("[levers.fp8_mixed_precision]\nadoption_midpoint = 2025.0\n"))
    child = parameter_ranges(resolve_scenario(path).scenario)
    ref = parameter_ranges(resolve_scenario(SHIPPED_SCENARIOS / "reference.toml").scenario)
    changed = {k for k in ref if child[k] != ref[k]}
    assert changed == {"levers.fp8_mixed_precision.adoption_midpoint"}
    assert child["levers.fp8_mixed_precision.adoption_midpoint"] == (2025.0, 2025.0, 2025.0)
    assert set(child) == set(ref)
    lever = resolve_scenario(path).scenario.levers["fp8_mixed_precision"]
    assert lever.workloads == REFERENCE["levers"]["fp8_mixed_precision"]["workloads"]


def test_two_level_chain_merges_in_order(tmp_path: Path) -> None:
    _write(tmp_path, "mid", _child("[growth]\ngeneral = 0.2\ntaper = 0.9\n", name="mid"))
    leaf = _write(tmp_path, "leaf", 'name = "leaf"\nextends = "mid"\n[growth]\ngeneral = 0.3\n')
    loaded = resolve_scenario(leaf)
    assert loaded.chain == ("leaf", "mid", "reference")
    assert loaded.scenario.growth.general == (0.3, 0.3, 0.3)
    assert loaded.scenario.growth.taper == (0.9, 0.9, 0.9)
    assert loaded.scenario.growth.training == tuple(REFERENCE["growth"]["training"])


def test_folder_with_a_bad_file_is_refused_whole(tmp_path: Path) -> None:
    _write(tmp_path, "good", _child("", name="good"))
    bad = _write(tmp_path, "bad", _child("[growth]\ngeneral = [0.3, 0.2, 0.4]\n", name="bad"))
    with pytest.raises(ScenarioError) as info:
        load_scenarios(tmp_path)
    assert info.value.file == str(bad)


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "one", _child("", name="same"))
    _write(tmp_path, "two", _child("", name="same"))
    with pytest.raises(ScenarioError, match="same"):
        load_scenarios(tmp_path)


# --- the shipped set ---------------------------------------------------------


def test_shipped_scenarios_load() -> None:
    # the reference first (reports and compare lead with it), then by name
    assert tuple(s.name for s in load_scenarios(None)) == ("reference", *sorted(set(SHIPPED) - {"reference"}))


@pytest.mark.parametrize("name", [n for n in SHIPPED if n != "reference"])
def test_shipped_scenario_extends_reference_and_is_commented(name: str) -> None:
    text = (SHIPPED_SCENARIOS / f"{name}.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    assert raw["name"] == name and raw["extends"] == "reference" and raw["description"]
    assert "horizon" not in raw, "only what differs from the reference is set"
    # every numeric line carries a source key, SGERI, or ASSUMPTION (here or in the block comment)
    assert "ASSUMPTION" in text or "SGERI" in text
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#", "[", '"')) or "=" not in stripped:
            continue
        key = stripped.split("=")[0].strip()
        if key in ("name", "extends", "description", "from_year"):
            continue
        assert "#" in stripped, f"{name}: {key} has no comment giving its source or ASSUMPTION"


def _overrides(name: str) -> dict:
    raw = tomllib.loads((SHIPPED_SCENARIOS / f"{name}.toml").read_text(encoding="utf-8"))
    return {k: v for k, v in raw.items() if k not in ("name", "extends", "description", "sources")}


def test_shipped_scenarios_say_what_their_names_promise() -> None:
    got = {s.name: s.scenario for s in load_scenarios(None)}
    ref = got["reference"]
    eff = got["efficiency_led"]
    for lever in ref.levers:
        assert eff.levers[lever].adoption_midpoint[1] <= ref.levers[lever].adoption_midpoint[1]
        assert eff.levers[lever].adoption_ceiling[1] >= ref.levers[lever].adoption_ceiling[1]
    assert eff.rebound.elasticity_inference[1] < ref.rebound.elasticity_inference[1]
    jev = got["jevons_backfire"]
    assert jev.rebound.elasticity_training[0] >= 1.0 and jev.rebound.elasticity_inference[0] > 1.0
    assert jev.rebound.diffusion_midpoint[1] < ref.rebound.diffusion_midpoint[1]
    chips = got["domestic_chips"]
    for w in ("training", "inference"):
        assert getattr(chips.hardware_efficiency_gain, w)[1] < getattr(ref.hardware_efficiency_gain, w)[1]
        assert getattr(chips.growth, w)[1] > getattr(ref.growth, w)[1]
    hub = got["hub_push"]
    assert hub.hubs.training_shift_to_hubs[1] > ref.hubs.training_shift_to_hubs[1]
    assert hub.hubs.assignment_radius_km[0] > ref.hubs.assignment_radius_km[0]
    assert hub.pue.new_build_cap["west"].value == (1.2, 1.2, 1.2)
    assert hub.pue.new_build_cap["east"].value == (1.25, 1.25, 1.25)
    assert hub.pue.new_build_cap["east"].from_year == hub.pue.new_build_cap["west"].from_year == 2025
    small = got["distributed_small"]
    assert small.pue.new_build_small_medium_share == (0.4, 0.5, 0.6)
    assert set(_overrides("hub_push")) == {"hubs", "pue"}
    flex = got["flexible_training"]
    assert ref.flexibility.training_shiftable_share == (0.0, 0.0, 0.0)
    assert 0 < flex.flexibility.training_shiftable_share[1] <= 1
    assert set(_overrides("flexible_training")) == {"flexibility"}


# --- gridcast scenarios --------------------------------------------------------


def test_cli_scenarios_list_and_show(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["scenarios"])
    assert listed.exit_code == 0, listed.output
    rows = listed.stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["reference", *sorted(set(SHIPPED) - {"reference"})]
    assert all(r.split()[1] == "reference" for r in rows if not r.startswith("reference"))

    shown = runner.invoke(app, ["scenarios", "show", "hub_push"])
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert "training_shift_to_hubs = [0.7, 0.85, 0.95]   # set here" in text
    assert "taper = " in text and "# from reference" in text
    assert "[pue.new_build_cap.west]" in text and "value = 1.2   # set here" in text
    # the printed body is valid TOML that resolves to the same parameters
    body = tomllib.loads(text)
    loaded = resolve_scenario(SHIPPED_SCENARIOS / "hub_push.toml").scenario
    assert tuple(body["hubs"]["training_shift_to_hubs"]) == loaded.hubs.training_shift_to_hubs

    _write(tmp_path, "mine", _child('description = "my case"\n', name="mine"))
    other = runner.invoke(app, ["scenarios", "--dir", str(tmp_path)])
    assert other.exit_code == 0 and "mine" in other.stdout and "my case" in other.stdout
    missing = runner.invoke(app, ["scenarios", "show", "nope"])
    assert missing.exit_code == 2 and "nope" in missing.output
    bad = _write(tmp_path, "bad", _child("[growth]\ngeneral = [0.3, 0.2, 0.4]\n", name="bad"))
    refused = runner.invoke(app, ["scenarios", "--dir", str(tmp_path)])
    assert refused.exit_code == 2 and str(bad) in refused.output and "growth.general" in refused.output


# ------------------------------------------------------------------ typos and every error at once


def test_typo_is_named_with_the_closest_key_before_the_missing_key_it_causes(tmp_path: Path) -> None:
    # A file without a parent: the typo makes rebound.elasticity_inference missing too.
    body = tomllib.loads((SHIPPED_SCENARIOS / "reference.toml").read_text(encoding="utf-8"))
    text = (SHIPPED_SCENARIOS / "reference.toml").read_text(encoding="utf-8")
    assert "extends" not in body
    path = _write(tmp_path, "ref2", text.replace("elasticity_inference", "elastisity_inference", 1))
    err = _refused(path, "rebound.elastisity_inference")
    assert err.rule == "unknown key (a typo?); did you mean 'elasticity_inference'?"
    assert [p.key for p in err.problems] == ["rebound.elastisity_inference", "rebound.elasticity_inference"]
    assert err.problems[1].rule == ("required key is missing (is the unknown key "
                                    "'elastisity_inference' a typo of it?)")


def test_unknown_key_without_a_close_match_lists_the_valid_keys(tmp_path: Path) -> None:
    err = _refused(_write(tmp_path, "child", _child("[hubs]\nzzz = 1\n")), "hubs.zzz")
    assert err.rule == "unknown key (a typo?); valid keys here: assignment_radius_km, training_shift_to_hubs"


def test_every_error_of_a_file_at_once(tmp_path: Path) -> None:
    body = "[growth]\ngeneral = [0.3, 0.2, 0.4]\ntaper = 2\n[levers.fp8_mixed_precision]\nsavng = 0.5\n"
    err = _refused(_write(tmp_path, "child", _child(body)), "levers.fp8_mixed_precision.savng")
    assert err.count == 3
    assert [p.key for p in err.problems] == ["levers.fp8_mixed_precision.savng", "growth.taper", "growth.general"]
    assert len(str(err).splitlines()) == 3


def test_every_file_of_a_folder_at_once(tmp_path: Path) -> None:
    _write(tmp_path, "a", _child("descripton = 'x'\n", name="a"))
    _write(tmp_path, "b", _child("[growht]\n", name="b"))
    with pytest.raises(ScenarioError) as info:
        load_scenarios(tmp_path)
    assert [(Path(p.file).name, p.key) for p in info.value.problems] == [("a.toml", "descripton"),
                                                                          ("b.toml", "growht")]
    assert "did you mean 'description'?" in info.value.rule


# ------------------------------------------------------------------ size and nesting limits


@pytest.mark.parametrize(
    "body",
    [
        "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
        "x = " + "[" * 3000 + "1" + "]" * 3000 + "\n",
        ".".join(["a"] * 5000) + " = 1\n",
        "x = " + "[" * 17 + "1" + "]" * 17 + "\n",  # just past the limit, no recursion trouble
    ],
    ids=["3000 inline tables", "3000 arrays", "5000-part dotted key", "17 arrays"],
)
def test_deep_nesting_is_refused(tmp_path: Path, body: str) -> None:
    err = _refused(_write(tmp_path, "child", _child(body)), None)
    assert "nest too deep (at most 16 levels" in err.rule


def test_nesting_at_the_limit_is_not_a_depth_error(tmp_path: Path) -> None:
    # depth: the document 1, x 2, then 14 arrays = 16 levels
    err = _refused(_write(tmp_path, "child", _child("x = " + "[" * 14 + "1" + "]" * 14 + "\n")), "x")
    assert err.rule.startswith("unknown key")


def test_file_over_one_megabyte_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "child", _child(f'description = "{"x" * 1_000_000}"\n'))
    err = _refused(path, None)
    assert "may be at most 1,000,000 bytes" in err.rule


@pytest.mark.parametrize(
    "body,key",
    [
        ('description = "{x}"\n', "description"),
        ('[levers.fp8_mixed_precision]\nsource = "{x}"\n', "levers.fp8_mixed_precision.source"),
        ('[levers.fp8_mixed_precision]\ndescription = "{x}"\n', "levers.fp8_mixed_precision.description"),
        ('[sources]\n"growth.general" = "{x}"\n', "sources.growth.general"),
    ],
)
def test_text_fields_are_capped_at_2000_characters(tmp_path: Path, body: str, key: str) -> None:
    ok = _write(tmp_path, "child", _child(body.replace("{x}", "é" * 2000)))
    resolve_scenario(ok)
    err = _refused(_write(tmp_path, "child", _child(body.replace("{x}", "é" * 2001))), key)
    assert "at most 2000 characters" in err.rule
