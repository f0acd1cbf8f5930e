"""The [tune] section of a `gradwork tune` configuration, checked before anything runs.

[tune]
algorithm = "tpe"          # bayes, tpe, random, sobol, grid, ga, de, pso
n_trials = 20
metric = "val_accuracy"    # val_loss or val_<a train.metrics entry>
direction = "auto"         # minimize, maximize, auto (from the metric name)
# several objectives: a list, the validation metric first, then costs (always minimised)
# metric = ["val_accuracy", "n_parameters"]   # or "latency_ms"
# directions = ["maximize", "minimize"]        # optional, one per metric
pruner = "asha"            # asha, median, hyperband, none (steps are epochs)
executor = "serial"        # serial or processes (with workers); threads are refused

[tune.space]
"optimizer.lr" = {type = "float", low = 1e-4, high = 1e-1, log = true}
"model.hidden" = {type = "categorical", choices = [[32], [64, 64]]}
"optimizer.momentum" = {type = "float", low = 0.0, high = 0.99, when = ["optimizer.name", "SGD"]}
"""

from __future__ import annotations

from typing import Any

from gradwork.suggest import did_you_mean
from gradwork.train.config import (
    BOOL,
    FLOAT,
    INT,
    STR,
    STRS,
    ConfigError,
    check_type,
    unknown_key_message,
)
from gradwork.tune import (
    ALGORITHMS,
    Categorical,
    Float,
    HyperbandPruner,
    Int,
    MedianPruner,
    SuccessiveHalvingPruner,
)
from gradwork.tune.training import COSTS

TUNE_SCHEMA: dict[str, tuple[str, Any]] = {
    "algorithm": (STR, "tpe"),
    "n_trials": (INT, 20),
    "metric": (STR, "val_loss"),  # or a list: several objectives
    "direction": (STR, "auto"),
    "directions": (STRS, []),  # one per metric with several objectives; default: auto
    "seed": (INT, 0),
    "pruner": (STR, "asha"),
    "min_resource": (INT, 1),  # epochs before the first pruning decision
    "reduction_factor": (INT, 3),  # ASHA/Hyperband keep the best 1/factor at each rung
    "n_startup_trials": (INT, 5),  # median pruner: completed trials before it prunes
    "executor": (STR, "serial"),
    "workers": (INT, 2),
    "storage": (STR, ""),  # journal file; default: journal.jsonl in the study folder
    "cv": (INT, 0),  # k-fold cross-validation over train + validation when >= 2
    "sync": (BOOL, False),
    "retrain": (BOOL, True),  # train the best config on train + val and test it once
}
TUNE_CHOICES = {
    "direction": ("auto", "minimize", "maximize"),
    "pruner": ("asha", "median", "hyperband", "none"),
    "executor": ("serial", "threads", "processes"),
}
THREADS_UNSAFE = (
    "{where}: training runs in parallel threads would share gradwork's one random stream "
    "(initial weights, dropout, shuffling) in an unpredictable order, so no trial could be "
    'reproduced from its seed; use executor = "processes" with workers = N'
)
SPACE_KEYS = {
    "float": {"low": FLOAT, "high": FLOAT, "log": BOOL},
    "int": {"low": INT, "high": INT, "log": BOOL, "step": INT},
    "categorical": {"choices": "a non-empty list"},
}
REQUIRED = {"float": ("low", "high"), "int": ("low", "high"), "categorical": ("choices",)}


