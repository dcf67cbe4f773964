"""One Lambda artifact per function, `build/<fn>.zip`: the project modules its handler imports, the
package data next to them, and the wheels of `services/<fn>/requirements.txt` built for Lambda.

The module set is found, not listed: an AST walk of every import (top-level or inside a function)
from `services/<fn>/handler.py`, following only the repository's own packages. A function that imports
a project module gets it; nothing else of the repository (local stack, model, CLI) is shipped.

    python -m infra.packaging [--out build] [FUNCTION...]
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from infra.functions import functions

REPO = Path(__file__).resolve().parents[1]
# Every function of the template (infra/template.yaml), each its own artifact.
FUNCTIONS = tuple(functions())

# The python3.12 runtime runs on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels run there too.
# Without it pip falls back to older releases for projects that stopped publishing manylinux2014 wheels
# (Pillow 13), and the artifact would ship another version than the one the tests ran against.
LAMBDA_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
LAMBDA_PYTHON = "3.12"

# Package data the functions read next to their module (services/router/rules.yaml, via
# `Path(__file__).with_name`). Not `*.onnx` or `*.md`, which pyproject also ships: no function reads them.
DATA_SUFFIXES = (".yaml", ".yml", ".json", ".html", ".js", ".css")
# A shipped module's own folder of files it serves (services/api/static: the dispatch board).
STATIC_FOLDER = "static"

# zlib's default level: 9 took 1.7x the CPU for a capture.zip 0.17% smaller (21.71 vs 21.74 MB).
COMPRESS_LEVEL = 6
# Zip entries carry no build time, so two builds of the same inputs give the same bytes. 1980 is the
# earliest date a zip can hold.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644  # Lambda needs every file world-readable: it runs the code as another user.

# pip --target writes console scripts to bin/ with this machine's interpreter in their shebang; Lambda
# never runs them. No bytecode either: it would need a 3.12 interpreter, and pyc headers hold mtimes.
SKIPPED_TOP_LEVEL = frozenset({"bin"})


class PackagingError(Exception):
    """A build that cannot produce a correct artifact; its message is one line for the command line."""


@dataclass(frozen=True)
class Artifact:
    function: str
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    files: int


# ---------------------------------------------------------------- the project modules a handler imports


def project_packages(root: Path = REPO) -> frozenset[str]:
    """The repository's top-level import packages: directories at its root holding an `__init__.py`."""
    return frozenset(p.parent.name for p in root.glob("*/__init__.py"))


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


# `build_all` assembles functions on threads; CPython 3.11's AST constructor can raise a spurious
# "AST constructor recursion depth mismatch" SystemError when threads parse at once (python/cpython#106905).
_PARSING = threading.Lock()


