"""Autoencoders on handwritten digits: dense and convolutional, plain and denoising.

Run: python examples/autoencoders.py [--quick] [--out runs/autoencoders/reconstructions.png]

An autoencoder squeezes an image through a small code and rebuilds it. The
dense one maps 784 pixels to a 32-number bottleneck; the convolutional one
uses strided Conv2d layers down to 32 x 7 x 7 and ConvTranspose2d layers back
up. A *denoising* autoencoder is trained to rebuild the clean image from a
corrupted one (Gaussian noise, or pixels masked to zero), so it learns what
digits look like rather than to copy its input. The script prints the mean
squared reconstruction error on clean and corrupted test images for each
model, and writes a picture (with matplotlib, `pip install "gradwork[plot]"`) into
the runs/ folder: inputs, corrupted inputs, then what the plain and the denoising
models rebuild from the corrupted inputs, each row labelled.

Data: the real MNIST test set (10,000 images: 8,000 to train, 2,000 to test)
from shared/data/mnist when present, else the bundled 8x8 digits.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import gradwork as gw
from gradwork import nn, optim, plots
from gradwork.data import load_mnist_arrays

NOISE_STD, MASK_FRACTION = 0.4, 0.4
PICTURE = "runs/autoencoders/reconstructions.png"  # runs/ holds what scripts write


def find_mnist() -> Path | None:
    here = Path(__file__).resolve().parent
    candidates = [os.environ.get("GRADWORK_MNIST", "")]
    candidates += [str(p / "shared" / "data" / "mnist") for p in here.parents]
    for folder in candidates:
        if folder and (Path(folder) / "t10k-images-idx3-ubyte.gz").exists():
            return Path(folder)
    return None


def load_images() -> tuple[np.ndarray, np.ndarray]:
    """(train, test) float32 images (N, 1, H, W) in [0, 1]."""
    folder = find_mnist()
    if folder is None:
        from gradwork.data import load_digits

        images = np.asarray(load_digits().tensors[0].array, np.float32)
        images = images / images.max()
        return images[:1500], images[1500:]
    images, _ = load_mnist_arrays(folder)  # float32 (N, 1, 28, 28) in [0, 1]
    return images[:8000], images[8000:]


def corrupt(images: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "gaussian":
        noisy = images + NOISE_STD * rng.standard_normal(images.shape).astype(np.float32)
        return np.clip(noisy, 0.0, 1.0)
    if kind == "masking":
        return images * (rng.random(images.shape) >= MASK_FRACTION).astype(np.float32)
    return images


def dense_autoencoder(pixels: int) -> nn.Module:
    encoder = [nn.Flatten(), nn.Linear(pixels, 256), nn.ReLU(), nn.Linear(256, 32)]
    decoder = [nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, pixels), nn.Sigmoid()]
    return nn.Sequential(*encoder, *decoder)  # the code between them: 32 numbers an image


def conv_autoencoder() -> nn.Module:
    encoder = [
        nn.Conv2d(1, 16, 3, stride=2, padding=1),  # 28 x 28 -> 16 x 14 x 14
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),  # -> 32 x 7 x 7
        nn.ReLU(),
    ]
    decoder = [
        nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1),  # -> 14 x 14
        nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),  # -> 28 x 28
        nn.Sigmoid(),
    ]
    return nn.Sequential(*encoder, *decoder)


def train(model, images, epochs, denoising, rng, batch=32):
    """Minimise MSE(model(input), clean); the input is corrupted when denoising."""
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    criterion = nn.MSELoss()
    for _ in range(epochs):
        order = rng.permutation(len(images))
        for start in range(0, len(images), batch):
            clean = images[order[start : start + batch]]
            source = clean
            if denoising:  # half the batch noisy, half masked
                half = len(clean) // 2
                source = np.concatenate(
                    [corrupt(clean[:half], "gaussian", rng), corrupt(clean[half:], "masking", rng)]
                )
            output = model(gw.tensor(source)).reshape(clean.shape)
            loss = criterion(output, gw.tensor(clean))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


@gw.no_grad()
def reconstruct(model, images: np.ndarray) -> np.ndarray:
    model.eval()
    return model(gw.tensor(images)).array.reshape(images.shape)


def main(quick: bool = False, out: str | None = PICTURE, seed: int = 0) -> dict:
    gw.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_images, test_images = load_images()
    if quick:
        train_images, test_images = train_images[:2000], test_images[:500]
    epochs = 2
    pixels = int(np.prod(train_images.shape[1:]))
    test_rng = np.random.default_rng(seed + 1)
    kinds = ("clean", "gaussian", "masking")
    tests = {kind: corrupt(test_images, kind, test_rng) for kind in kinds}
    builders = {"dense": lambda: dense_autoencoder(pixels)}
    if train_images.shape[-1] == 28:  # the conv model's strides fit 28 x 28
        builders["conv"] = conv_autoencoder
    results, pictures = {}, {}
    print(f"{len(train_images)} training and {len(test_images)} test images; test MSE:")
    print(f"{'model':22}{'clean':>9}{'gaussian':>10}{'masking':>9}{'time':>7}")
    for name, build in builders.items():
        for denoising in (False, True):
            label = f"{name} {'denoising' if denoising else 'plain'}"
            start = time.perf_counter()
            model = train(build(), train_images, epochs, denoising, rng)
            errors, rebuilt = {}, {}
            for kind, inputs in tests.items():
                rebuilt[kind] = reconstruct(model, inputs)
                errors[kind] = float(((rebuilt[kind] - test_images) ** 2).mean())
            seconds = time.perf_counter() - start
            results[label], pictures[label] = errors, rebuilt
            print(
                f"{label:22}{errors['clean']:9.4f}{errors['gaussian']:10.4f}"
                f"{errors['masking']:9.4f}{seconds:6.0f}s"
            )
    if out:
        save_picture(out, test_images, tests, pictures)
    return results


def save_picture(path: str, images: np.ndarray, tests: dict, pictures: dict) -> None:
    """Labelled rows: clean, noisy, masked, then each model's rebuild of the noisy and masked."""
    rows = {
        "clean input": images[:, 0],
        f"noisy input (σ = {NOISE_STD})": tests["gaussian"][:, 0],
        f"masked input ({MASK_FRACTION:.0%} zeroed)": tests["masking"][:, 0],
    }
    for label, rebuilt in pictures.items():
        rows[f"{label}: rebuilt noisy"] = rebuilt["gaussian"][:, 0]
        rows[f"{label}: rebuilt masked"] = rebuilt["masking"][:, 0]
    try:
        written = plots.plot_reconstructions(rows, path, "Autoencoders on test digits")
    except plots.PlotsUnavailableError as missing:
        print(f"no picture written: {missing}")
        return
    print(f"wrote {written}: one labelled row per input kind and per model's rebuild")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for the tests")
    parser.add_argument("--out", default=PICTURE, help="where to write the picture")
    arguments = parser.parse_args()
    main(arguments.quick, arguments.out)
