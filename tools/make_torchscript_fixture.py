"""Makes the TorchScript fixture used by canopy-model's import tests.

Run with the CPU torch wheel shipped on the build machine:
  python3 -m venv --system-site-packages V && V/bin/pip install --no-index --no-deps /opt/wheels/torch-*cpu*.whl
  V/bin/python tools/make_torchscript_fixture.py canopy-model/src/test/resources/fixtures
Writes tiny-cnn.pt (traced), tiny-cnn.json (import metadata) and tiny-cnn-expected.json
(PyTorch's own probabilities for a fixed input, which the Java test compares against).
"""
import json
import sys

import torch
import torch.nn as nn

out = sys.argv[1]
torch.manual_seed(0)


class TinyCnn(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


model = TinyCnn().eval()
example = torch.linspace(-1, 1, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32)
traced = torch.jit.trace(model, example)
traced.save(f"{out}/tiny-cnn.pt")
with torch.no_grad():
    probs = torch.softmax(traced(example), dim=1)
with open(f"{out}/tiny-cnn-expected.json", "w") as f:
    json.dump({"input": "linspace(-1,1,2*3*32*32)", "probabilities": probs.flatten().tolist()}, f)
with open(f"{out}/tiny-cnn.json", "w") as f:
    json.dump({"classes": ["native_grass", "invasive_weed", "shrub", "bare_soil", "water"],
               "input_size": 32, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
               "architecture": "tiny-cnn"}, f, indent=2)
print("wrote fixtures to", out, "with torch", torch.__version__)
