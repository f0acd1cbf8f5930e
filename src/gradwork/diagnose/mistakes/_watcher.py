"""`Watcher`: follows a training loop's events and reports each mistake once, where it was made.

The events come from `_patch` (backward, forward at top level, zero_grad,
step, scheduler step, a loader's new epoch). Everything read is already there:
the graph the loss built (a few nodes of it, on the first steps), gradients
already computed, counters. No extra forward or backward pass is run.
"""

from __future__ import annotations

import warnings
import weakref
from collections import deque
from typing import Any

import numpy as np

from gradwork.autograd import is_grad_enabled
from gradwork.diagnose.findings import Finding
from gradwork.diagnose.mistakes import _checks, _patch, _texts
from gradwork.diagnose.mistakes._schedule import ScheduleWatch
from gradwork.diagnose.mistakes._where import inside_other_diagnostics, short, user_frame

GRAPH_STEPS = 3  # backward passes whose loss graph is read for softmax/sigmoid (the model is fixed)
LABEL_STEPS = 100  # backward passes whose labels are read
SAME_BATCH_STEPS = 5  # identical batches in a row that make "the same batch every step"
FINGERPRINT_STEPS = 200  # backward passes whose batches are fingerprinted
ALIVE_AFTER = 5  # a loss this many backward passes old should be garbage by now


class TrainingMistakeWarning(UserWarning):
    """A mistake in training code found by `gradwork.diagnose.watch` (shown once per place)."""


