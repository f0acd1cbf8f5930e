"""log_softmax fed into CrossEntropyLoss (fixed): is not flagged.

Run: python examples/mistakes/log_softmax_cross_entropy_fixed.py

CrossEntropyLoss applies log-softmax itself: log_softmax + CrossEntropyLoss means NLLLoss was meant.
"""

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch

gw.manual_seed(0)
loader = data.DataLoader(data.make_moons(256, seed=0), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.NLLLoss()

with watch() as watcher:
    for _epoch in range(2):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x).log_softmax(dim=1), y)
            loss.backward()
            optimizer.step()

for finding in watcher.findings:
    print(finding)
