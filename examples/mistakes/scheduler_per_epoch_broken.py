"""A schedule built for batches, stepped every epoch (broken): flagged at the MISTAKE line.

Run: python examples/mistakes/scheduler_per_epoch_broken.py

OneCycleLR(epochs=..., steps_per_epoch=len(loader)) stepped once an epoch never leaves its warm-up.
"""

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch

gw.manual_seed(0)
loader = data.DataLoader(data.make_moons(256, seed=0), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()
scheduler = optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=0.05, epochs=4, steps_per_epoch=len(loader)
)

with watch() as watcher:
    for _epoch in range(4):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        scheduler.step()  # MISTAKE

for finding in watcher.findings:
    print(finding)
