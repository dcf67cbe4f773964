"""Each function's Lambda artifact holds what its handler imports, and nothing of the rest of the repository.

GIVEN the four artifacts built by infra/packaging.py (Lambda's cp312 wheels), and the same built for this
      interpreter so that they can be imported here
WHEN they are listed, measured, rebuilt and imported in a bare interpreter from the artifact alone
THEN each holds its handler and its own modules, no dev, model or local-stack code, fits Lambda's limits,
     builds to the same bytes twice, and its handler runs its import-time and first-use code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra import packaging
from infra.packaging import FUNCTIONS, Artifact, PackagingError, build, build_all, project_modules
from infra.template_file import load_template

REPO = Path(__file__).resolve().parents[2]
LOCAL_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # 250 MB, code and layers together
LAMBDA_DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # a zip uploaded without S3

# Dev, local-stack and model-serving distributions, and the repository's non-service packages.
FORBIDDEN_TOP_LEVEL = {
    "moto",
    "onnxruntime",
    "numpy",
    "waitress",
    "torch",
    "samtranslator",
    "cfnlint",
    "checkov",
    "pytest",
    "local",
    "bench",
    "model",
    "driver_routing",
    "infra",
    "tests",
}
MODEL_SUFFIXES = (".onnx", ".pt", ".pth", ".safetensors", ".npz")
ENDPOINT_ADAPTER = "shared/aws/endpoint.py"

# Run in `python -I -S`: no site-packages, no PYTHONPATH, no current directory; only the artifact and the
# standard library. Building the handler's wiring builds the clients, the idempotency layer and (router)
# loads its rules file.
IMPORT_CHECK = """
import json, sys, sysconfig
root = sys.argv[1]
sys.path.insert(0, root)
import importlib
handler = importlib.import_module(f"services.{sys.argv[2]}.handler")
from shared.wiring import BuiltOnce
wirings = [value for value in vars(handler).values() if isinstance(value, BuiltOnce)]
assert wirings, "the handler has no BuiltOnce wiring"
for wiring in wirings:
    wiring.get()
