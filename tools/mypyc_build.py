"""The optional compiled build: hot modules (the profile update, the per-IP spray detectors, the Okta,
Entra and Duo mapping) compiled with mypyc into a copy of the source tree, next to the pure-Python
modules they replace.

    python tools/mypyc_build.py [--out build/mypyc]          # then: PYTHONPATH=build/mypyc/src pushguard ...

The normal (editable) install stays pure Python; this build is used only where ``PYTHONPATH`` puts it
first, and every module it does not compile is the pure one. Findings are the same either way (CI runs
the whole test suite on this build too). Only modules without msgspec Structs
are compiled (see ``MODULES``): the detectors' state classes and the engine stay pure until they move to
modules of their own.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Modules that define no msgspec Struct: mypyc erases a class's annotations to their runtime classes
# (``dict[str, OrgEntry]`` becomes ``dict``), and msgspec then decodes such a Struct untyped, so a module
# with a Struct (every detector's state, the engine's stored identity) stays pure. ``check`` verifies it.
MODULES = [
    "pushguard/detect/profile.py",
    "pushguard/detect/geo.py",
    "pushguard/detect/spray_ip.py",
    "pushguard/detect/push_spray.py",
    "pushguard/detect/password_spray.py",
    "pushguard/sources/base.py",
    "pushguard/sources/okta.py",
    "pushguard/sources/okta_parts.py",
    "pushguard/sources/entra.py",
    "pushguard/sources/duo.py",
]


def compiled_modules(src: Path) -> list[str]:
    return [module for module in MODULES if (src / module).exists()]


def build(out: Path) -> Path:
    """Copy ``src`` to ``out/src`` and compile the modules there; returns the new source root."""
    src = out / "src"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    modules = compiled_modules(src)
    subprocess.run(["mypyc", *modules], cwd=src, check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(src / "build", ignore_errors=True)
    return src


_CHECK = """
import importlib, sys
import msgspec
pure = []
structs = []
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    if not (module.__file__ or "").endswith(".so"):
        pure.append(name)
    structs += [f"{name}.{attr}" for attr, value in vars(module).items()
                if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__module__ == name]
if pure or structs:
    sys.exit(f"not compiled: {pure}; msgspec Structs in compiled modules (decoded untyped): {structs}")
"""


def check(src: Path) -> None:
    """Each listed module imports as the compiled one and defines no msgspec Struct (a child process,
    with ``src`` first)."""
    names = [module.removesuffix(".py").replace("/", ".") for module in compiled_modules(src)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-c", _CHECK, *names], check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "mypyc")
    args = parser.parse_args()
    importlib.import_module("mypyc")  # a clear error without mypy installed
    src = build(args.out.resolve())
    check(src)
    print(f"compiled {len(compiled_modules(src))} modules; run with PYTHONPATH={src}")


if __name__ == "__main__":
    main()
