"""An encoder-decoder LSTM learns to reverse digit sequences of length 3 to 8.

Run: python examples/seq2seq_reverse.py [--quick]

The encoder reads the digits (an Embedding, then an LSTM that is told each
sequence's true length, so its final state is taken at the last real digit).
The decoder starts from that state and writes the digits in reverse order,
then EOS. Training uses teacher forcing: the decoder reads BOS followed by
the correct output, shifted by one, and CrossEntropyLoss(ignore_index=PAD)
ignores the padding. At test time the decoder is greedy: it feeds back its
own best guess, one step at a time, until it writes EOS.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gradwork as gw
from gradwork import nn, optim
from gradwork.nn import utils as nn_utils

PAD, BOS, EOS = 0, 1, 2
DIGIT = 3  # token of digit d is DIGIT + d
VOCAB = DIGIT + 10
SHORTEST, LONGEST = 3, 8


def make_batch(rng: np.random.Generator, size: int) -> dict:
    """Source digits, decoder inputs (BOS + reversed) and targets (reversed + EOS), padded."""
    lengths = rng.integers(SHORTEST, LONGEST + 1, size)
    source = np.full((size, LONGEST), PAD, np.int64)
    decoder_input = np.full((size, LONGEST + 1), PAD, np.int64)
    target = np.full((size, LONGEST + 1), PAD, np.int64)
    for row, length in enumerate(lengths):
        digits = DIGIT + rng.integers(0, 10, length)
        source[row, :length] = digits
        decoder_input[row, : length + 1] = np.concatenate([[BOS], digits[::-1]])
        target[row, : length + 1] = np.concatenate([digits[::-1], [EOS]])
    return {"source": source, "lengths": lengths, "input": decoder_input, "target": target}


class Seq2Seq(nn.Module):
    def __init__(self, embedding: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.source_embedding = nn.Embedding(VOCAB, embedding, padding_idx=PAD)
        self.encoder = nn.LSTM(embedding, hidden, batch_first=True)
        self.target_embedding = nn.Embedding(VOCAB, embedding, padding_idx=PAD)
        self.decoder = nn.LSTM(embedding, hidden, batch_first=True)
        self.output = nn.Linear(hidden, VOCAB)

    def encode(self, source: np.ndarray, lengths: np.ndarray) -> tuple:
        """The encoder's (h, c), taken at each sequence's own last digit."""
        _, state = self.encoder(self.source_embedding(gw.tensor(source)), lengths=lengths)
        return state

    def decode(self, tokens: np.ndarray, state: tuple) -> tuple:
        """Logits (batch, steps, vocab) for the given decoder inputs, and the new state."""
        output, state = self.decoder(self.target_embedding(gw.tensor(tokens)), state)
        return self.output(output), state

    def forward(self, batch: dict) -> gw.Tensor:
        logits, _ = self.decode(batch["input"], self.encode(batch["source"], batch["lengths"]))
        return logits

    @gw.no_grad()
    def greedy(self, source: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Decode one token at a time from BOS; stops when every sequence has written EOS."""
        state = self.encode(source, lengths)
        tokens = np.full((len(source), 1), BOS, np.int64)
        written = np.full((len(source), LONGEST + 1), PAD, np.int64)
        finished = np.zeros(len(source), bool)
        for step in range(LONGEST + 1):
            logits, state = self.decode(tokens, state)
            tokens = logits.array[:, -1].argmax(axis=1)[:, None]
            written[:, step] = np.where(finished, PAD, tokens[:, 0])
            finished |= tokens[:, 0] == EOS
            if finished.all():
                break
        return written


def evaluate(model: Seq2Seq, batch: dict) -> dict:
    """Exact-sequence accuracy and token accuracy (over target tokens, EOS included)."""
    model.eval()
    written = model.greedy(batch["source"], batch["lengths"])
    model.train()
    target = batch["target"]
    real = target != PAD
    exact = np.array([np.array_equal(w, t) for w, t in zip(written, target, strict=True)])
    return {
        "sequence_accuracy": float(exact.mean()),
        "token_accuracy": float((written == target)[real].mean()),
    }


def main(quick: bool = False, seed: int = 0) -> dict:
    gw.manual_seed(seed)
    rng = np.random.default_rng(seed)
    steps, batch_size = (150, 32) if quick else (1500, 64)
    model = Seq2Seq()
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    held_out = make_batch(np.random.default_rng(seed + 1), 300 if quick else 1000)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        batch = make_batch(rng, batch_size)
        logits = model(batch)
        loss = criterion(logits.reshape(-1, VOCAB), gw.tensor(batch["target"].reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        nn_utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % (steps // 5) == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}  ({time.perf_counter() - start:.0f} s)")
    metrics = evaluate(model, held_out)
    print(
        f"held-out: sequence accuracy {metrics['sequence_accuracy']:.3f}, "
        f"token accuracy {metrics['token_accuracy']:.3f} "
        f"({len(held_out['source'])} sequences of length {SHORTEST}-{LONGEST}, greedy decoding)"
    )
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for the tests")
    main(parser.parse_args().quick)
