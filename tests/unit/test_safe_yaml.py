"""One YAML reader for user files: duplicate keys and aliases are refused, with their line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tabops.errors import SpecError
from tabops.rules.engine import check_rules_text
from tabops.safe_yaml import load_yaml
from tabops.spec import load_spec
from tabops.synth.config import SynthConfigError, load_fraud_config
from tests.conftest import small_spec_dict

keys = st.from_regex(r"k[a-z0-9_]{0,8}", fullmatch=True)  # never a YAML bool or null


@given(
    names=st.lists(keys, min_size=1, max_size=6, unique=True),
    data=st.data(),
    flow=st.booleans(),
)
def test_a_repeated_key_at_any_depth_is_refused_naming_key_and_line(
    names: list[str], data: st.DataObject, flow: bool
) -> None:
    repeated = data.draw(st.sampled_from(names))
    items = [*names, repeated]
    if flow:
        text = "outer:\n  inner: {" + ", ".join(f"{k}: 1" for k in items) + "}\n"
        line = 2
    else:
        text = "outer:\n" + "".join(f"  {k}: {i}\n" for i, k in enumerate(items))
        line = len(items) + 1
    with pytest.raises(yaml.YAMLError) as error:
        load_yaml(text)
    assert f"duplicate key '{repeated}'" in str(error.value)
    assert error.value.problem_mark.line + 1 == line  # type: ignore[attr-defined]


@given(names=st.lists(keys, min_size=1, max_size=6, unique=True))
def test_distinct_keys_load_as_safe_load_does(names: list[str]) -> None:
    text = "".join(f"{k}: [{i}, {{x: {i}}}]\n" for i, k in enumerate(names))
    assert load_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize(("first", "second"), [("no", "off"), ("true", "yes"), ("1", "1.0")])
def test_keys_that_differ_as_text_but_not_as_values_are_duplicates(first: str, second: str) -> None:
    with pytest.raises(yaml.YAMLError, match=f"duplicate key '{second}' .*'{first}', the same key"):
        load_yaml(f"{first}: 1\n{second}: 2\n")


def test_aliases_are_refused() -> None:
    with pytest.raises(yaml.YAMLError, match=r"aliases \(\*name\) are not allowed"):
        load_yaml("a: &x [1, 2]\nb: *x\n")


def test_every_user_yaml_file_refuses_duplicate_keys(tmp_path: Path) -> None:
    spec_text = yaml.safe_dump(small_spec_dict()) + "name: other\n"
    (tmp_path / "tabops.yaml").write_text(spec_text)
    with pytest.raises(SpecError, match=r"tabops.yaml at line \d+.*duplicate key 'name'"):
        load_spec(tmp_path)
    (tmp_path / "tabops.yaml").write_text(yaml.safe_dump(small_spec_dict()))
    with pytest.raises(SpecError, match=r"--set 'x=\{a: 1, a: 2\}'.*duplicate key 'a'"):
        load_spec(tmp_path, ["x={a: 1, a: 2}"])

    config = tmp_path / "fraud.yaml"
    config.write_text("days: 3\nseed: 1\ndays: 4\n")
    with pytest.raises(SynthConfigError, match=r"at line 3, column 1.*duplicate key 'days'"):
        load_fraud_config(config)

    rules = check_rules_text("version: '1'\nrules: []\nversion: '1'\n", "rules.yaml")
    assert any("line 3" in p and "duplicate key 'version'" in p for p in rules.problems)