def resolve_tune(section: Any) -> tuple[dict, dict]:
    """(settings with defaults filled in, search space) from the [tune] table."""
    if not isinstance(section, dict):
        raise ConfigError("a tune config needs a [tune] table with a [tune.space] table")
    section = dict(section)
    space_table = section.pop("space", None)
    settings = {}
    for key in section:
        if key not in TUNE_SCHEMA:
            raise ConfigError(unknown_key_message("tune.", key, {**TUNE_SCHEMA, "space": None}))
    for key, (kind, default) in TUNE_SCHEMA.items():
        value = section.get(key, default)
        # A list of metrics means several objectives (see _check_objectives).
        list_of_metrics = key == "metric" and isinstance(value, list)
        check_type(f"tune.{key}", value, STRS if list_of_metrics else kind)
        settings[key] = value
    for key, choices in TUNE_CHOICES.items():
        _check_choice(f"tune.{key}", settings[key], choices)
    _check_objectives(settings, explicit=set(section))
    _check_numbers(settings)
    if not isinstance(space_table, dict) or not space_table:
        raise ConfigError(
            "[tune.space] is missing or empty; add entries such as "
            '"optimizer.lr" = {type = "float", low = 1e-4, high = 1e-1, log = true}'
        )
    return settings, {key: parse_entry(key, spec) for key, spec in space_table.items()}


def _check_choice(key: str, value: str, choices: tuple) -> None:
    if value not in choices:
        hint = did_you_mean(value, choices)
        raise ConfigError(f"{key} = {value!r} is not one of {', '.join(choices)}.{hint}")


def objective_names(settings: dict) -> list[str]:
    """The metric names of the study: one, or the validation metric then its costs."""
    metric = settings["metric"]
    return list(metric) if isinstance(metric, list) else [metric]


def _check_objectives(settings: dict, explicit: set[str]) -> None:
    """Several objectives: ``metric = [...]`` (+ ``directions``); fills what they imply."""
    names = objective_names(settings)
    directions = settings["directions"]
    if not names:
        raise ConfigError(
            'tune.metric = [] names no metric; write metric = "val_accuracy", or '
            'metric = ["val_accuracy", "n_parameters"] for several objectives'
        )
    if len(names) == 1:
        settings["metric"] = names[0]
        if len(directions) > 1:
            raise ConfigError(
                f"tune.directions = {directions!r} with one metric {names[0]!r}; list one "
                'metric per direction, e.g. metric = ["val_accuracy", "n_parameters"]'
            )
        if directions:
            _check_choice("tune.directions[0]", directions[0], TUNE_CHOICES["direction"])
            settings["direction"] = _agree(settings["direction"], directions[0])
        return
    for position, cost in enumerate(names[1:], start=1):
        if cost not in COSTS:
            hint = did_you_mean(cost, COSTS)
            raise ConfigError(
                f"tune.metric[{position}] = {cost!r}: after the validation metric come costs "
                f"to minimise, one of {', '.join(COSTS)}.{hint} e.g. "
                'metric = ["val_accuracy", "n_parameters"]'
            )
    if directions:
        if len(directions) != len(names):
            raise ConfigError(
                f"tune.directions has {len(directions)} entries for {len(names)} metrics "
                f"{names}; give one direction per metric, e.g. "
                f"directions = {['maximize'] + ['minimize'] * (len(names) - 1)}"
            )
        for position, direction in enumerate(directions):
            _check_choice(f"tune.directions[{position}]", direction, TUNE_CHOICES["direction"])
        for cost, direction in zip(names[1:], directions[1:], strict=True):
            if direction == "maximize":
                raise ConfigError(
                    f'tune.directions: {cost!r} is a cost and is minimised; write "minimize" '
                    '(or "auto") for it'
                )
        settings["direction"] = _agree(settings["direction"], directions[0])
    _multi_objective_defaults(settings, explicit)


def _agree(direction: str, first: str) -> str:
    if direction != "auto" and first != "auto" and direction != first:
        raise ConfigError(
            f"tune.direction = {direction!r} but tune.directions starts with {first!r}; "
            "keep one of them"
        )
    return first if first != "auto" else direction


def _multi_objective_defaults(settings: dict, explicit: set[str]) -> None:
    """Pruning and cv judge one number; tpe/de/pso optimise one objective."""
    if "pruner" not in explicit:
        settings["pruner"] = "none"
    elif settings["pruner"] != "none":
        raise ConfigError(
            f"tune.pruner = {settings['pruner']!r} with several objectives "
            f"({objective_names(settings)}): a pruner ranks trials by one number; "
            'set pruner = "none"'
        )
    if settings["cv"]:
        raise ConfigError(
            f"tune.cv = {settings['cv']} with several objectives: cross-validation ranks "
            "trials by one number; remove cv"
        )
    if "algorithm" not in explicit:
        settings["algorithm"] = "auto"
    elif settings["algorithm"].lower() in ("tpe", "de", "pso"):
        raise ConfigError(
            f"tune.algorithm = {settings['algorithm']!r} optimises one objective; with "
            'several use "auto", "ga" (NSGA-II), "bayes" (ParEGO), "random", "sobol" or "grid"'
        )


