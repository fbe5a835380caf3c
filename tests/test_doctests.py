"""Run the docstring examples of the installed package (``riskmap.geo``, ``riskmap.layers``, ...).

The examples are imported through the ``riskmap`` namespace, as a user imports them, never
through the source folders (a bare ``import geo`` is refused: see ``geo/__init__.py``).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

#: Alembic scripts run only inside Alembic; page modules register with Dash on import
_SKIP = ("riskmap.layers.migrations", "riskmap.app.pages")


#: the installed packages; each is walked through its own ``__path__`` (the folders differ)
PACKAGES = ("riskmap", "riskmap.geo", "riskmap.layers", "riskmap.etl", "riskmap.app")


def _modules() -> list[str]:
    names = set(PACKAGES)
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names.update(info.name for info in pkgutil.walk_packages(path, prefix=f"{package}."))
    return sorted(n for n in names if not n.startswith(_SKIP))


def _with_examples(names: list[str]) -> list[str]:
    out = []
    finder = doctest.DocTestFinder()
    for name in names:
        module = importlib.import_module(name)
        if any(t.examples for t in finder.find(module, module=module)):
            out.append(name)
    return out


_EXAMPLES = _with_examples(_modules())


def test_examples_were_found() -> None:
    assert {"riskmap.geo.join", "riskmap.geo.hotspots", "riskmap.layers.postgis"} <= set(_EXAMPLES)


@pytest.mark.parametrize("name", _EXAMPLES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             report=True, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
