"""The code of three public PyTorch examples, run unchanged on gradwork.

From pytorch/examples: the MNIST CNN trained with Adadelta and StepLR, the
variational autoencoder, and time-sequence prediction with two LSTMCells and
LBFGS. A few steps each on stand-in data; only the imports differ from
torch's (`--torch` runs the same body on torch).

    python examples/tutorial_shapes.py            # gradwork
    python examples/tutorial_shapes.py --torch    # the same code on torch
"""

import sys

import numpy as np

if "--torch" in sys.argv:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.optim.lr_scheduler import StepLR
else:
    import gradwork as torch
    import gradwork.nn as nn
    import gradwork.nn.functional as F
    import gradwork.optim as optim
    from gradwork.optim.lr_scheduler import StepLR


class Net(nn.Module):  # mnist/main.py
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


class VAE(nn.Module):  # vae/main.py
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


class Sequence(nn.Module):  # time_sequence_prediction/train.py
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)

    def forward(self, input):
        outputs = []
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            outputs += [self.linear(h_t2)]
        return torch.cat(outputs, dim=1)


def train_mnist(images, labels):
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    for _ in range(3):
        optimizer.zero_grad()
        loss = F.nll_loss(model(images), labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return loss.item()


def train_vae(images):
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        optimizer.zero_grad()
        recon, mu, logvar = model(images)
        bce = F.binary_cross_entropy(recon, images.view(-1, 784), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = bce + kld
        loss.backward()
        optimizer.step()
    return loss.item()


def train_sequence(waves):
    inputs, target = torch.from_numpy(waves[:, :-1]), torch.from_numpy(waves[:, 1:])
    model = Sequence()
    model.double()
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(model.parameters(), lr=0.8)

    def closure():
        optimizer.zero_grad()
        loss = criterion(model(inputs), target)
        loss.backward()
        return loss

    for _ in range(2):
        optimizer.step(closure)
    with torch.no_grad():
        return criterion(model(inputs), target).item()


def main():
    torch.manual_seed(1)
    rng = np.random.default_rng(0)
    images = torch.tensor(rng.random((16, 1, 28, 28), dtype=np.float32))
    labels = torch.tensor(rng.integers(0, 10, 16))
    waves = np.sin(np.arange(40)[None, :] / 5.0 + rng.integers(-4, 4, (6, 1)))
    losses = train_mnist(images, labels), train_vae(images), train_sequence(waves)
    mnist, vae, lstm = losses
    print(f"mnist {mnist:.4f}, vae {vae:.1f}, lstm {lstm:.6f}")
    return losses


if __name__ == "__main__":
    main()
