#!/usr/bin/env python3
"""The module graph of src/ and its layers (issue 13; ARCHITECTURE.md, "Layers").

Reads every `crate::…` path outside test modules, maps each file to its module (the most specific
entry of `.ci/layers.toml`, else its top-level module) and checks that a module uses only modules
of lower layers, or of its own layer placed before it. Edges in `.ci/layers-known.txt` are known
breaks still to mend: they are allowed, and one that no longer occurs must be taken off the list,
so it only shrinks. Exit 1 on a new break, a cycle outside the known list, or a stale entry.

  .ci/layers.py            check
  .ci/layers.py --graph    print every edge (module -> module: files) and the cycles
  .ci/layers.py --self-test  the check refuses an injected upward edge (clock -> app)
"""
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PATH = re.compile(r"\b((?:crate|super)(?:::super)*)::((?:[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)")
GROUP = re.compile(r"\b((?:crate|super)(?:::super)*)::\{([^}]*)\}")


def table():
    spec = tomllib.loads((ROOT / ".ci" / "layers.toml").read_text())
    order = {}
    for rank, layer in enumerate(spec["layers"]):
        for pos, module in enumerate(layer["modules"]):
            order[module] = (rank, pos, layer["name"])
    return order


def module_of(parts, order):
    """The most specific listed module that `parts` (a path from the crate root) is in."""
    for n in range(len(parts), 0, -1):
        name = "::".join(parts[:n])
        if name in order:
            return name
    return parts[0]


def resolve(root, rest, parts, is_mod):
    """`crate::a::b` or `super::a` (from the file at `parts`) as a path from the crate root."""
    if root == "crate":
        return rest
    # A mod.rs (or lib.rs) is its module; any other file is a child of its folder's module.
    base = parts if is_mod else parts[:-1]
    for _ in range(root.count("super") - 1):
        base = base[:-1]
    return base[:-1] + rest if is_mod else base + rest


def file_parts(path):
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts or ["lib"]


def code_outside_tests(text):
    """The file up to its `#[cfg(test)]` module (tests sit at the end, by convention here)."""
    m = re.search(r"^\s*#\[cfg\(test\)\]\s*\n\s*(pub\s+)?mod\s+\w+", text, re.M)
    return text[: m.start()] if m else text


def edges(order):
    found = {}
    for path in sorted(SRC.rglob("*.rs")):
        parts = file_parts(path)
        is_mod = path.stem in ("mod", "lib", "main")
        here = module_of(parts, order)
        text = code_outside_tests(path.read_text())
        text = re.sub(r"//.*", "", text)
        targets = [resolve(m.group(1), m.group(2).split("::"), parts, is_mod) for m in PATH.finditer(text)]
        for group in GROUP.finditer(text):
            for item in group.group(2).split(","):
                item = item.strip().split("::")
                if item and item[0] and item[0] != "self":
                    targets.append(resolve(group.group(1), item, parts, is_mod))
        for t in targets:
            if not t:
                continue
            there = module_of(t, order)
            if there != here:
                found.setdefault((here, there), set()).add(str(path.relative_to(ROOT)))
    return found


def cycles(found):
    graph = {}
    for a, b in found:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    order = table()
    found = edges(order)
    if "--graph" in sys.argv:
        for (a, b), files in sorted(found.items()):
            print(f"{a} -> {b}: {', '.join(sorted(files))}")
        for scc in cycles(found):
            print(f"cycle of {len(scc)}: {' '.join(scc)}")
        return 0
    if "--self-test" in sys.argv:
        found[("clock", "app")] = {"(injected)"}
        if check(order, found) == 0:
            print("layers self-test: an upward edge clock -> app passed the check")
            return 1
        print("layers self-test: the injected upward edge was refused")
        return 0
    return check(order, found)


def check(order, found):
    known_file = ROOT / ".ci" / "layers-known.txt"
    known = set()
    for line in known_file.read_text().splitlines() if known_file.exists() else []:
        line = line.split("#")[0].strip()
        if line:
            a, b = (s.strip() for s in line.split("->"))
            known.add((a, b))
    bad = []
    for (a, b), files in sorted(found.items()):
        if a not in order or b not in order:
            bad.append(f"{a} -> {b}: a module missing from .ci/layers.toml ({', '.join(sorted(files))})")
            continue
        if order[b][:2] >= order[a][:2] and (a, b) not in known:
            bad.append(
                f"{a} ({order[a][2]}) -> {b} ({order[b][2]}): uses a module at or above it "
                f"({', '.join(sorted(files))})"
            )
    stale = sorted(known - set(found))
    for a, b in stale:
        bad.append(f"{a} -> {b} is listed in .ci/layers-known.txt but no longer occurs: take it off")
    left = len(known & set(found))
    for line in bad:
        print(line)
    if bad:
        return 1
    print(f"layers: {len(found)} edges, none new upward; {left} known breaks left in .ci/layers-known.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