def _check_numbers(settings: dict) -> None:

    if settings["algorithm"].lower() not in ALGORITHMS:
        _check_choice("tune.algorithm", settings["algorithm"], tuple(sorted(ALGORITHMS)))
    at_least = {"n_trials": 1, "workers": 1, "min_resource": 1, "reduction_factor": 2}
    at_least.update(n_startup_trials=0)
    for key, low in at_least.items():
        if settings[key] < low:
            raise ConfigError(f"tune.{key} = {settings[key]} must be at least {low}")
    if settings["executor"] == "threads":
        raise ConfigError(THREADS_UNSAFE.format(where='tune.executor = "threads"'))
    if settings["cv"] == 1 or settings["cv"] < 0:
        raise ConfigError(f"tune.cv = {settings['cv']}: give 0 (off) or k >= 2 folds")
    if settings["cv"] and settings["pruner"] != "none":
        raise ConfigError(
            f"tune.cv = {settings['cv']} with tune.pruner = {settings['pruner']!r}: epoch "
            'pruning does not apply across folds; set pruner = "none" (cross-validation '
            "stops clearly worse configurations after two folds by itself)"
        )


def parse_entry(key: str, spec: Any) -> Any:
    """One [tune.space] entry as a Float, Int or Categorical."""

    where = f"tune.space.{key!r}"
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(
            f"{where} must be an inline table with a type, e.g. "
            '{type = "float", low = 1e-4, high = 1e-1, log = true}'
        )
    spec = dict(spec)
    kind = spec.pop("type")
    _check_choice(f"{where}.type", kind, tuple(SPACE_KEYS))
    when = _when(where, spec.pop("when", None))
    for name, value in spec.items():
        if name not in SPACE_KEYS[kind]:
            valid = [*SPACE_KEYS[kind], "when"]
            hint = did_you_mean(name, valid)
            raise ConfigError(
                f"unknown key {name!r} in {where} (type {kind!r}).{hint} Valid: {', '.join(valid)}"
            )
        if kind != "categorical":
            check_type(f"{where}.{name}", value, SPACE_KEYS[kind][name])
    missing = [name for name in REQUIRED[kind] if name not in spec]
    if missing:
        raise ConfigError(f"{where} (type {kind!r}) needs {' and '.join(missing)}")
    if kind == "categorical" and (not isinstance(spec["choices"], list) or not spec["choices"]):
        raise ConfigError(f"{where}.choices = {spec['choices']!r}; expected a non-empty list")
    maker = {"float": Float, "int": Int, "categorical": Categorical}[kind]
    try:
        return maker(**spec, when=when)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None


def _when(where: str, when: Any) -> tuple | None:
    if when is None:
        return None
    if not isinstance(when, list) or len(when) != 2 or not isinstance(when[0], str):
        raise ConfigError(
            f"{where}.when = {when!r}; expected [parent key, value], e.g. "
            'when = ["optimizer.name", "SGD"]'
        )
    return tuple(when)


def make_pruner(settings: dict, epochs: int) -> Any:
    """The pruner [tune] asks for (None for "none"); resources are epochs."""

    name, low, factor = settings["pruner"], settings["min_resource"], settings["reduction_factor"]
    if name == "asha":
        return SuccessiveHalvingPruner(min_resource=low, reduction_factor=factor)
    if name == "median":
        return MedianPruner(n_startup_trials=settings["n_startup_trials"], n_warmup_steps=low)
    if name == "hyperband":
        return HyperbandPruner(low, max(epochs, low + 1), factor)
    return None