def _imported_names(source: Path, module: str) -> Iterator[str]:
    """Every module name an import statement of `source` may load: for `from a.b import c`, both `a.b`
    and `a.b.c` (c may be a submodule); the caller keeps those that exist."""
    is_package = source.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    with _PARSING:
        tree = ast.parse(source.read_text(), filename=str(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")


def project_modules(entry: str, root: Path = REPO) -> dict[str, Path]:
    """Module name → file, for `entry` and every project module it reaches, with their parent packages."""
    packages = project_packages(root)
    found: dict[str, Path] = {}
    pending = [entry]
    while pending:
        module = pending.pop()
        if module in found:
            continue
        path = _module_file(root, module)
        if path is None:
            raise PackagingError(f"project module {module} not found under {root}")
        found[module] = path
        parts = module.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        for name in _imported_names(path, module):
            if name.split(".")[0] not in packages or name in found:
                continue
            if _module_file(root, name) is not None:
                pending.append(name)
            elif _module_file(root, name.rpartition(".")[0]) is None:
                # Neither a module nor a name inside one: the import would fail on Lambda too.
                raise PackagingError(f"{module} imports {name}, which is not in the repository")
    return found


def third_party_imports(modules: dict[str, Path], root: Path = REPO) -> frozenset[str]:
    """Top-level names the modules import from outside the repository and the standard library."""
    local = project_packages(root) | {"__future__"}
    names = {
        name.split(".")[0]
        for module, path in modules.items()
        for name in _imported_names(path, module)
        if name  # empty for a relative import that climbs above the top-level package
    }
    return frozenset(n for n in names if n not in local and n not in sys.stdlib_module_names)


def package_data(modules: dict[str, Path], root: Path = REPO) -> list[Path]:
    """The data files that sit in the directory of a shipped module."""
    directories = {path.parent for path in modules.values()}
    directories |= {d / STATIC_FOLDER for d in directories if (d / STATIC_FOLDER).is_dir()}
    return sorted(p for d in directories for p in d.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES)


# ---------------------------------------------------------------- wheels


def install_requirements(requirements: Path, target: Path, python_version: str = LAMBDA_PYTHON) -> None:
    """pip install of the Lambda platform's binary wheels into `target` (no sdist: nothing is compiled
    for this machine)."""
    if not requirements.is_file():
        raise PackagingError(f"{requirements} does not exist")
    platforms = [arg for platform in LAMBDA_PLATFORMS for arg in ("--platform", platform)]
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        *platforms, "--implementation", "cp", "--python-version", python_version, "--only-binary=:all:",
        "--target", str(target), "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        errors = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("ERROR")]
        detail = errors[-1] if errors else (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise PackagingError(f"pip install -r {requirements} failed: {detail}")


def _installed_files(target: Path) -> Iterator[tuple[str, Path]]:
    for path in target.rglob("*"):
        relative = path.relative_to(target)
        if (
            path.is_file()
            and relative.parts[0] not in SKIPPED_TOP_LEVEL
            and "__pycache__" not in relative.parts
            and path.suffix != ".pyc"
        ):
            yield relative.as_posix(), path


def _missing_distributions(imports: Iterable[str], target: Path) -> list[str]:
    def provided(name: str) -> bool:
        return (target / name).is_dir() or any(target.glob(f"{name}.py")) or any(target.glob(f"{name}.*.so"))

    return sorted(name for name in imports if not provided(name))


# ---------------------------------------------------------------- the zip


def write_zip(entries: dict[str, Path], out: Path) -> int:
    """Sorted entries, fixed timestamps and modes; written beside `out`, then moved over it. The
    unzipped size is returned."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    unzipped = 0
    with zipfile.ZipFile(
        partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.create_system = 3  # Unix, so that external_attr holds the file mode
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = entries[name].read_bytes()
            unzipped += len(data)
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
    partial.replace(out)
    return unzipped


def _requirement_sets(functions: Iterable[str], root: Path) -> dict[str, list[str]]:
    """Functions grouped by their requirements file's text: each group's wheels are installed once."""
    groups: dict[str, list[str]] = {}
    for function in functions:
        requirements = root / "services" / function / "requirements.txt"
        if not requirements.is_file():
            raise PackagingError(f"{requirements} does not exist")
        groups.setdefault(requirements.read_text(), []).append(function)
    return groups


def _assemble(function: str, target: Path, out_dir: Path, root: Path) -> Artifact:
    modules = project_modules(f"services.{function}.handler", root)
    requirements = root / "services" / function / "requirements.txt"
    missing = _missing_distributions(third_party_imports(modules, root), target)
    if missing:
        raise PackagingError(
            f"{function} imports {', '.join(missing)}, which {requirements} does not install"
        )
    entries = dict(_installed_files(target))
    for path in [*modules.values(), *package_data(modules, root)]:
        name = path.relative_to(root).as_posix()
        if name in entries:
            raise PackagingError(f"{name} is both a project file and in a wheel of {requirements}")
        entries[name] = path
    out = out_dir / f"{function}.zip"
    unzipped = write_zip(entries, out)
    return Artifact(function, out, out.stat().st_size, unzipped, len(entries))


def build_all(
    functions: Sequence[str], out_dir: Path, *, root: Path = REPO, python_version: str = LAMBDA_PYTHON
) -> dict[str, Artifact]:
    """`out_dir/<function>.zip` for each function: its handler's project modules and data, and its
    requirements' wheels. Functions with the same requirements share one pip install; the installs, then
    the zips (zlib works outside the GIL), run side by side."""
    groups = _requirement_sets(functions, root)
    with tempfile.TemporaryDirectory(prefix="package-") as staging, ThreadPoolExecutor(len(groups)) as pool:
        targets = {}
        for n, members in enumerate(groups.values()):
            target = Path(staging) / str(n)
            requirements = root / "services" / members[0] / "requirements.txt"
            targets[target] = pool.submit(install_requirements, requirements, target, python_version)
        for installing in targets.values():
            installing.result()
        assembling = {
            function: pool.submit(_assemble, function, target, out_dir, root)
            for target, members in zip(targets, groups.values(), strict=True)
            for function in members
        }
        return {function: assembling[function].result() for function in functions}


def build(
    function: str, out_dir: Path, *, root: Path = REPO, python_version: str = LAMBDA_PYTHON
) -> Artifact:
    """`out_dir/<function>.zip` alone (`build_all` of one function)."""
    return build_all([function], out_dir, root=root, python_version=python_version)[function]


# ---------------------------------------------------------------- command line


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def main(argv: Sequence[str] | None = None, *, root: Path = REPO) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.packaging", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "functions", nargs="*", metavar="FUNCTION", help=f"default: all of {', '.join(FUNCTIONS)}"
    )
    parser.add_argument("--out", type=Path, default=root / "build", help="directory of the zips (build/)")
    parser.add_argument(
        "--python-version",
        default=LAMBDA_PYTHON,
        help=f"wheels for this Python (default {LAMBDA_PYTHON}, the runtime; others: local import checks)",
    )
    args = parser.parse_args(argv)
    unknown = [f for f in args.functions if f not in FUNCTIONS]
    if unknown:
        print(
            f"error: unknown function {', '.join(unknown)} (known: {', '.join(FUNCTIONS)})", file=sys.stderr
        )
        return 2
    try:
        functions = args.functions or FUNCTIONS
        built = build_all(functions, args.out, root=root, python_version=args.python_version)
        for artifact in built.values():
            shown = artifact.path.resolve()
            if shown.is_relative_to(Path.cwd()):
                shown = shown.relative_to(Path.cwd())
            print(
                f"{shown}: {_megabytes(artifact.zipped_bytes)} zipped, "
                f"{_megabytes(artifact.unzipped_bytes)} unzipped, {artifact.files} files",
                flush=True,
            )
    except PackagingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