allowed = (root, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
outside = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)
)
print(json.dumps({"handler": handler.__file__, "outside": outside}))
"""


def template_variables(function: str) -> dict[str, str]:
    """The names the template gives the function: a parameter's default, or a stand-in for a resource
    (its name resolves only in a deployed stack)."""
    template = load_template()
    defaults = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    resource = template["Resources"][f"{function.capitalize()}Function"]
    variables: dict[str, object] = resource["Properties"]["Environment"]["Variables"]
    return {
        name: defaults.get(value["Ref"], f"test-{name.lower()}")
        if isinstance(value, dict) and "Ref" in value
        else str(value)
        if isinstance(value, str)
        else f"test-{name.lower()}"
        for name, value in variables.items()
    }


def lambda_environment(root: Path, function: str) -> dict[str, str]:
    """What Lambda sets at start, so the tracer loads and patches as it does there, and the names the
    template gives the function. No credentials, no AWS config file: building clients must not need them."""
    return {
        **template_variables(function),
        "PATH": "/usr/bin:/bin",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": f"test-{function}",
        "LAMBDA_TASK_ROOT": str(root),
        "POWERTOOLS_SERVICE_NAME": function,
        "AWS_CONFIG_FILE": str(root / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(root / "no-credentials"),
    }


def run_import_check(root: Path, function: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_CHECK, str(root), function],
        env=lambda_environment(root, function),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def names(artifact: Artifact) -> list[str]:
    with zipfile.ZipFile(artifact.path) as archive:
        return archive.namelist()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    out = tmp_path_factory.mktemp("lambda-build")
    built = build_all(FUNCTIONS, out)
    for artifact in built.values():
        print(
            f"\n{artifact.function}.zip: {artifact.zipped_bytes / 1e6:.1f} MB zipped, "
            f"{artifact.unzipped_bytes / 1e6:.1f} MB unzipped, {artifact.files} files"
        )
    return built


@dataclass(frozen=True)
class LocalBuild:
    """The artifacts built for this interpreter by the command line, unzipped (Lambda's cp312 wheels do
    not load on another), and what the command printed."""

    roots: dict[str, Path]
    out: Path
    stdout: str


@pytest.fixture(scope="session")
def local_build(tmp_path_factory: pytest.TempPathFactory) -> LocalBuild:
    out = tmp_path_factory.mktemp(f"local-build-{LOCAL_PYTHON}")
    result = subprocess.run(
        [sys.executable, "-m", "infra.packaging", "--out", str(out), "--python-version", LOCAL_PYTHON],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    roots = {}
    for function in FUNCTIONS:
        roots[function] = out / function
        with zipfile.ZipFile(out / f"{function}.zip") as archive:
            archive.extractall(roots[function])
    return LocalBuild(roots, out, result.stdout)


@pytest.fixture(scope="session")
def local_roots(local_build: LocalBuild) -> dict[str, Path]:
    return local_build.roots


# ---------------------------------------------------------------- contents


@pytest.mark.parametrize("function", FUNCTIONS)
def test_artifact_holds_its_handler_and_no_other_service(
    function: str, artifacts: dict[str, Artifact]
) -> None:
    listed = names(artifacts[function])
    assert f"services/{function}/handler.py" in listed
    assert f"services/{function}/service.py" in listed
    others = {name.split("/")[1] for name in listed if name.startswith("services/") and name.count("/") > 1}
    # The API decides a dispatcher's review with the router's own domain and rules, so it ships those
    # and nothing else of the router (not its handler, service or wiring).
    assert others == {function} | ({"router"} if function == "api" else set())
    if function == "api":
        assert {n for n in listed if n.startswith("services/router/")} == {
            "services/router/__init__.py",
            "services/router/domain.py",
            "services/router/rules.py",
            "services/router/rules.yaml",
        }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_artifact_ships_no_dev_model_or_local_stack_code(
    function: str, artifacts: dict[str, Artifact]
) -> None:
    listed = names(artifacts[function])
    top_level = {name.split("/")[0].removesuffix(".py") for name in listed}
    assert not top_level & FORBIDDEN_TOP_LEVEL
    assert not [n for n in listed if n.endswith(MODEL_SUFFIXES)]
    # Console scripts and bytecode built for this machine: never run on Lambda.
    assert not [n for n in listed if n.startswith("bin/") or n.endswith(".pyc") or "__pycache__" in n]


def test_only_the_classifier_has_the_endpoint_adapter(artifacts: dict[str, Artifact]) -> None:
    holding = {function for function in FUNCTIONS if ENDPOINT_ADAPTER in names(artifacts[function])}
    assert holding == {"classifier"}


def test_the_rules_file_ships_with_the_functions_that_route(artifacts: dict[str, Artifact]) -> None:
    # load_rules("") reads Path(rules.__file__).with_name("rules.yaml"): the default ROUTING_RULES_PATH.
    # The router routes the model's predictions, the API a dispatcher's reviews.
    routing = {"router", "api"}
    for function in routing:
        assert "services/router/rules.yaml" in names(artifacts[function])
    assert not [n for f in FUNCTIONS if f not in routing for n in names(artifacts[f]) if n.endswith(".yaml")]


def test_the_api_ships_the_dispatch_board_it_serves(artifacts: dict[str, Artifact]) -> None:
    assert {"services/api/static/board.html", "services/api/static/board.js"} <= set(names(artifacts["api"]))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_artifact_fits_lambdas_limits(function: str, artifacts: dict[str, Artifact]) -> None:
    artifact = artifacts[function]
    with zipfile.ZipFile(artifact.path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    assert unzipped == artifact.unzipped_bytes
    assert unzipped < LAMBDA_UNZIPPED_LIMIT
    assert artifact.path.stat().st_size < LAMBDA_DIRECT_UPLOAD_LIMIT


def test_entries_are_sorted_with_fixed_times_and_readable_modes(artifacts: dict[str, Artifact]) -> None:
    with zipfile.ZipFile(artifacts["capture"].path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {packaging.FIXED_DATE_TIME}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}


def test_two_builds_give_the_same_bytes(artifacts: dict[str, Artifact], tmp_path: Path) -> None:
    again = build("capture", tmp_path)
    assert again.path.read_bytes() == artifacts["capture"].path.read_bytes()


# ---------------------------------------------------------------- the handler imports from its artifact


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_imports_from_its_artifact_alone(function: str, local_roots: dict[str, Path]) -> None:
    result = run_import_check(local_roots[function], function)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["handler"].startswith(str(local_roots[function]))
    assert report["outside"] == []


def test_the_import_check_fails_when_a_wheel_is_missing(local_roots: dict[str, Path], tmp_path: Path) -> None:
    crippled = tmp_path / "router"
    shutil.copytree(local_roots["router"], crippled)
    shutil.rmtree(crippled / "yaml")
    result = run_import_check(crippled, "router")
    assert result.returncode != 0
    assert "No module named 'yaml'" in result.stderr


# ---------------------------------------------------------------- requirements and module discovery


@pytest.mark.parametrize("function", FUNCTIONS)
def test_requirements_keep_pyprojects_bounds(function: str) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    declared = {Requirement(line).name: Requirement(line) for line in pyproject["project"]["dependencies"]}
    lines = (REPO / "services" / function / "requirements.txt").read_text().splitlines()
    for line in (line for line in lines if line.strip() and not line.startswith("#")):
        wanted = Requirement(line)
        assert wanted.name in declared, f"{wanted.name} is not a project dependency"
        assert str(wanted) == str(declared[wanted.name])


def test_module_walk_follows_relative_lazy_and_submodule_imports(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/handler.py": "from . import helper\nfrom app.sub import leaf\n\ndef f():\n    import app.lazy\n",
        "app/helper.py": "from .sub.leaf import NAME\nimport boto3\n",
        "app/lazy.py": "",
        "app/sub/__init__.py": "",
        "app/sub/leaf.py": "NAME = 1\n",
        "app/unused.py": "",
        "other/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = project_modules("app.handler", tmp_path)
    assert set(found) == {"app", "app.handler", "app.helper", "app.lazy", "app.sub", "app.sub.leaf"}
    assert packaging.third_party_imports(found, tmp_path) == {"boto3"}

    (tmp_path / "app/lazy.py").write_text("from app.gone import thing\n")
    with pytest.raises(PackagingError, match=r"app\.lazy imports app\.gone"):
        project_modules("app.handler", tmp_path)


def _copy_of_the_project(root: Path) -> Path:
    for package in ("services", "shared"):
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_requirement_missing_for_an_import_fails_the_build(tmp_path: Path) -> None:
    root = _copy_of_the_project(tmp_path / "repo")
    requirements = root / "services" / "router" / "requirements.txt"
    requirements.write_text(
        "\n".join(line for line in requirements.read_text().splitlines() if not line.startswith("pyyaml"))
    )
    with pytest.raises(PackagingError, match=r"router imports yaml, which .* does not install"):
        build("router", tmp_path / "out", root=root)


# ---------------------------------------------------------------- command line


def test_unknown_function_is_one_line_and_a_non_zero_exit(capsys: pytest.CaptureFixture[str]) -> None:
    assert packaging.main(["ingest", "billing"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: unknown function billing (known: ingest, classifier, router, capture, api)"


def test_pip_failure_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _copy_of_the_project(tmp_path / "repo")
    (root / "services" / "capture" / "requirements.txt").write_text("boto3 >= >= 1\n")
    assert packaging.main(["capture", "--out", str(tmp_path / "out")], root=root) == 1
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("error: pip install -r ")
    assert "Traceback" not in captured.err
    assert not (tmp_path / "out" / "capture.zip").exists()


def test_command_line_builds_every_function_and_prints_sizes(local_build: LocalBuild) -> None:
    lines = local_build.stdout.strip().splitlines()
    assert len(lines) == len(FUNCTIONS)
    for function, line in zip(FUNCTIONS, lines, strict=True):
        assert (local_build.out / f"{function}.zip").is_file()
        assert line.startswith(f"{local_build.out / function}.zip: ")
        assert " MB zipped, " in line
        assert " MB unzipped, " in line
        assert line.endswith(" files")
