"""The code of PyTorch's beginner tutorials, run on gradwork with only the imports changed.

From pytorch/tutorials:

* "Quickstart" (beginner_source/basics/quickstart_tutorial.py): a Flatten +
  Linear/ReLU stack trained with SGD on 28 x 28 images in ten classes, saved
  with `torch.save(model.state_dict(), "model.pth")` and loaded back;
* "Training a classifier" (beginner_source/blitz/cifar10_tutorial.py): the
  LeNet-style CNN on 3 x 32 x 32 images, SGD with momentum, the running-loss
  printout and the per-class accuracy;
* "Defining new autograd Functions" (examples_autograd/polynomial_custom_function.py)
  and its "nn module" and "optim" siblings (examples_nn/polynomial_nn.py,
  polynomial_optim.py): a cubic fitted to sin(x).

There is no internet here, so the data are stand-ins: for FashionMNIST the
real MNIST test set (10,000 digits) from shared/data/mnist when present, else
a synthetic 10-class set of 28 x 28 images; for CIFAR-10 a synthetic 10-class
set of 3 x 32 x 32 images. `--torch` runs the same body on torch.

    python examples/tutorial_basics.py            # gradwork
    python examples/tutorial_basics.py --torch    # the same code on torch
    python examples/tutorial_basics.py --quick    # small sizes, a few seconds
"""

import gzip
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

if "--torch" in sys.argv:
    import torch
    import torch.nn.functional as F
    import torch.optim as optim
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
else:
    from gradwork.utils.data import DataLoader, TensorDataset

    import gradwork as torch
    import gradwork.nn.functional as F
    import gradwork.optim as optim
    from gradwork import nn

# ----------------------------------------------------------------------------
# Stand-in data
# ----------------------------------------------------------------------------
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
CIFAR_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def find_mnist():
    """The folder with the MNIST test files ($GRADWORK_MNIST or a shared/data/mnist above us)."""
    candidates = [os.environ.get("GRADWORK_MNIST", "")]
    candidates += [str(p / "shared" / "data" / "mnist") for p in Path(__file__).resolve().parents]
    for folder in candidates:
        if folder and (Path(folder) / "t10k-images-idx3-ubyte.gz").exists():
            return Path(folder)
    return None


def read_idx(path):
    """An IDX file as published (gzip): magic bytes, big-endian sizes, then uint8 data."""
    with gzip.open(path) as stream:
        data = stream.read()
    ndim = data[3]
    shape = np.frombuffer(data, ">u4", ndim, 4).astype(np.int64)
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def synthetic_images(n, shape, rng):
    """n images in ten classes: a fixed random pattern per class under uniform noise, in [0, 1]."""
    prototypes = rng.random((10, *shape))
    labels = rng.integers(0, 10, n)
    images = 0.5 * prototypes[labels] + 0.5 * rng.random((n, *shape))
    return images.astype(np.float32), labels.astype(np.int64)


def fashion_like_data(n_train, n_test, seed=0):
    """((train images, labels), (test images, labels)): float32 (N, 1, 28, 28) in [0, 1], int64."""
    folder = find_mnist()
    if folder is None:
        rng = np.random.default_rng(seed)
        images, labels = synthetic_images(n_train + n_test, (1, 28, 28), rng)
    else:
        images = read_idx(folder / "t10k-images-idx3-ubyte.gz")[:, None] / np.float32(255)
        labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    train = images[:n_train], labels[:n_train]
    test = images[len(images) - n_test :], labels[len(labels) - n_test :]
    return train, test


def cifar_like_data(n_train, n_test, seed=1):
    """Synthetic CIFAR-shaped arrays, normalized as the tutorial's Normalize((0.5,)*3, (0.5,)*3)."""
    images, labels = synthetic_images(n_train + n_test, (3, 32, 32), np.random.default_rng(seed))
    images = (images - 0.5) / 0.5
    return (images[:n_train], labels[:n_train]), (images[n_train:], labels[n_train:])


# ----------------------------------------------------------------------------
# "Quickstart"
# ----------------------------------------------------------------------------
device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)

        # Compute prediction error
        pred = model(X)
        loss = loss_fn(pred, y)

        # Backpropagation
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        if batch % 100 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss, correct  # (ours: the test compares them with torch's)


def quickstart(n_train=8000, n_test=2000, epochs=5, batch_size=64, folder="."):
    """The Quickstart's script; returns the (loss, accuracy) of the reloaded model."""
    (train_x, train_y), (test_x, test_y) = fashion_like_data(n_train, n_test)
    training_data = TensorDataset(torch.tensor(train_x), torch.tensor(train_y))
    test_data = TensorDataset(torch.tensor(test_x), torch.tensor(test_y))
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)
    for X, y in test_dataloader:
        print(f"Shape of X [N, C, H, W]: {X.shape}")
        print(f"Shape of y: {y.shape} {y.dtype}")
        break
    print(f"Using {device} device")
    model = NeuralNetwork().to(device)
    print(model)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    for t in range(epochs):
        print(f"Epoch {t + 1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer)
        test(test_dataloader, model, loss_fn)
    print("Done!")

    path = os.path.join(folder, "model.pth")
    torch.save(model.state_dict(), path)
    print("Saved PyTorch Model State to model.pth")
    model = NeuralNetwork().to(device)
    model.load_state_dict(torch.load(path, weights_only=True))

    classes = FASHION_CLASSES
    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x)
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
        print(f'Predicted: "{predicted}", Actual: "{actual}"')
    return test(test_dataloader, model, loss_fn)


