#!/usr/bin/env python3
"""Runs the pytest suite of the ckpt Python package (ctest entry python.pytest).

Usage: run_pytest.py PACKAGE_DIR [pytest args, e.g. a test file or -k EXPR]
PACKAGE_DIR is build/python (it holds the built `ckpt` package); it is put
first on sys.path and on PYTHONPATH (for the subprocesses the tests start).
Exits 77 (ctest: skipped) with the reason when pytest, torch or the built
package cannot be imported; otherwise with pytest's exit status.
"""

import os
import sys

SKIP = 77


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    package_dir = os.path.abspath(sys.argv[1])
    sys.path.insert(0, package_dir)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [package_dir] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    for module, hint in (("pytest", "apt-get install python3-pytest"),
                         ("torch", "apt-get install python3-torch"),
                         ("ckpt", f"build the ckpt_python target; looked in {package_dir}")):
        try:
            __import__(module)
        except ImportError as e:
            print(f"SKIPPED: {sys.executable} cannot import {module} ({e}); {hint}")
            return SKIP
    import pytest
    here = os.path.dirname(os.path.abspath(__file__))
    targets = sys.argv[2:]
    if not any(a.endswith(".py") or "::" in a for a in targets):
        targets.append(here)  # default: every test file of tests/python
    return pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir", here] + targets)


if __name__ == "__main__":
    sys.exit(main())
