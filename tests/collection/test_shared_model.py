"""The collection's module_utils carry the daemon's data model itself (file
symlinks into src/routerha/model), so modules, filters and routerhad read a
configuration the same way. A model file without its link would be missing from
every module that imports it."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "src" / "routerha" / "model"
SHARED = ROOT / "plugins" / "module_utils" / "model"


def test_every_model_file_is_linked_into_module_utils():
    sources = sorted(p.relative_to(MODEL) for p in MODEL.rglob("*.py"))
    links = sorted(p.relative_to(SHARED) for p in SHARED.rglob("*.py"))
    assert links == sources
    for relative in links:
        link = SHARED / relative
        assert link.is_symlink(), f"{link} must be a symlink, not a copy"
        # relative links, so that the built collection carries them as they are
        assert not os.readlink(link).startswith("/")
        assert link.resolve() == (MODEL / relative).resolve()


def test_the_model_imports_nothing_outside_itself():
    for path in MODEL.rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("from routerha", "import routerha")), (
                f"{path}: {stripped!r} would not resolve in module_utils"
            )
