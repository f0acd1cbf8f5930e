"""zero_grad() missing between steps (broken): is flagged at the line marked MISTAKE.

Run: python examples/mistakes/zero_grad_missing_broken.py

Without zero_grad() each backward adds to the gradients of every earlier step.
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
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()  # MISTAKE
            optimizer.step()

for finding in watcher.findings:
    print(finding)
