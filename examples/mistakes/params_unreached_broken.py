"""Parameters the loss never reaches (broken): is flagged at the line marked MISTAKE.

Run: python examples/mistakes/params_unreached_broken.py

A layer run under no_grad gets no gradient, although the optimizer was given it.
"""

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch

gw.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(2, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        with gw.no_grad():
            h = self.embed(x)
        return self.head(h.relu())


loader = data.DataLoader(data.make_moons(256, seed=0), batch_size=32, shuffle=True)
model = Net()
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()

with watch() as watcher:
    for _epoch in range(2):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()  # MISTAKE (the finding names the backward)
            optimizer.step()

for finding in watcher.findings:
    print(finding)
