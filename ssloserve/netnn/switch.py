"""What one programmable switch offers: the resource model the Mapper plans against
(chapter 05, NetNN).

Every number is a setting. The two presets are assumptions, stated in the chapter:

- ``TOFINO``: a Tofino-like hardware pipeline: 12 stages per pipe, 16 actions side by side
  per stage, 32 arithmetic operations per action (a 16-input dot product; real Tofino ALUs
  have no multiplier, so this is generous), about 1 MiB of register memory, 64 ports.
- ``BMV2``: the software switch NetNN's prototype ran on. It has no hardware pipeline; its
  "stages" and "actions per stage" bound the unrolled program so its JSON stays loadable
  (the prototype's unrolled constants made one program 153 MB). 1,024 operations per action
  lets one action do a 496-input dot product (the paper's dense1 per packet).

Both carry the same header limit: a 1500-byte MTU minus the 14-byte Ethernet header.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["SwitchSpec", "TOFINO", "BMV2", "ETHERNET_BYTES", "NN_HEADER_BYTES", "RESOURCES"]

#: Ethernet header bytes in front of the custom header.
ETHERNET_BYTES = 14
#: The custom header's fixed part: sample id (4), layer (1), part (1), value bytes (2).
NN_HEADER_BYTES = 8

#: Resource names a MappingError can name, with the SwitchSpec field that limits each.
RESOURCES = {
    "operations per action": "ops_per_action",
    "stages": "stages",
    "register bytes": "register_bytes",
    "header bytes": "header_bytes",
    "table entries": "table_entries",
    "ports": "ports",
}


@dataclass(frozen=True)
class SwitchSpec:
    """Resources of one switch (chapter 05).

    Parameters
    ----------
    name : label shown in tables
    stages : match-action stages one packet passes through
    actions_per_stage : actions that can run side by side in one stage
    ops_per_action : arithmetic operations (a multiply and an add are two) in one action
    register_bytes : stateful memory for weights, partial sums and arrival bitmaps
    header_bytes : custom-header bytes one packet may carry between switches
    mtu_bytes : largest frame on a link (Ethernet header included)
    table_entries : match-action table entries
    ports : links (upstream plus downstream) one switch can have
    sample_slots : samples in flight per switch (register rows; a power of two)
    fixed_stages : stages every layer switch spends outside the dot products
        (arrival bookkeeping, requantise and pool, forward)

    Examples
    --------
    >>> BMV2.payload_bytes
    1478
    >>> BMV2.with_(header_bytes=400).header_bytes
    400
    """

    name: str = "custom"
    stages: int = 12
    actions_per_stage: int = 16
    ops_per_action: int = 4
    register_bytes: int = 1 << 20
    header_bytes: int = 1486
    mtu_bytes: int = 1500
    table_entries: int = 4096
    ports: int = 64
    sample_slots: int = 16
    fixed_stages: int = 3

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name != "name" and (not isinstance(v, int) or v < 1):
                raise ValueError(f"SwitchSpec.{f.name} must be a positive integer, got {v!r}")
        if self.sample_slots & (self.sample_slots - 1):
            raise ValueError(f"sample_slots must be a power of two, got {self.sample_slots}")

    @property
    def payload_bytes(self) -> int:
        """Value bytes one packet can carry after the custom header's fixed part."""
        return min(self.header_bytes, self.mtu_bytes - ETHERNET_BYTES) - NN_HEADER_BYTES

    def with_(self, **changes) -> SwitchSpec:
        """A copy with some settings changed."""
        return replace(self, **changes)


TOFINO = SwitchSpec(
    name="Tofino-like",
    stages=12,
    actions_per_stage=16,
    ops_per_action=32,
    register_bytes=1 << 20,
    header_bytes=1486,
    table_entries=100_000,
    ports=64,
    sample_slots=16,
)

BMV2 = SwitchSpec(
    name="BMv2",
    stages=4096,
    actions_per_stage=8,
    ops_per_action=1024,
    register_bytes=16 << 20,
    header_bytes=1486,
    table_entries=1_000_000,
    ports=512,
    sample_slots=16,
)
