"""A schedule built for epochs, stepped every batch (fixed): is not flagged.

Run: python examples/mistakes/scheduler_per_batch_fixed.py

CosineAnnealingLR(T_max=epochs) stepped per batch runs out of schedule within the first epoch.
"""

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch

gw.manual_seed(0)
loader = data.DataLoader(data.make_moons(640, seed=0), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()
scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=2)  # built for 2 epochs

with watch() as watcher:
    for _epoch in range(2):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        scheduler.step()

for finding in watcher.findings:
    print(finding)
