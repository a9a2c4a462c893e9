"""Our modules and the imports between them, read from the source with ast: those inside
functions and under TYPE_CHECKING count too, so a deferred import cannot hide a dependency."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mpg_core", "mpg_launch", "mpg_preprocessing", "mpg_serving", "mpg_training")


def our_modules() -> dict[str, Path]:
    """Every module of our packages, by dotted name, from each workspace member's src/."""
    found: dict[str, Path] = {}
    for src in [*ROOT.glob("containers/*/src"), ROOT / "launch" / "src"]:
        for path in src.rglob("*.py"):
            parts = path.relative_to(src).with_suffix("").parts
            if parts[0] in PACKAGES:
                name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                found[name] = path
    return found


def imported_names(path: Path, module: str) -> Iterator[tuple[str, str | None]]:
    """(module, name or None) of every import in ``path``: ``from X import Y`` gives (X, Y),
    ``import X`` gives (X, None); relative imports are resolved against ``module``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((a.name, None) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield from ((base, a.name) for a in node.names)


def imported(path: Path, module: str, modules: dict[str, Path]) -> Iterator[str]:
    """The modules of ours that ``module`` imports (a submodule when ``from X import Y``
    names one, else X itself)."""
    for base, name in imported_names(path, module):
        if name is not None and f"{base}.{name}" in modules:
            yield f"{base}.{name}"
        elif base in modules:
            yield base


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    return {
        name: {m for m in imported(path, name, modules) if m != name or path.name != "__init__.py"}
        for name, path in modules.items()
    }
