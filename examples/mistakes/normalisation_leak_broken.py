"""Data normalised with statistics of every split (broken): is flagged at the line marked MISTAKE.

Run: python examples/mistakes/normalisation_leak_broken.py

The mean and std include the validation and test samples: their scores are optimistic.
"""

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch

gw.manual_seed(0)
moons = data.make_moons(400, seed=0)
x, y = moons.tensors
x = (x - x.mean(dim=0)) / x.std(dim=0)  # MISTAKE
train_set, val_set, test_set = data.train_val_test_split(data.TensorDataset(x, y), seed=0)

loader = data.DataLoader(train_set, batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()

with watch() as watcher:
    for _epoch in range(2):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()

for finding in watcher.findings:
    print(finding)
