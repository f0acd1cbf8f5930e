"""A survey of everyday models: a plain torch loop against gradwork, ms per step.

The suite (`suite.py`) times seven chosen workloads; this survey asks where
gradwork is unexpectedly slow on the other models people write every day
(issue "CPU speed": "time plain torch loops against gradwork on other models
too"). Each case builds one model from an `nn` namespace (torch.nn and
gradwork.nn run the same code), loads torch's initial state_dict into
gradwork, and trains both for a fixed number of steps on the same fixed
batches with torch's default optimizers, the way most scripts write them
(no `fused=True`). Rounds alternate gradwork and torch, after a short pause
(see README "Measuring on a shared machine"); the best round counts. With one
thread (the default) a round is timed in the process's CPU time, which the
other processes on a shared machine do not inflate.

Run: python benchmarks/survey.py [--threads 1] [--rounds 4] [--clock cpu|wall] [--steps 30]
     [--only gru,rnn] [--settle 0.2] [--json PATH]
"""

from __future__ import annotations

import os
import sys


def _threads_from_argv(argv: list[str]) -> str:
    """The --threads value (default 1), read before NumPy and torch start their thread pools."""
    for index, arg in enumerate(argv):
        if arg == "--threads" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


_THREADS = _threads_from_argv(sys.argv)
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = _THREADS  # before NumPy and torch start their thread pools

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _mnist import load  # noqa: E402
from _models import mlp  # noqa: E402

import gradwork as gw  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "survey.json"
BATCHES = 8  # distinct fixed batches, cycled
# With one thread, the process's CPU time leaves out the time it waited for a core
# that other processes held (the survey was written on 2 cores shared by 4
# sessions); with more threads CPU time would add the threads up, so wall time.
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


@dataclass
class Case:
    """One everyday model: how to build it, train it and feed it."""

    name: str
    build: Callable  # nn -> module
    optimizer: Callable  # (optim, params) -> optimizer
    loss: Callable  # (F, output, target) -> scalar loss
    data: Callable  # rng -> (inputs, targets) of one batch, NumPy arrays
    inference: bool = False


# ---- models -----------------------------------------------------------------------------


def act_mlp(nn):
    """784-256-128-10 with tanh, sigmoid and GELU, each followed by dropout."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.Tanh(), nn.Dropout(0.2),
        nn.Linear(256, 128), nn.Sigmoid(), nn.Dropout(0.2),
        nn.Linear(128, 64), nn.GELU(), nn.Linear(64, 10),
    )  # fmt: skip


def layernorm_mlp(nn):
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.LayerNorm(256), nn.ReLU(),
        nn.Linear(256, 128), nn.LayerNorm(128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


def bn_cnn(nn):
    """Conv-BN-ReLU blocks with Dropout2d and a global average pool."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Dropout2d(0.1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )  # fmt: skip


def strided_cnn(nn):
    """No pooling: stride-2 convolutions do the downsampling."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )  # fmt: skip


def conv1d_net(nn):
    """Sequences of 64 steps x 8 channels: two Conv1d, a global max, a linear head."""

    class Conv1dNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv1d(8, 32, 5, padding=2)
            self.conv2 = nn.Conv1d(32, 32, 5, padding=2)
            self.relu = nn.ReLU()
            self.head = nn.Linear(32, 5)

        def forward(self, x):
            h = self.relu(self.conv2(self.relu(self.conv1(x))))
            return self.head(h.amax(2))

    return Conv1dNet()


def recurrent_classifier(kind, features=16, hidden=64, classes=5):
    """(batch, 20 steps, 16 features) read by a GRU or RNN; the last state classifies."""

    def build(nn):
        class RecurrentClassifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = getattr(nn, kind)(features, hidden, batch_first=True)
                self.head = nn.Linear(hidden, classes)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[:, -1])

        return RecurrentClassifier()

    return build


def bag_of_words(nn, vocab=20000, dim=64):
    """Embedding of a large vocabulary, mean over the 50 tokens, a linear head."""

    class BagOfWords(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.head = nn.Linear(dim, 2)

        def forward(self, tokens):
            return self.head(self.embed(tokens).mean(1))

    return BagOfWords()


def lstm_lm(nn, vocab=1000, dim=64, hidden=128):
    """Embedding -> LSTM -> Linear over the vocabulary at every position."""

    class LanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.lstm = nn.LSTM(dim, hidden, batch_first=True)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, tokens):
            out, _ = self.lstm(self.embed(tokens))
            return self.head(out).reshape(-1, vocab)

    return LanguageModel()


def autoencoder(nn):
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU(),
        nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 784), nn.Sigmoid(),
    )  # fmt: skip


def bn1d_mlp(nn):
    """BatchNorm1d and LeakyReLU between the layers (a tabular-data favourite)."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.1),
        nn.Linear(256, 128), nn.BatchNorm1d(128), nn.SiLU(), nn.Linear(128, 10),
    )  # fmt: skip


