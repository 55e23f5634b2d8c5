"""Model families (cowcheck/families/): the commands reach a model through its
family's record, chosen by the scenario file's ``family`` key."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from cowcheck import families
from cowcheck.api import build_model, check
from cowcheck.families import Family, family, family_of
from cowcheck.input.bundled import scenario_files
from cowcheck.input.rule_files import builtin_rules
from cowcheck.mm.model import MMModel


def test_every_bundled_scenario_is_of_the_anon_family() -> None:
    anon = family("anon")
    assert anon.scenario_files() == scenario_files()
    assert set(anon.builtin_rules()) == set(builtin_rules())
    for f in scenario_files():
        assert family_of(f) is anon
        assert anon.load_scenario(f).family == "anon"


def test_a_family_is_named_in_the_file(tmp_path: Path) -> None:
    text = (Path(scenario_files()[0])).read_text()
    named = tmp_path / "named.toml"
    named.write_text(text.replace("\nkind =", '\nfamily = "anon"\nkind =', 1))
    assert check(str(named), "page-count").verdict is check(str(scenario_files()[0]), "page-count").verdict
    other = tmp_path / "other.toml"
    other.write_text(text.replace("\nkind =", '\nfamily = "thp"\nkind =', 1))
    code, _, err = run_cli("check", str(other), "-r", "page-count")
    assert code == 2
    assert err.strip() == f"cowcheck: error: {other}: family: unknown value 'thp' (expected one of: anon, pfnmap)"


def test_the_model_is_built_by_the_family(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    anon = family("anon")

    def spy(sc: Any, rule: Any, props: Any, form: str, strict: bool, failing: Any) -> Any:
        built.append(f"{sc.name} {rule.name} {[p.id for p in props]}")
        return anon.build_model(sc, rule, props, form, strict, failing)

    monkeypatch.setattr("cowcheck.families.anon.FAMILY", dataclasses.replace(anon, build_model=spy))
    rep = check("odirect-swap", "page-count", ["wrong-cow"])
    assert isinstance(rep.model, MMModel)
    assert built == ["odirect-swap page-count ['wrong-cow', 'unnecessary-cow']"]  # the metric rides along


# A second family, registered for one test: its scenario files go to its own loader.
FAMILY = Family(
    name="toy",
    title="a registry test",
    model_package="test_families",
    scenario_files=list,
    load_scenario=lambda path: ("toy scenario", path.name),
    builtin_rules=dict,
    load_rule=lambda name: name,
    select_properties=lambda ids: ((), ()),
    build_model=lambda *args: build_model("odirect-swap", "page-count"),
    describe_state=lambda s: [str(s)],
    owns_rule=lambda r: False,
    builtin_names=tuple,
    property_ids=tuple,
    parse_scenario=lambda text, where: ("toy scenario", where),
    saved_actions=lambda where, doc, sc: [],
)


def test_a_registered_family_reads_its_own_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(families, "FAMILIES", {**families.FAMILIES, "toy": "test_families"})
    f = tmp_path / "toy.toml"
    f.write_text('name = "t"\nfamily = "toy"\n')
    assert family_of(f) is FAMILY
    assert families.load_scenario(f) == ("toy scenario", "toy.toml")
    assert family_of(Path(scenario_files()[0])).name == "anon"
