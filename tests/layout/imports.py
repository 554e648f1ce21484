"""rnnkit's import graph from the source (every import statement: module level, inside functions, under
TYPE_CHECKING), its import circles, and the floors a module may import from (docs/contributing.md, "The floors").

Run as a script for a report: ``python -m tests.layout.imports``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Lowest first: a module imports from its own floor or below, never above (a TaskInfo string is not an import).
FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "ground",
        (
            "rnnkit",
            "rnnkit.errors",
            "rnnkit.moved",
            "rnnkit.layout",
            "rnnkit.registry",
            "rnnkit.config",
            "rnnkit.config_io",
            "rnnkit.durable",
            "rnnkit.runfolder",
            "rnnkit.host",
            "rnnkit.plots",
        ),
    ),
    ("core", ("rnnkit.reference", "rnnkit.nn", "rnnkit.train")),
    ("blocks", ("rnnkit.models", "rnnkit.data", "rnnkit.export")),
    ("tasks", ("rnnkit.tasks",)),
    (
        "tools",
        (
            "rnnkit.serve",
            "rnnkit.explain",
            "rnnkit.tune",
            "rnnkit.tune_report",
            "rnnkit.tune_study",
            "rnnkit.bench",
            "rnnkit.bench_cli",
            "rnnkit.cli",
            "rnnkit.__main__",
        ),
    ),
)


def modules(src: Path = SRC) -> dict[str, Path]:
    """Dotted name -> file of every module under ``src/rnnkit``."""
    out = {}
    for f in sorted((src / "rnnkit").rglob("*.py")):
        parts = list(f.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the rnnkit modules it imports (the deepest existing module a dotted name resolves to)."""
    mods = modules(src)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        package = m if f.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([base] if base else [])])
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
            else:
                continue
            for t in targets:
                r = resolve(t)
                if r and r != m and r.startswith("rnnkit"):
                    edges[m].add(r)
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return sorted(out)


def folder(module: str, mods: dict[str, Path]) -> Path:
    return mods[module].parent


def cross_folder_circles(src: Path = SRC) -> list[list[str]]:
    """Import circles whose modules live in more than one folder."""
    mods, edges = modules(src), graph(src)
    return [c for c in circles(edges) if len({folder(m, mods) for m in c}) > 1]


def floor(module: str) -> int:
    """The floor of ``module``: the longest prefix in FLOORS that names it (a stub left by a move, which holds only
    its alias to the new home, is on the ground floor)."""
    from rnnkit.moved import MOVED

    if module in MOVED:
        return 0
    best, level = -1, -1
    for i, (_, prefixes) in enumerate(FLOORS):
        for p in prefixes:
            inside = module.startswith(p + ".") and p != "rnnkit"  # a package's modules; the root's are each listed
            if (module == p or inside) and len(p) > best:
                best, level = len(p), i
    if level < 0:
        raise KeyError(f"{module} is on no floor: add it to tests/layout/imports.py FLOORS")
    return level


def upward_imports(src: Path = SRC) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a module imports one on a higher floor."""
    edges = graph(src)
    return sorted((a, b) for a, bs in edges.items() for b in bs if floor(b) > floor(a))


if __name__ == "__main__":  # pragma: no cover - a report for people
    for c in cross_folder_circles():
        print("circle:", " <-> ".join(c))
    for a, b in upward_imports():
        print(f"upward: {a} ({FLOORS[floor(a)][0]}) imports {b} ({FLOORS[floor(b)][0]})")
