"""What an emulator replica runs: a sleep model, a burn model or a small torch CNN.

- :class:`SleepModel` waits l(b, c): it emulates any number of cores, even more than
  the machine has, and uses almost no CPU.
- :class:`BurnModel` spends real CPU following l(b, c) = gamma*b/c + delta*b + epsilon/c
  + eta: ``gamma*b + epsilon`` CPU-ms of parallel work split over ``ceil(c)`` threads,
  then ``delta*b + eta`` CPU-ms on one thread. The core limit (cgroup quota, throttler)
  decides how long that takes, so at ``c`` allowed cores the parallel part lasts
  ``(gamma*b + epsilon)/c`` ms. Each thread burns numpy ufunc chunks (which release the
  GIL, so the threads really run in parallel) until its own CPU clock
  (``time.thread_time``) has advanced by its share: the CPU spent is exact whatever else
  runs on the machine, where a calibrated iteration count would drift with contention.
- :class:`TorchModel` runs one of :data:`TORCH_VARIANTS`, ResNet-style CNNs of
  increasing depth with random weights (fixed seed) on 3x64x64 inputs; their accuracy
  metadata is the published top-1 of the ResNet they imitate (:func:`torch_accuracy`).
  Torch's intra-op threads follow the cores: ``max(1, ceil(c))``.

Chapter: 00_tour ("the emulator").

Examples
--------
>>> from ssloserve.latency import LatencyModel
>>> m = SleepModel(LatencyModel(0, 0, 2.0, 1.0))
>>> m.set_cores(2.0)
>>> m.expected_ms(1)
2.0
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from .limits.limiters import threads_for

__all__ = [
    "ModelSpec",
    "SleepModel",
    "BurnModel",
    "TorchModel",
    "TORCH_VARIANTS",
    "WIDTHS",
    "IMAGE",
    "torch_accuracy",
    "build_torch_model",
    "load_model",
    "burn_cpu_ms",
]

#: Torch variants: name -> (block kind, blocks per stage, the ResNet whose accuracy it borrows).
TORCH_VARIANTS = {
    "resnet_tiny18": ("basic", (2, 2, 2, 2), "resnet18"),
    "resnet_tiny34": ("basic", (3, 4, 6, 3), "resnet34"),
    "resnet_tiny50": ("bottleneck", (3, 4, 6, 3), "resnet50"),
}

#: Channels of the four stages of every torch variant.
WIDTHS = (24, 48, 96, 192)
#: Input side (pixels) of the torch variants: 3 x 64 x 64 images.
IMAGE = 64

_CHUNK = np.random.default_rng(0).random(4096)


@dataclass(frozen=True)
class ModelSpec:
    """A picklable description of a replica's model.

    Parameters
    ----------
    kind : ``"sleep"``, ``"burn"`` or ``"torch"``
    name : the variant name (for torch: a key of :data:`TORCH_VARIANTS`)
    params : (gamma, delta, epsilon, eta) of the LatencyModel, for sleep and burn
    image : input side in pixels (torch)
    """

    kind: str
    name: str = ""
    params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    image: int = IMAGE

    @classmethod
    def from_variant(cls, variant) -> ModelSpec:
        """The spec of a :class:`~ssloserve.pipeline.Variant` (its ``model`` field decides)."""
        kind = variant.model
        if kind in ("sleep", "burn"):
            lat = variant.latency
            params = tuple(float(x) for x in (lat.gamma, lat.delta, lat.epsilon, lat.eta))
            return cls(kind, variant.name, params)
        if kind in TORCH_VARIANTS:
            return cls("torch", kind)
        raise ValueError(
            f"variant {variant.name!r}: unknown model {kind!r}; use 'sleep', 'burn' or one of "
            f"{list(TORCH_VARIANTS)}"
        )

    @property
    def uses_cpu(self) -> bool:
        """True when the model's speed depends on real cores (burn, torch)."""
        return self.kind != "sleep"


