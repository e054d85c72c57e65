#!/usr/bin/env python3
"""The dependency rule of plugins/, checked on the sources.

plugins/core is split into areas (plugins/core/CMakeLists.txt: kp_core_area). A file in an area
may include its own area's headers and those of the areas it links (their closure), never a
higher one's; the core includes no plugin; a plugin includes no other plugin. The build enforces
the area rule too (each area's include root holds only itself); this test says which file and
line broke it, and runs without a build.

usage: check_areas.py --table "util=;net=util;..." PLUGINS_DIR
       check_areas.py --self-test     (proves the check fails on an upward include)
"""
import argparse
import pathlib
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def closure(table):
    full = {}

    def visit(area, seen):
        if area in full:
            return full[area]
        if area in seen:
            raise SystemExit(f"check_areas: dependency cycle through {area}")
        deps = set()
        for dep in table[area]:
            if dep not in table:
                raise SystemExit(f"check_areas: {area} links unknown area {dep}")
            deps |= {dep} | visit(dep, seen | {area})
        full[area] = deps
        return deps

    for area in table:
        visit(area, set())
    return full


def check(plugins, table):
    """Returns the list of violations, one line each."""
    allowed = closure(table)
    problems = []
    core = plugins / "core"
    plugin_names = sorted(p.name for p in plugins.iterdir() if p.is_dir() and p.name != "core")
    sources = sorted(p for p in plugins.rglob("*") if p.suffix in (".h", ".cpp"))
    for path in sources:
        rel = path.relative_to(plugins)
        text = path.read_text(errors="replace")
        parts = rel.parts
        if parts[0] == "core":
            if len(parts) != 3 or parts[1] not in table:
                problems.append(f"{rel}: not inside an area folder of plugins/core "
                                f"({', '.join(sorted(table))})")
                continue
            area = parts[1]
        else:
            area = None
        for match in INCLUDE.finditer(text):
            target = match.group(1)
            line = text.count("\n", 0, match.start()) + 1
            head = target.split("/")[0]
            if area is not None:
                if head == "core":
                    pieces = target.split("/")
                    target_area = pieces[1] if len(pieces) > 2 else None
                    if target_area not in table:
                        problems.append(f"{rel}:{line}: includes {target}, which is in no area")
                    elif target_area != area and target_area not in allowed[area]:
                        problems.append(
                            f"{rel}:{line}: area {area} includes {target} from area "
                            f"{target_area}; {area} may include only "
                            f"{', '.join(sorted(allowed[area] | {area}))}")
                elif head in plugin_names:
                    problems.append(f"{rel}:{line}: the core includes plugin header {target}")
            else:
                plugin = parts[0]
                if head in plugin_names and head != plugin and not target.endswith("_script.h"):
                    problems.append(f"{rel}:{line}: plugin {plugin} includes {target} from "
                                    f"plugin {head}")
    return problems


def parse_table(text):
    table = {}
    for entry in filter(None, text.split(";")):
        name, _, deps = entry.partition("=")
        table[name] = [d for d in deps.split(",") if d]
    return table


def self_test():
    table = parse_table("util=;net=util;kube=net,util")
    with tempfile.TemporaryDirectory() as tmp:
        plugins = pathlib.Path(tmp)
        for area in table:
            (plugins / "core" / area).mkdir(parents=True)
        (plugins / "core/util/a.h").write_text('#include "core/util/b.h"\n')
        (plugins / "core/net/n.h").write_text('#include "core/util/a.h"\n')
        (plugins / "core/kube/k.h").write_text('#include "core/net/n.h"\n#include "core/util/a.h"\n')
        (plugins / "tool").mkdir()
        (plugins / "tool/t.cpp").write_text('#include "core/kube/k.h"\n')
        assert check(plugins, table) == [], check(plugins, table)
        # Each of these must be caught, naming the file and line.
        (plugins / "core/net/n.h").write_text('#include "core/util/a.h"\n#include "core/kube/k.h"\n')
        (plugins / "core/stray.h").write_text("")
        (plugins / "other").mkdir()
        (plugins / "other/o.cpp").write_text('#include "tool/t.h"\n')
        found = check(plugins, table)
        expected = [
            "core/net/n.h:2: area net includes core/kube/k.h from area kube; "
            "net may include only net, util",
            "core/stray.h: not inside an area folder of plugins/core (kube, net, util)",
            "other/o.cpp:1: plugin other includes tool/t.h from plugin tool",
        ]
        if sorted(found) != sorted(expected):
            print("self-test: expected\n  " + "\n  ".join(expected) + "\ngot\n  " + "\n  ".join(found))
            return 1
    print("self-test: an upward include, a file outside the areas and a sideways plugin include "
          "are each reported")
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--table")
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("plugins", nargs="?")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    table = parse_table(args.table)
    problems = check(pathlib.Path(args.plugins), table)
    for problem in problems:
        print(problem)
    areas = ", ".join(f"{a} -> {', '.join(d) or '(nothing)'}" for a, d in table.items())
    print(f"{len(problems)} violations; areas: {areas}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