# ----------------------------------------------------------------------------
# "Training a classifier" (CIFAR-10)
# ----------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def train_classifier(net, trainloader, epochs=2, every=2000):
    """The tutorial's loop (it prints every 2000 mini-batches); returns the last printed loss."""
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    last = float("nan")
    for epoch in range(epochs):  # loop over the dataset multiple times
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data  # data is a list of [inputs, labels]
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if i % every == every - 1:  # print every 2000 mini-batches
                last = running_loss / every
                print(f"[{epoch + 1}, {i + 1:5d}] loss: {last:.3f}")
                running_loss = 0.0
    print("Finished Training")
    return last


def evaluate_classifier(net, testloader, classes=CIFAR_CLASSES):
    """Overall accuracy (in %, floored as the tutorial prints it) and the per-class accuracies."""
    correct = 0
    total = 0
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f"Accuracy of the network on the {total} test images: {100 * correct // total} %")

    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            for label, prediction in zip(labels, predictions, strict=True):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    per_class = {}
    for classname, correct_count in correct_pred.items():
        accuracy = 100 * float(correct_count) / max(total_pred[classname], 1)
        per_class[classname] = accuracy
        print(f"Accuracy for class: {classname:5s} is {accuracy:.1f} %")
    return 100 * correct // total, per_class


def classifier(n_train=5000, n_test=1000, epochs=2, every=2000, num_workers=2, folder="."):
    """The blitz tutorial's script; returns (last running loss, accuracy %, per-class %)."""
    (train_x, train_y), (test_x, test_y) = cifar_like_data(n_train, n_test)
    batch_size = 4
    trainset = TensorDataset(torch.tensor(train_x), torch.tensor(train_y))
    trainloader = DataLoader(trainset, batch_size=batch_size, shuffle=True, num_workers=num_workers)
    testset = TensorDataset(torch.tensor(test_x), torch.tensor(test_y))
    testloader = DataLoader(testset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    classes = CIFAR_CLASSES

    net = Net()
    loss = train_classifier(net, trainloader, epochs, every)
    PATH = os.path.join(folder, "cifar_net.pth")
    torch.save(net.state_dict(), PATH)

    dataiter = iter(testloader)
    images, labels = next(dataiter)
    print("GroundTruth: ", " ".join(f"{classes[labels[j]]:5s}" for j in range(4)))
    net = Net()
    net.load_state_dict(torch.load(PATH, weights_only=True))
    outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    print("Predicted: ", " ".join(f"{classes[predicted[j]]:5s}" for j in range(4)))
    return (loss, *evaluate_classifier(net, testloader, classes))


# ----------------------------------------------------------------------------
# "Defining new autograd Functions", and the nn and optim variants
# ----------------------------------------------------------------------------
class LegendrePolynomial3(torch.autograd.Function):
    """P3(x) = (5x^3 - 3x) / 2 as a custom autograd Function (forward and backward on Tensors)."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input**3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input**2 - 1)


def fit_custom_function(steps=2000):
    """Returns (final loss, (a, b, c, d)) of y = a + b * P3(c + d x)."""
    dtype = torch.float
    # The tutorial passes device=torch.device("cpu") to linspace and full too:
    # gradwork's factories do not take device= yet (reported).

    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)

    # 4 weights: y = a + b * P3(c + d * x), initialized not too far from the result.
    a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=dtype, requires_grad=True)

    learning_rate = 5e-6
    for t in range(steps):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            print(t, loss.item())
        loss.backward()

        # Update weights using gradient descent
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad

            # Manually zero the gradients after updating weights
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None

    print(f"Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)")
    return loss.item(), (a.item(), b.item(), c.item(), d.item())


def polynomial_model():
    # Flatten(0, 1) turns the (N, 1) output of the Linear layer into y's shape (N,).
    return torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))


def _polynomial_data():
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    # y is a linear function of (x, x^2, x^3): one Linear layer fits it.
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    return xx, y


def _coefficients(model):
    linear_layer = model[0]
    return (linear_layer.bias.item(), linear_layer.weight[:, 0].item(),
            linear_layer.weight[:, 1].item(), linear_layer.weight[:, 2].item())  # fmt: skip


def fit_nn(steps=2000, model=None):
    """polynomial_nn.py: manual updates of an nn.Module's parameters; (loss, coefficients)."""
    xx, y = _polynomial_data()
    model = polynomial_model() if model is None else model
    loss_fn = torch.nn.MSELoss(reduction="sum")

    learning_rate = 1e-6
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            print(t, loss.item())
        model.zero_grad()
        loss.backward()

        # Update the weights using gradient descent.
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad

    bias, w1, w2, w3 = _coefficients(model)
    print(f"Result: y = {bias} + {w1} x + {w2} x^2 + {w3} x^3")
    return loss.item(), (bias, w1, w2, w3)


def fit_optim(steps=2000, model=None):
    """polynomial_optim.py: the same fit by RMSprop; (loss, coefficients)."""
    xx, y = _polynomial_data()
    model = polynomial_model() if model is None else model
    loss_fn = torch.nn.MSELoss(reduction="sum")

    learning_rate = 1e-3
    optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            print(t, loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    bias, w1, w2, w3 = _coefficients(model)
    print(f"Result: y = {bias} + {w1} x + {w2} x^2 + {w3} x^3")
    return loss.item(), (bias, w1, w2, w3)


def main(quick=False):
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        if quick:
            quick_results = quickstart(1024, 512, epochs=1, folder=folder)
            cifar = classifier(400, 200, epochs=1, every=50, num_workers=0, folder=folder)
            steps = 300
        else:
            quick_results = quickstart(folder=folder)
            cifar = classifier(folder=folder, every=500)
            steps = 2000
    results = {
        "quickstart": quick_results,
        "classifier": cifar[:2],
        "custom_function": fit_custom_function(steps)[0],
        "nn": fit_nn(steps)[0],
        "optim": fit_optim(steps)[0],
    }
    print(results)
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
