"""DESIGN.md's layering: imports point only to the left, and private names stay home.

    autograd → ops → tensor → nn → optim → data → train → diagnose → tune → cli

Every module of the package is given its layer; an import of a module from a
layer further right fails the test, in every form (`import gradwork.x`,
`from gradwork.x import y`, relative imports, `from gradwork import Name`
resolved through the root's re-exports). A `_private` module or name may be
imported only from inside its own package.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gradwork"

LAYERS = ["autograd", "ops", "tensor", "nn", "optim", "data", "train", "diagnose", "tune", "cli"]

# Top-level modules that are not packages, by layer. Base helpers (dtype
# names, the random stream) sit with autograd: they import NumPy only.
MODULE_LAYER = {
    "autograd": "autograd",
    "dtypes": "autograd",
    "random": "autograd",
    "suggest": "autograd",
    "hooks": "autograd",
    "tensor": "tensor",
    "_tensor_math": "tensor",
    "_tensor_inplace": "tensor",
    "_tensor_pointwise": "tensor",
    "_tensor_rounding": "tensor",
    "_tensor_scan": "tensor",
    "_tensor_rearrange": "tensor",
    "_tensor_linalg": "tensor",
    "linalg": "tensor",
    "_tensor_shape": "tensor",
    "_function_forms": "tensor",
    "functions": "tensor",
    "creation": "tensor",
    "_device": "autograd",
    "_arrays": "autograd",  # the device contract: xp_of, transfers (every layer may use it)
    "_device_checks": "autograd",  # device-side input checks, read at host syncs (ops use it)
    "_compile": "nn",  # gradwork.compile: records ops, Module calls and optimizer calls
    "_standin": "autograd",  # the CPU stand-in for CuPy (tests' GPU path)
    "_standin_array": "autograd",
    "cuda": "autograd",
    "accelerator": "autograd",
    "backends": "autograd",
    "_safetensors": "autograd",
    "serialization": "tensor",
    "distributed": "tensor",  # process groups over MPI: Tensors and arrays only
    "utils": "data",
    "onnx": "nn",  # export: traces modules and ops (DESIGN.md: may import nn)
    "plots": "autograd",  # NumPy (and matplotlib, lazily) only: every layer may draw
    "__init__": "cli",  # the package root re-exports everything
    "__main__": "cli",
}


def layer_of(parts: list[str]) -> str:
    """The layer of a module given its dotted path below `gradwork`."""
    head = parts[0] if parts else "__init__"
    if head in LAYERS and head not in MODULE_LAYER:
        return head
    if head not in MODULE_LAYER:
        raise AssertionError(f"gradwork.{'.'.join(parts)} has no layer: add it to MODULE_LAYER")
    return MODULE_LAYER[head]


def test_every_layer_exists():
    for layer in LAYERS:
        assert (PACKAGE / layer).exists() or (PACKAGE / f"{layer}.py").exists(), layer


def _root_exports() -> dict[str, str]:
    """Names the package root re-exports (`from gradwork import Tensor`) -> defining module."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    exports = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gradwork"):
            for alias in node.names:
                exports[alias.asname or alias.name] = node.module
    return exports


ROOT_EXPORTS = _root_exports()


