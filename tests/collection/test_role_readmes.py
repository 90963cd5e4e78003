"""Every role ships a README that a user of the built collection can read: what the
role does, each variable of its argument spec, and an example that uses it
(galaxy-importer refuses a collection whose roles have none)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def test_every_role_has_an_argument_spec():
    assert {p.name for p in ROLES} == {p.name for p in (ROOT / "roles").iterdir() if p.is_dir()}


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_readme_names_every_variable_and_shows_an_example(role):
    readme = role / "README.md"
    assert readme.is_file(), f"{role.name}: no README.md"
    text = readme.read_text(encoding="utf-8")
    options = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"][
        "main"
    ]["options"]
    missing = [name for name in options if f"`{name}`" not in text]
    assert not missing, f"{role.name}/README.md does not describe {missing}"
    assert "## Example" in text and f"routerha.cluster.{role.name}" in text.split("## Example")[1]


def test_the_license_text_ships():
    assert "GNU GENERAL PUBLIC LICENSE" in (ROOT / "COPYING").read_text(encoding="utf-8")[:200]
    assert "Version 3" in (ROOT / "COPYING").read_text(encoding="utf-8")[:200]


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_hold_no_template(role):
    """Ansible templates a role's argument spec when it validates the role's variables, so
    an example such as ``"{{ vault_key }}"`` in a description fails every play whose
    inventory lacks that variable."""
    text = (role / "meta/argument_specs.yml").read_text()
    assert "{{" not in text and "{%" not in text
