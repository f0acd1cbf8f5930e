"""An ordinary PyTorch training script, run by gradwork: only the imports changed.

The body below is written as torch's tutorials write it (datasets and loaders
with workers, a CNN, AdamW with a OneCycle schedule, gradient clipping, a
checkpoint saved with `torch.save(model.state_dict(), path)` and loaded back,
evaluation under `no_grad`). With torch installed, running it with
`--torch` executes the very same code on torch, for comparison.

    python examples/pytorch_style.py            # gradwork
    python examples/pytorch_style.py --torch    # the same script on torch
"""

import os
import sys
import tempfile

import numpy as np

if "--torch" in sys.argv:
    import torch
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset
else:
    from gradwork.utils.data import DataLoader, TensorDataset

    import gradwork as torch
    from gradwork import nn
    from gradwork.nn import functional as F


def digits():
    """The 8x8 digits bundled with gradwork, as plain arrays (both libraries read them)."""
    from gradwork.data import load_digits

    images, labels = load_digits().tensors
    return np.asarray(images), np.asarray(labels)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.dropout = nn.Dropout(0.25)
        self.fc = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(torch.flatten(x, 1))
        return self.fc(x)


def evaluate(model, loader):
    model.eval()
    correct, total, loss = 0, 0, 0.0
    with torch.no_grad():
        for images, labels in loader:
            output = model(images)
            loss += F.cross_entropy(output, labels, reduction="sum").item()
            correct += (output.argmax(dim=1) == labels).sum().item()
            total += labels.shape[0]
    return loss / total, correct / total


def main(epochs=8):
    torch.manual_seed(0)
    images, labels = digits()
    order = np.random.default_rng(0).permutation(len(labels))
    train_rows, test_rows = order[:1500], order[1500:]
    train_set = TensorDataset(torch.tensor(images[train_rows]), torch.tensor(labels[train_rows]))
    test_set = TensorDataset(torch.tensor(images[test_rows]), torch.tensor(labels[test_rows]))
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True, num_workers=2)
    test_loader = DataLoader(test_set, batch_size=256)

    model = Net()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=1e-2, total_steps=epochs * len(train_loader)
    )
    for epoch in range(epochs):
        model.train()
        for images_batch, labels_batch in train_loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images_batch), labels_batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            scheduler.step()
        test_loss, accuracy = evaluate(model, test_loader)
        print(f"epoch {epoch + 1}: test loss {test_loss:.4f}, accuracy {accuracy:.3f}")

    path = os.path.join(tempfile.mkdtemp(), "digits_cnn.pt")
    torch.save(model.state_dict(), path)
    restored = Net()
    restored.load_state_dict(torch.load(path))
    _, restored_accuracy = evaluate(restored, test_loader)
    assert restored_accuracy == accuracy, "the checkpoint must give the same model back"
    return accuracy


if __name__ == "__main__":
    print(f"final accuracy {main():.3f}")