class Watcher:
    """Watches the training loop while active; `findings` lists what it found.

    Use `gradwork.diagnose.watch()` to make one (it starts at once); the Trainer
    runs one by default (`Trainer(..., watch=False)` turns it off).
    """

    def __init__(self, warn: bool = True) -> None:
        self.findings: list[Finding] = []
        self.errors: list[str] = []  # the watcher's own failures (training goes on)
        self.warn = warn
        self.active = False
        self._seen: set[tuple] = set()
        self.steps = self.backwards = 0
        self._backwards_since_step = 0
        self._zeroed_since_step = True
        self._zero_after_backward: tuple | None = None
        self._optimizers: list[Any] = []
        self._trained: set[int] = set()
        self._losses: deque = deque(maxlen=ALIVE_AFTER)
        self._alive_checked_at = -1
        self._pending: list[dict] = []  # top-level forwards since the last backward
        self._fingerprint: tuple | None = None
        self._same_batch = 0
        self._constant_labels: dict[float, tuple] = {}
        self._loader: Any = None  # the loader of the last batch trained on
        self._loader_where: dict[int, tuple] = {}  # loader id -> where its epoch began
        self._epochs: dict[int, int] = {}
        self._training_loaders: set[int] = set()
        self._schedules = ScheduleWatch(self)
        self._model: Any = None  # the model of the last forward that was trained on
        self._backward_where: tuple = ("?", 0)
        self._trains_cache: dict[int, bool] = {}
        self._probe: tuple | None = None  # a stale gradient, to see whether backward adds to it
        self._last_optimizer: Any = None

    # ------------------------------------------------------------ start, stop
    def start(self) -> Watcher:
        if not self.active:
            self.active = True
            _patch.add(self)
        return self

    def stop(self) -> list[Finding]:
        """Stop watching (judging the last evaluation run) and return the findings."""
        if self.active:
            self._judge_pending()
            _patch.remove(self)
            self.active = False
        return self.findings

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def reads_graphs(self) -> bool:
        """Still in the first steps, whose loss graphs are read for softmax and sigmoid."""
        return self.backwards < GRAPH_STEPS

    # ------------------------------------------------------------- reporting
    def report(self, check: str, where: tuple, evidence: dict | None = None,
               layers: list[str] | None = None, **values: Any) -> None:  # fmt: skip
        """Record (and warn about) one finding, once per check and place."""
        if (check, where) in self._seen or inside_other_diagnostics():
            return
        self._seen.add((check, where))
        message, fix = _texts.TEXTS[check]
        evidence = {**(evidence or {}), "file": where[0], "line": where[1]}
        finding = Finding(check, "warning", message.format(**values), evidence,
                          fix.format(**values), list(layers or []))  # fmt: skip
        self.findings.append(finding)
        if self.warn:
            warnings.warn_explicit(f"{finding} (at {short(where)})", TrainingMistakeWarning,
                                   where[0], where[1])  # fmt: skip

    # ----------------------------------------------------------------- events
    def on_forward(self, model: Any, args: tuple, output: Any, where: tuple) -> None:
        node = _checks.output_node(output)
        self._pending.append({
            "model": model, "training": model.training, "where": where,
            "grad": is_grad_enabled() and node is not None,
            "node": None if node is None else weakref.ref(node),
            "fingerprint": _checks.fingerprint(args[0])
            if args and self.backwards < FINGERPRINT_STEPS
            else None,
            "loader": _patch.last_batch_loader() if args and args[0] is _patch.last_batch_inputs()
            else None,
        })  # fmt: skip
        del self._pending[:-64]
        if sum(1 for record in self._pending if not record["grad"]) >= 2:
            self._judge_pending(no_grad_only=True)  # no-grad forwards are never trained on

    def before_backward(self, loss: Any, where: tuple) -> None:
        self._backward_where = where
        for record in self._pending:  # dropped before this backward: never trained on
            record["dropped"] = record["node"] is None or record["node"]() is None
        if self.steps and not self._backwards_since_step and not self._zeroed_since_step:
            self._probe = self._stale_gradient()  # judged after this backward
        if self.backwards < LABEL_STEPS and loss.grad_fn is not None:
            self._read_loss_graph(loss, where)
        if loss.grad_fn is not None:
            self._check_kept_alive(loss)
            self._losses.append(weakref.ref(loss.grad_fn))

    def after_backward(self, loss: Any, retain_graph: bool) -> None:
        if self._probe is not None:
            self._check_accumulated(self._backward_where)
        self.backwards += 1
        self._backwards_since_step += 1
        self._zero_after_backward = None
        trained = self._pending[-1] if self._pending else None
        if trained is not None:
            self._model, loader = trained["model"], trained["loader"]
            if loader is None:  # full-batch training on a tensor: no loader, no mistake
                self._same_batch = 0
            else:
                self._loader = loader
                if id(loader) not in self._training_loaders:
                    self._training_loaders.add(id(loader))
                    self._check_split(loader)
                self._check_same_batch(trained["fingerprint"], trained["where"])
        if retain_graph:  # nodes stay unfreed: no telling trained from evaluated forwards
            self._pending.clear()
        self._judge_pending()

    def on_zero_grad(self, owner: Any, where: tuple) -> None:
        self._zeroed_since_step = True
        if self._backwards_since_step:
            self._zero_after_backward = where

    def before_step(self, optimizer: Any, where: tuple) -> None:
        if all(known is not optimizer for known in self._optimizers):
            self._optimizers.append(optimizer)
            self._trained.update(id(p) for g in optimizer.param_groups for p in g["params"])
            self._trains_cache.clear()
            if self._backwards_since_step:
                self._check_reach(optimizer, self._backward_where)
        if self._zero_after_backward is not None:
            self.report("zero_grad_before_step", self._zero_after_backward)
        self.steps += 1
        self._last_optimizer = optimizer
        self._backwards_since_step = 0
        self._zeroed_since_step = False
        self._zero_after_backward = None

    def on_scheduler_step(self, scheduler: Any, where: tuple) -> None:
        self._schedules.on_step(scheduler, where, self.steps, self._loader)

    def on_loader_iter(self, loader: Any, where: tuple) -> None:
        self._judge_pending()
        epochs = self._epochs[id(loader)] = self._epochs.get(id(loader), 0) + 1
        self._loader_where[id(loader)] = where
        if epochs == 2 and id(loader) in self._training_loaders and _checks.unshuffled(loader):
            self.report("loader_not_shuffled", where, {"batches": len(loader)})

    # ------------------------------------------------------------------ checks
    def _stale_gradient(self) -> tuple | None:
        """(parameter, a copy of its gradient): the smallest non-zero gradient left over
        from before the last step, or None when every gradient was reset."""
        stale = [p for group in self._last_optimizer.param_groups for p in group["params"]
                 if p.grad is not None]  # fmt: skip
        stale = [p for p in sorted(stale, key=lambda p: p.grad.array.size) if np.any(p.grad.array)]
        return (stale[0], stale[0].grad.array.copy()) if stale else None

    def _check_accumulated(self, where: tuple) -> None:
        """The backward added to a gradient left over from the last step: zero_grad is missing.

        A backward that does not reach the stepped parameters (another model trained
        by hand afterwards) leaves the left-over gradient as it was: no mistake.
        """
        probe, self._probe = self._probe, None
        if probe is not None and probe[0].grad is not None:
            if not np.array_equal(probe[0].grad.array, probe[1]):
                self.report("zero_grad_missing", where, {"step": self.steps})

    def _read_loss_graph(self, loss: Any, where: tuple) -> None:
        for node in _checks.loss_nodes(loss):
            if self.backwards < GRAPH_STEPS:
                self._check_activation(node, where)
            labels = _checks.class_targets(node)
            if labels is not None and labels.size >= 8 and labels.min() == labels.max():
                value = float(labels.flat[0])
                self._constant_labels.setdefault(value, where)
                if len(self._constant_labels) >= 2:
                    self.report("labels_constant", where, {"batch_size": int(labels.size),
                                "constant_values": sorted(self._constant_labels)})  # fmt: skip

    def _check_activation(self, node: Any, where: tuple) -> None:
        activation = _checks.activation_before(node)
        loss = type(node).__name__
        wrong = {
            ("CrossEntropy", "softmax"): "softmax_into_cross_entropy",
            ("CrossEntropy", "log_softmax"): "log_softmax_into_cross_entropy",
            ("BinaryCrossEntropyWithLogits", "sigmoid"): "sigmoid_into_bce_with_logits",
        }
        check = wrong.get((loss, activation))  # fmt: skip
        if check is None:
            return
        made_at = _patch.CREATED.get(_checks.producer(node))
        self.report(check, made_at or where, {"activation": activation})

    def _check_reach(self, optimizer: Any, where: tuple) -> None:
        model = self._model
        names = {id(p): n for n, p in model.named_parameters()} if model is not None else {}
        frozen, unreached = [], []
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    name = names.get(id(p), f"parameter of shape {tuple(p.shape)}")
                    (unreached if p.requires_grad else frozen).append(name)
        if unreached:
            self.report("params_unreached", where, {"count": len(unreached)}, unreached,
                        count=len(unreached), names=", ".join(unreached[:5]))  # fmt: skip
        if frozen:
            self.report("params_frozen", where, {"count": len(frozen)}, frozen,
                        count=len(frozen), names=", ".join(frozen[:5]))  # fmt: skip

    def _check_kept_alive(self, loss: Any) -> None:
        if len(self._losses) < ALIVE_AFTER:
            return
        if self._alive_checked_at >= 0 and self.backwards - self._alive_checked_at < 50:
            return
        old = self._losses[0]()
        if old is None or old.inputs is not None:  # freed, or still waiting for its backward
            return
        self._alive_checked_at = self.backwards
        holder = _checks.graph_built_on(old)
        if holder is None:
            return
        frame = user_frame(3)
        name = _checks.accumulator_name(frame, old, loss)
        line = _checks.accumulation_line(frame, name) if name else None
        where = (frame.f_code.co_filename, line or frame.f_lineno) if frame else ("?", 0)
        size = _checks.count_nodes(frame.f_locals[name].grad_fn) if name else None
        evidence = {"steps_alive": ALIVE_AFTER, "variable": name, "graph_nodes": size,
                    "at_step": self.backwards}  # fmt: skip
        self.report("graph_kept_alive", where, evidence, variable=name or "a running total")

    def _trains(self, model: Any) -> bool:
        """The model being trained: its first parameter is in a stepped optimizer."""
        known = self._trains_cache.get(id(model))
        if known is None:
            first = next(iter(model.parameters()), None)
            known = self._trains_cache[id(model)] = first is not None and id(first) in self._trained
        return known

    def _check_same_batch(self, fingerprint: tuple | None, where: tuple) -> None:
        if fingerprint is None:
            return
        same = fingerprint == self._fingerprint
        self._same_batch = self._same_batch + 1 if same else 1
        self._fingerprint = fingerprint
        loader = self._loader
        if self._same_batch >= SAME_BATCH_STEPS and loader is not None and _length(loader) > 1:
            self.report("same_batch", where, {"steps": self._same_batch,
                        "loader_batches": _length(loader)})  # fmt: skip

    def _check_split(self, loader: Any) -> None:
        leak = _checks.normalisation_leak(getattr(loader, "dataset", None))
        if leak is None:
            return
        filename, loop_line = self._loader_where.get(id(loader), ("?", 0))
        line = _checks.statistics_line(filename) or loop_line
        self.report("normalisation_leak", (filename, line), leak)

    def _judge_pending(self, no_grad_only: bool = False) -> None:
        """Forwards never backpropagated, two or more after training began: an evaluation run.

        With `no_grad_only`, the forwards with gradients on stay pending: the
        backward that may still use them has not run yet.
        """
        pending, self._pending = self._pending, []
        if no_grad_only:
            self._pending = [record for record in pending if record["grad"]]
            pending = [record for record in pending if not record["grad"]]
        if not self.steps:
            return
        evaluated = [r for r in pending if _not_trained(r) and self._trains(r["model"])]
        if len(evaluated) < 2:
            return
        for record in evaluated:
            noisy = _checks.noisy_layers(record["model"]) if record["training"] else []
            if noisy:
                self.report("eval_in_train_mode", record["where"], {"layers": noisy}, noisy,
                            names=", ".join(noisy[:3]))  # fmt: skip
            if record["grad"]:
                self.report("eval_with_grad", record["where"])


def _not_trained(record: dict) -> bool:
    """A forward whose output no backward ran through.

    Backward frees the nodes it runs through (their `inputs` become None, and
    an output nobody holds any more dies with them); a node dropped before the
    backward, or still whole after it, was not part of it.
    """
    if not record["grad"] or record.get("dropped", True):
        return True
    node = record["node"]()
    return node is not None and node.inputs is not None


def _length(loader: Any) -> int:
    try:
        return len(loader)
    except TypeError:
        return 0
