"""Labels constant in a batch (broken): is flagged at the line marked MISTAKE.

Run: python examples/mistakes/labels_constant_broken.py

Data sorted by class and not shuffled: each batch holds one class.
"""

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch

gw.manual_seed(0)
moons = data.make_moons(256, seed=0)
x_all, y_all = moons.tensors
order = y_all.argsort()  # sorted by class
loader = data.DataLoader(data.TensorDataset(x_all[order], y_all[order]), batch_size=32)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()

with watch() as watcher:
    for _epoch in range(1):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()  # MISTAKE (the finding names the backward)
            optimizer.step()

for finding in watcher.findings:
    print(finding)