def conv_decoder(nn):
    """A small convolutional autoencoder: stride-2 convolutions down, ConvTranspose2d up."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid(),
    )  # fmt: skip


def binary_mlp(nn):
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 1))  # fmt: skip


# ---- data -------------------------------------------------------------------------------

_MNIST = {}


def mnist(batch):
    def make(rng):
        if not _MNIST:
            x, y, _, _ = load()
            _MNIST.update(x=x, y=y)
        index = rng.choice(len(_MNIST["x"]), batch, replace=False)
        return _MNIST["x"][index], _MNIST["y"][index]

    return make


def mnist_self(batch):
    """MNIST images as their own targets (the autoencoder), flattened."""

    def make(rng):
        x, _ = mnist(batch)(rng)
        return x, x.reshape(batch, -1)

    return make


def mnist_images_self(batch):
    """MNIST images as their own targets, kept as (N, 1, 28, 28)."""

    def make(rng):
        x, _ = mnist(batch)(rng)
        return x, x

    return make


def random_classes(shape, classes):
    def make(rng):
        x = rng.standard_normal(shape, dtype=np.float32)
        return x, rng.integers(0, classes, shape[0])

    return make


def random_binary(batch, features):
    def make(rng):
        x = rng.standard_normal((batch, features), dtype=np.float32)
        return x, (x[:, :1] > 0).astype(np.float32)

    return make


def random_tokens(batch, length, vocab, classes=None):
    """Token ids; targets are classes (one per sequence) or the next token at each position."""

    def make(rng):
        tokens = rng.integers(0, vocab, (batch, length))
        if classes:
            return tokens, rng.integers(0, classes, batch)
        return tokens, np.roll(tokens, -1, axis=1).reshape(-1)

    return make


# ---- optimizers and losses --------------------------------------------------------------


def adam(optim, params):
    return optim.Adam(params, lr=1e-3)


def sgd_momentum(optim, params):
    return optim.SGD(params, lr=0.05, momentum=0.9)


def cross_entropy(F, out, y):
    return F.cross_entropy(out, y)


def mse(F, out, y):
    return F.mse_loss(out, y)


def bce_logits(F, out, y):
    return F.binary_cross_entropy_with_logits(out, y)


CASES = [
    Case("mlp_sgd", mlp, sgd_momentum, cross_entropy, mnist(128)),
    Case("mlp_act_dropout", act_mlp, adam, cross_entropy, mnist(128)),
    Case("mlp_layernorm", layernorm_mlp, adam, cross_entropy, mnist(128)),
    Case("mlp_rmsprop", mlp, lambda o, p: o.RMSprop(p, lr=1e-3), cross_entropy, mnist(128)),
    Case("mlp_adagrad", mlp, lambda o, p: o.Adagrad(p, lr=1e-2), cross_entropy, mnist(128)),
    Case("mlp_adamw", mlp, lambda o, p: o.AdamW(p, lr=1e-3), cross_entropy, mnist(128)),
    Case("mlp_inference", mlp, adam, cross_entropy, mnist(256), inference=True),
    Case("cnn_bn_dropout", bn_cnn, adam, cross_entropy, mnist(64)),
    Case("cnn_strided", strided_cnn, sgd_momentum, cross_entropy, mnist(64)),
    Case("conv1d", conv1d_net, adam, cross_entropy, random_classes((64, 8, 64), 5)),
    Case("gru", recurrent_classifier("GRU"), adam, cross_entropy, random_classes((64, 20, 16), 5)),
    Case("rnn", recurrent_classifier("RNN"), adam, cross_entropy, random_classes((64, 20, 16), 5)),
    Case("bag_of_words", bag_of_words, adam, cross_entropy, random_tokens(64, 50, 20000, 2)),
    Case("lstm_lm", lstm_lm, adam, cross_entropy, random_tokens(32, 20, 1000)),
    Case("autoencoder", autoencoder, adam, mse, mnist_self(128)),
    Case("mlp_bn1d_silu", bn1d_mlp, adam, cross_entropy, mnist(128)),
    Case("conv_autoencoder", conv_decoder, adam, mse, mnist_images_self(64)),
    Case("bce_binary", binary_mlp, adam, bce_logits, random_binary(128, 32)),
]


# ---- timing -----------------------------------------------------------------------------


def train_steps(lib, F, model, optimizer, loss_fn, batches, steps):
    """The plain loop most scripts write: forward, loss, zero_grad, backward, step."""
    model.train()
    for i in range(steps):
        x, y = batches[i % len(batches)]
        loss = loss_fn(F, model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def infer_steps(lib, F, model, optimizer, loss_fn, batches, steps):
    model.eval()
    with lib.no_grad():
        for i in range(steps):
            model(batches[i % len(batches)][0])


def run_case(case, rounds, steps, settle, clock):
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    arrays = [case.data(rng) for _ in range(BATCHES)]
    sides = {}
    for lib, nn, F, optim in ((torch, torch.nn, torch.nn.functional, torch.optim),
                              (gw, gw.nn, gw.nn.functional, gw.optim)):  # fmt: skip
        model = case.build(nn)
        if lib is gw:
            model.load_state_dict(sides["torch"][2].state_dict())
        batches = [(lib.from_numpy(x), lib.from_numpy(y)) for x, y in arrays]
        sides[lib.__name__] = (lib, F, model, case.optimizer(optim, model.parameters()))
        sides[lib.__name__] += (case.loss, batches)
    run = infer_steps if case.inference else train_steps
    times = {"gradwork": [], "torch": []}
    for name in times:  # warm-up: lazy optimizer state, allocator, BLAS threads
        run(*sides[name], 3)
    for _ in range(rounds):
        for name in times:  # interleaved: noise hits both alike
            time.sleep(settle)
            start = clock()
            run(*sides[name], steps)
            times[name].append((clock() - start) / steps * 1e3)
    gw_ms, torch_ms = min(times["gradwork"]), min(times["torch"])
    return {"case": case.name, "gradwork_ms": gw_ms, "torch_ms": torch_ms,
            "ratio": gw_ms / torch_ms, "all": times}  # fmt: skip


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "nan"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="1", help="BLAS and torch threads (default 1)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default=None,
                        help="'cpu' (this process's CPU time; the default with 1 thread) or "
                        "'wall' (the default with more)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--settle", type=float, default=0.2, help="pause before each round, s")
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.clock = args.clock or ("cpu" if _THREADS == "1" else "wall")
    import torch

    torch.set_num_threads(int(_THREADS))
    chosen = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {c.name for c in CASES}
    if unknown:
        raise SystemExit(f"unknown case(s) {sorted(unknown)}: choose from "
                         f"{[c.name for c in CASES]}")  # fmt: skip
    before = load_average()
    print(f"{'case':18}{'gw ms':>9}{'torch ms':>10}{'ratio':>7}")
    results = []
    for case in chosen:
        r = run_case(case, args.rounds, args.steps, args.settle, CLOCKS[args.clock])
        results.append(r)
        print(f"{r['case']:18}{r['gradwork_ms']:9.2f}{r['torch_ms']:10.2f}{r['ratio']:7.2f}",
              flush=True)  # fmt: skip
    after = load_average()
    print(f"\n{_THREADS} thread(s), {args.clock} time, "
          f"gradwork kernels {gw.ops.kernels.backend_name()}, "
          f"torch {torch.__version__}, numpy {np.__version__}, "
          f"load average before/after: {before} / {after}")  # fmt: skip
    print(
        "ranked by ratio:",
        ", ".join(
            f"{r['case']} {r['ratio']:.2f}" for r in sorted(results, key=lambda r: -r["ratio"])
        ),
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    record = {"threads": _THREADS, "clock": args.clock, "load_average": [before, after],
              "results": results}  # fmt: skip
    args.json.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
