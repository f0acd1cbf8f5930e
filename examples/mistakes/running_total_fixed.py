"""A running total that keeps every graph alive (fixed): is not flagged.

Run: python examples/mistakes/running_total_fixed.py

`total += loss` adds the tensor (and its graph) to the total; `loss.item()` adds the number.
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
    for _epoch in range(2):
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item()

for finding in watcher.findings:
    print(finding)