def _absolute(module_parts: list[str], node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute module of a (possibly relative) `from ... import`."""
    if not node.level:
        return node.module or ""
    package = ["gradwork", *module_parts] if is_package else ["gradwork", *module_parts[:-1]]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(source: str, module_parts: list[str], is_package: bool = False):
    """(module, name) for every import in `source`: every form, resolved to absolute names.

    `import gradwork.nn` -> ("gradwork.nn", None); `from .x import y` in gradwork.tune
    -> ("gradwork.tune.x", "y"); `from gradwork import Tensor` -> ("gradwork.tensor",
    "Tensor") through the root's re-exports; `from gradwork import nn` -> ("gradwork.nn", None).
    """
    for node in ast.walk(ast.parse(source)):
        if _is_runtime_lookup(node):  # importlib.import_module("gradwork.x"): an import too
            yield node.args[0].value, None
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(module_parts, node, is_package)
            for alias in node.names:
                if _is_module(f"{module}.{alias.name}"):
                    yield f"{module}.{alias.name}", None  # a submodule
                elif module == "gradwork":  # a name the root re-exports, or the root itself
                    yield ROOT_EXPORTS.get(alias.name, "gradwork"), alias.name
                else:
                    yield module, alias.name


def _is_runtime_lookup(node: ast.AST) -> bool:
    """`importlib.import_module("...")` or `import_module("...")` with a literal name."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return False
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return name == "import_module" and isinstance(node.args[0].value, str)


# Lookups at run time of a layer to the right, each allowed on purpose. A plug-in
# that must be on by default in a left layer cannot be imported there (the right
# layer imports the left one), so the left layer names it when it runs.
RUNTIME_LOOKUPS = {
    # The Trainer turns the mistake watch on by default; the watch reads the loop
    # from outside (wrapped backward, step, zero_grad) and the loop never calls it.
    ("train.trainer", "gradwork.diagnose.mistakes"),
    # TensorBoardLogger(doctor=True) writes the doctor's findings as text.
    ("train._tensorboard", "gradwork.diagnose"),
}


def _is_module(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split(".")[1:])
    return dotted.startswith("gradwork.") and (path.is_dir() or path.with_suffix(".py").exists())


def _is_private(name: str | None) -> bool:
    return bool(name) and name.startswith("_") and not name.startswith("__")


def violations_in(source: str, module_parts: list[str], is_package: bool = False) -> list[str]:
    """Imports pointing right, and private modules or names taken from another package."""
    own_layer = LAYERS.index(layer_of(module_parts))
    own_package = module_parts[0] if len(module_parts) > 1 or is_package else None
    found = []
    for module, name in imports_of(source, module_parts, is_package):
        names = module.split(".")
        if names[0] != "gradwork":
            continue
        target = names[1:]
        shown = f"{module}{'.' + name if name else ''}"
        if not target:
            found.append(f"imports the package root ({shown}), which imports every layer")
            continue
        if target[0] in LAYERS or target[0] in MODULE_LAYER:
            if LAYERS.index(layer_of(target)) > own_layer:
                found.append(f"imports {shown} (a layer to the right)")
        target_package = target[0] if (PACKAGE / target[0]).is_dir() else None
        # private by name, the package-wide device contract
        shared = target in (["_arrays"], ["_device_checks"])
        if (
            target_package != own_package
            and not shared
            and (any(map(_is_private, target)) or _is_private(name))
        ):
            found.append(f"imports private {shown} from outside its package")
    return found


def test_imports_point_left_and_private_names_stay_home():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        if not parts:
            continue  # the root re-exports everything by design
        for problem in violations_in(path.read_text(), parts, is_package):
            allowed = any(
                ".".join(parts) == module and f"imports {target} " in problem
                for module, target in RUNTIME_LOOKUPS
            )
            if not allowed:
                problems.append(f"gradwork.{'.'.join(parts)} {problem}")
    assert not problems, "\n".join(problems)


def test_runtime_lookups_allowed_are_still_there():
    # An entry whose lookup has gone would allow the next one silently.
    for module, target in RUNTIME_LOOKUPS:
        source = PACKAGE.joinpath(*module.split(".")).with_suffix(".py").read_text()
        assert f'import_module("{target}")' in source, (module, target)


@pytest.mark.parametrize(
    "source, module, complaint",
    [
        ("from ..tune import minimize", ["nn", "linear"], "layer to the right"),
        ("from . import _helpers", ["nn", "linear"], None),
        ("import gradwork.tune", ["nn", "linear"], "layer to the right"),
        ("from gradwork import Trainer", ["nn", "linear"], "package root"),
        ("from gradwork import Tensor, tensor", ["nn", "linear"], None),
        ("from gradwork import tune", ["optim", "sgd"], "layer to the right"),
        ("import gradwork", ["nn", "linear"], "package root"),
        ("from gradwork.train._state import split_batch", ["cli", "x"], "private"),
        ("from gradwork.train import _state", ["cli", "x"], "private"),
        ("from gradwork.train.run import _helper", ["tune", "x"], "private"),
        ("from gradwork._tensor_math import promote", ["nn", "linear"], "private"),
        ("from gradwork.train._state import split_batch", ["train", "trainer"], None),
        ("from gradwork.tensor import Tensor", ["nn", "linear"], None),
        ('importlib.import_module("gradwork.cli")', ["train", "x"], "layer to the right"),
        ('import_module("gradwork.tune._study")', ["cli", "x"], "private"),
        ('importlib.import_module("gradwork.tensor")', ["nn", "linear"], None),
    ],
)
def test_the_checker_sees_every_import_form(source, module, complaint):
    found = violations_in(source, module)
    if complaint is None:
        assert not found, found
    else:
        assert any(complaint in problem for problem in found), found
