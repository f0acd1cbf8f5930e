"""Validation run in training mode (fixed): is not flagged.

Run: python examples/mistakes/eval_train_mode_fixed.py

Without model.eval() dropout stays on during validation and the scores are noisy.
"""

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch

gw.manual_seed(0)
train_set, val_set = data.random_split(data.make_moons(320, seed=0), [256, 64], seed=0)
loader = data.DataLoader(train_set, batch_size=32, shuffle=True)
val_loader = data.DataLoader(val_set, batch_size=16)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()

with watch() as watcher:
    for epoch in range(2):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        val_loss = 0.0
        model.eval()
        with gw.no_grad():
            for x, y in val_loader:
                val_loss += criterion(model(x), y).item()
        print(f"epoch {epoch}: val loss {val_loss / len(val_loader):.3f}")

for finding in watcher.findings:
    print(finding)
