"""The same batch every step (broken): is flagged at the line marked MISTAKE.

Run: python examples/mistakes/same_batch_broken.py

One next(iter(loader)) before the loop: every step trains on that one batch.
"""

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch

gw.manual_seed(0)
loader = data.DataLoader(data.make_moons(256, seed=0), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()

with watch() as watcher:
    x, y = next(iter(loader))
    for _step in range(16):
        optimizer.zero_grad()
        loss = criterion(model(x), y)  # MISTAKE
        loss.backward()
        optimizer.step()

for finding in watcher.findings:
    print(finding)
