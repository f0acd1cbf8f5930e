"""DESIGN.md's layering: imports point only to the left.

    autograd → ops → tensor → nn → optim → data → train → diagnose → tune → cli

Every module of the package is given its layer; an import of a module from a
layer further right fails the test.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gradwork"

LAYERS = ["autograd", "ops", "tensor", "nn", "optim", "data", "train", "diagnose", "tune", "cli"]

# Top-level modules that are not packages, by layer. Base helpers (dtype
# names, the random stream) sit with autograd: they import NumPy only.
MODULE_LAYER = {
    "autograd": "autograd",
    "_dtype": "autograd",
    "_random": "autograd",
    "suggest": "autograd",
    "tensor": "tensor",
    "_tensor_math": "tensor",
    "_tensor_inplace": "tensor",
    "_tensor_pointwise": "tensor",
    "_tensor_scan": "tensor",
    "_tensor_linalg": "tensor",
    "linalg": "tensor",
    "_tensor_shape": "tensor",
    "_function_forms": "tensor",
    "functions": "tensor",
    "creation": "tensor",
    "_device": "autograd",
    "cuda": "autograd",
    "accelerator": "autograd",
    "backends": "autograd",
    "_safetensors": "autograd",
    "serialization": "tensor",
    "utils": "data",
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


def imported_modules(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:  # `from gradwork import nn` imports gradwork.nn
                yield f"{node.module}.{alias.name}"


def test_imports_point_only_to_the_left():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        own = LAYERS.index(layer_of(parts))
        for module in imported_modules(path):
            names = module.split(".")
            if names[0] != "gradwork" or len(names) == 1:
                continue
            target = names[1:]
            if target[0] not in LAYERS and target[0] not in MODULE_LAYER:
                continue  # `from gradwork import Tensor`-style names resolve via __init__
            if LAYERS.index(layer_of(target)) > own:
                violations.append(f"{'.'.join(parts)} imports {module}")
    assert not violations, "imports pointing right:\n" + "\n".join(violations)


def test_every_layer_exists():
    for layer in LAYERS:
        assert (PACKAGE / layer).exists() or (PACKAGE / f"{layer}.py").exists(), layer