def burn_cpu_ms(ms: float) -> None:
    """Spend ``ms`` milliseconds of this thread's CPU time in GIL-free numpy work."""
    if ms <= 0:
        return
    out = np.empty_like(_CHUNK)
    end = time.thread_time() + ms / 1000.0
    while time.thread_time() < end:
        np.sqrt(_CHUNK, out=out)
        np.sin(out, out=out)


class _Base:
    def __init__(self):
        self.cores = 1.0

    def load(self) -> None:
        """Do the model's cold-start work."""

    def set_cores(self, cores: float) -> None:
        """Follow a new core limit (thread count = ``max(1, ceil(cores))``)."""
        self.cores = float(cores)

    def infer(self, batch: int, payload_bytes=None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release worker threads."""


class SleepModel(_Base):
    """Waits l(b, c) ms: emulates ``c`` cores without using them."""

    def __init__(self, latency):
        super().__init__()
        self.latency = latency

    def expected_ms(self, batch: int) -> float:
        return float(self.latency.latency(batch, self.cores))

    def infer(self, batch: int, payload_bytes=None) -> None:
        end = time.monotonic() + self.expected_ms(batch) / 1000.0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(left)


class BurnModel(_Base):
    """Spends the CPU of l(b, c): parallel part over ``ceil(c)`` threads, then serial part.

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> m = BurnModel(LatencyModel(1.0, 0.0, 1.0, 0.5))
    >>> m.set_cores(2.0)
    >>> t = time.thread_time(); m.infer(2); m.close()
    >>> m.cpu_ms(2)
    3.5
    """

    def __init__(self, latency):
        super().__init__()
        self.latency = latency
        self._workers: list[threading.Thread] = []
        self._go: list[threading.Event] = []
        self._share: list[float] = []
        self._done = threading.Semaphore(0)
        self._closing = False
        self._ensure_threads(1)

    def cpu_ms(self, batch: int) -> float:
        """CPU-ms one batch costs: gamma*b + epsilon + delta*b + eta."""
        g, d, e, h = self.latency.gamma, self.latency.delta, self.latency.epsilon, self.latency.eta
        return float(g * batch + e + d * batch + h)

    def _worker(self, k: int) -> None:
        while True:
            self._go[k].wait()
            self._go[k].clear()
            if self._closing:
                return
            burn_cpu_ms(self._share[k])
            self._done.release()

    def _ensure_threads(self, n: int) -> None:
        while len(self._workers) < n:
            k = len(self._workers)
            self._go.append(threading.Event())
            self._share.append(0.0)
            t = threading.Thread(target=self._worker, args=(k,), daemon=True, name=f"burn{k}")
            self._workers.append(t)
            t.start()

    def set_cores(self, cores: float) -> None:
        super().set_cores(cores)
        self._ensure_threads(threads_for(cores))

    def infer(self, batch: int, payload_bytes=None) -> None:
        lat = self.latency
        n = threads_for(self.cores)
        par = max(0.0, lat.gamma * batch + lat.epsilon)
        if n == 1:  # no hand-off to a worker thread: one wake-up less per batch
            burn_cpu_ms(par + lat.delta * batch + lat.eta)
            return
        for k in range(n):
            self._share[k] = par / n
            self._go[k].set()
        for _ in range(n):
            self._done.acquire()
        burn_cpu_ms(lat.delta * batch + lat.eta)

    def close(self) -> None:
        self._closing = True
        for g in self._go:
            g.set()


def build_torch_model(name: str, seed: int = 0, num_classes: int = 10):
    """A ResNet-style CNN (BasicBlock or Bottleneck, four stages of :data:`WIDTHS` channels),
    random weights from ``seed``, in eval mode.

    Examples
    --------
    >>> import torch
    >>> m = build_torch_model("resnet_tiny18")
    >>> tuple(m(torch.zeros(2, 3, 32, 32)).shape)
    (2, 10)
    """
    import torch
    from torch import nn

    if name not in TORCH_VARIANTS:
        raise ValueError(f"unknown torch variant {name!r}; choose from {list(TORCH_VARIANTS)}")
    kind, blocks, _ = TORCH_VARIANTS[name]

    class Basic(nn.Module):
        expansion = 1

        def __init__(self, cin, c, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(c)
            self.c2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(c)
            self.short = (
                nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))
                if stride != 1 or cin != c
                else nn.Identity()
            )

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            return torch.relu(self.b2(self.c2(y)) + self.short(x))

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, cin, c, stride):
            super().__init__()
            out = c * 4
            self.c1 = nn.Conv2d(cin, c, 1, bias=False)
            self.b1 = nn.BatchNorm2d(c)
            self.c2 = nn.Conv2d(c, c, 3, stride, 1, bias=False)
            self.b2 = nn.BatchNorm2d(c)
            self.c3 = nn.Conv2d(c, out, 1, bias=False)
            self.b3 = nn.BatchNorm2d(out)
            self.short = (
                nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                if stride != 1 or cin != out
                else nn.Identity()
            )

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            y = torch.relu(self.b2(self.c2(y)))
            return torch.relu(self.b3(self.c3(y)) + self.short(x))

    block = Basic if kind == "basic" else Bottleneck
    torch.manual_seed(seed)
    w0 = WIDTHS[0]
    layers = [nn.Conv2d(3, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU()]
    cin = w0
    for i, (width, n) in enumerate(zip(WIDTHS, blocks, strict=True)):
        for j in range(n):
            layers.append(block(cin, width, 2 if (j == 0 and i > 0) else 1))
            cin = width * block.expansion
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers).eval()


def torch_accuracy(name: str) -> float:
    """Published top-1 accuracy (fraction) of the ResNet a torch variant imitates, read from
    the IPA model menu (``profiling/ipa_model_variant_accuracies.yaml``) when the data is
    present, else the torchvision values it copies (resnet18 69.75, 34 73.31, 50 76.13).

    Examples
    --------
    >>> torch_accuracy("resnet_tiny18")
    0.6975
    """
    ref = TORCH_VARIANTS[name][2]
    table = {"resnet18": 69.75, "resnet34": 73.31, "resnet50": 76.13}
    try:
        import yaml

        from ...data import data_path

        with open(data_path("profiling/ipa_model_variant_accuracies.yaml")) as f:
            menu = yaml.safe_load(f)
        for tasks in menu.values():
            for models in (tasks or {}).values():
                if isinstance(models, dict) and ref in models:
                    return round(float(models[ref]) / 100.0, 6)
    except Exception:  # noqa: BLE001 - data not present: fall back to the copied values
        pass
    return table[ref] / 100.0


class TorchModel(_Base):
    """One of :data:`TORCH_VARIANTS` with intra-op threads following the cores."""

    def __init__(self, name: str, image: int = IMAGE):
        super().__init__()
        self.name = name
        self.image = image
        self.net = None

    def load(self) -> None:
        import torch

        torch.set_num_threads(1)
        self.net = build_torch_model(self.name)
        with torch.inference_mode():
            self.net(torch.zeros(1, 3, self.image, self.image))

    def set_cores(self, cores: float) -> None:
        import torch

        super().set_cores(cores)
        torch.set_num_threads(threads_for(cores))

    def infer(self, batch: int, payload_bytes=None) -> None:
        import torch

        x = torch.rand(batch, 3, self.image, self.image)
        with torch.inference_mode():
            self.net(x)


def load_model(spec: ModelSpec):
    """The model object a replica runs for ``spec`` (not yet loaded)."""
    from ...latency import LatencyModel

    if spec.kind == "sleep":
        return SleepModel(LatencyModel(*spec.params))
    if spec.kind == "burn":
        return BurnModel(LatencyModel(*spec.params))
    if spec.kind == "torch":
        return TorchModel(spec.name, spec.image)
    raise ValueError(f"unknown model kind {spec.kind!r}")
