"""NetNN (chapter 05): an intrusion detector trained in torch, quantised to switch integer
arithmetic, split across programmable switches, emitted as P4 and run packet by packet.

Modules, one concept each: :mod:`~ssloserve.netnn.data` (real flow data sets),
:mod:`~ssloserve.netnn.packets` (synthetic packets), :mod:`~ssloserve.netnn.models` (torch
models), :mod:`~ssloserve.netnn.quantize` (8-bit integer model), :mod:`~ssloserve.netnn.switch`
(``SwitchSpec``), :mod:`~ssloserve.netnn.mapper` (``partition``), :mod:`~ssloserve.netnn.p4`
(emitter, built from :mod:`~ssloserve.netnn.p4_text`, :mod:`~ssloserve.netnn.p4_unrolled`,
:mod:`~ssloserve.netnn.p4_loop` and :mod:`~ssloserve.netnn.control_plane`),
:mod:`~ssloserve.netnn.executor` (reference data plane, packet by packet),
:mod:`~ssloserve.netnn.batched` (the same data plane fed batches of frames with numpy),
:mod:`~ssloserve.netnn.bmv2` (p4c/BMv2 runner, with :mod:`~ssloserve.netnn.p4c`,
:mod:`~ssloserve.netnn.simple_switch` and :mod:`~ssloserve.netnn.pcap`), :mod:`~ssloserve.netnn.experiment`
(train-and-score helpers), :mod:`~ssloserve.netnn.evaluate` (held-out attack families),
:mod:`~ssloserve.netnn.serving` (the same detector on CPU replicas within an SLO) and
:mod:`~ssloserve.netnn.ui` (widget).
"""

__all__ = [
    "batched",
    "bmv2",
    "control_plane",
    "data",
    "evaluate",
    "executor",
    "experiment",
    "mapper",
    "models",
    "p4",
    "p4_loop",
    "p4_text",
    "p4_unrolled",
    "p4c",
    "pcap",
    "packets",
    "quantize",
    "serving",
    "simple_switch",
    "switch",
    "ui",
]
