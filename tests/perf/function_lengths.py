"""List the longest functions of a source tree (docstring included).

Usage: ``python tests/perf/function_lengths.py [FOLDER] [--limit N]`` prints every function of
``FOLDER`` (default ``sessrec``) longer than ``N`` lines (default 60), longest first, and exits
1 when there is one.
"""

import argparse
import ast
import pathlib
import sys


def function_lengths(folder: pathlib.Path) -> list[tuple[int, str]]:
    """Return ``(lines, "path:line name")`` for every function below ``folder``."""
    rows = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                rows.append((node.end_lineno - node.lineno + 1, f"{path}:{node.lineno} {node.name}"))
    return sorted(rows, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="sessrec")
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args()
    rows = function_lengths(pathlib.Path(args.folder))
    print(f"longest: {rows[0][0]} lines ({rows[0][1]})")
    over = [row for row in rows if row[0] > args.limit]
    for lines, where in over:
        print(f"{lines:5d}  {where}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
