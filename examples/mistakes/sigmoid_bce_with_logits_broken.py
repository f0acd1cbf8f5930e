"""Sigmoid fed into BCEWithLogitsLoss (broken): is flagged at the line marked MISTAKE.

Run: python examples/mistakes/sigmoid_bce_with_logits_broken.py

BCEWithLogitsLoss applies the sigmoid itself; a sigmoid layer before it squashes twice.
"""

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch

gw.manual_seed(0)
loader = data.DataLoader(data.make_moons(256, seed=0), batch_size=32, shuffle=True)
model = nn.Sequential(
    nn.Linear(2, 16),
    nn.ReLU(),
    nn.Linear(16, 1),
    nn.Sigmoid(),  # the mistake; the finding names the line that calls the model
)
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.BCEWithLogitsLoss()

with watch() as watcher:
    for _epoch in range(2):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x).squeeze(1), y.float())  # MISTAKE
            loss.backward()
            optimizer.step()

for finding in watcher.findings:
    print(finding)
