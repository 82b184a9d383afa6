"""Variants, stages, pipelines (DAGs of stages) and configs (DESIGN.md "Core types").

Chapters: 00_tour introduces them; every technique chapter plans over them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import networkx as nx
import numpy as np

from .errors import ConfigError, PipelineError
from .latency import throughput_rps

__all__ = ["Variant", "Stage", "Pipeline", "StageConfig", "Config", "pipeline_accuracy"]


def pipeline_accuracy(accuracies: Iterable[float]) -> float:
    """IPA's pipeline accuracy score (PAS): the product of the stages' accuracies (PAPERS.md 3).

    Every request visits every stage, so a request is right only if every stage is; with
    independent errors that happens with the product of the accuracies. This is the one
    definition: :meth:`Config.accuracy` calls it.

    Parameters
    ----------
    accuracies : one accuracy in [0, 1] per stage (an empty pipeline scores 1)

    Examples
    --------
    >>> pipeline_accuracy([0.5, 0.8])      # a detector right half the time, then a classifier
    0.4
    >>> pipeline_accuracy([])
    1.0
    """
    return float(math.prod(accuracies))


@dataclass(frozen=True)
class Variant:
    """One way to serve a task: a model with its accuracy, latency and default cores.

    Parameters
    ----------
    name : the variant's name, e.g. ``"yolov5n"``
    accuracy : published accuracy as a fraction in [0, 1] (mAP or top-1 / 100)
    latency : anything with ``.latency(b, c)`` in ms (a ``LatencyModel`` or a measured table)
    cores : cores per replica when a plan does not choose them (IPA's base allocation)
    model : what an emulator replica runs: ``"sleep"``, ``"burn"`` or a torch model name

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> v = Variant("resnet18", 0.6975, LatencyModel(34.7, 2.06, 19.5, 14.3))
    >>> round(v.latency_ms(1, 1), 2)
    70.56
    """

    name: str
    accuracy: float
    latency: object
    cores: float = 1.0
    model: str = "sleep"

    def latency_ms(self, b, c=None):
        """l(b, c) in ms; ``c`` defaults to the variant's own cores."""
        return self.latency.latency(b, self.cores if c is None else c)

    def throughput_rps(self, b, c=None):
        """h(b, c) = 1000 b / l(b, c), requests per second of one replica
        (:func:`~ssloserve.latency.throughput_rps`)."""
        return throughput_rps(b, self.latency_ms(b, c))


@dataclass(frozen=True)
class Stage:
    """A task in a pipeline with its menu of variants (the first is the default).

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> s = Stage("classify", (Variant("r18", 0.7, LatencyModel(1, 1, 1, 1)),))
    >>> s.variant("r18").name
    'r18'
    """

    name: str
    variants: tuple[Variant, ...]
    max_batch: int = 16

    def __post_init__(self):
        if not self.variants:
            raise PipelineError(f"stage {self.name!r} has no variants")
        object.__setattr__(self, "variants", tuple(self.variants))
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise PipelineError(f"stage {self.name!r} has duplicate variant names {names}")
        if self.max_batch < 1:
            raise PipelineError(f"stage {self.name!r}: max_batch must be >= 1")

    def variant(self, name: str | None = None) -> Variant:
        """The variant called ``name`` (the default variant when ``None``)."""
        if name is None:
            return self.variants[0]
        for v in self.variants:
            if v.name == name:
                return v
        raise ConfigError(
            f"stage {self.name!r} has no variant {name!r}; it has {[v.name for v in self.variants]}"
        )


class Pipeline:
    """A DAG of stages from one source to one sink; every request visits every stage.

    Parameters
    ----------
    stages : the stages
    edges : (upstream, downstream) stage-name pairs; a stage with several upstream stages
        joins them (it starts once all of them finished)

    Examples
    --------
    >>> from ssloserve.latency import LatencyModel
    >>> m = LatencyModel(1, 1, 1, 1)
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 1.0, m),)), Stage("b", (Variant("y", 1.0, m),)))
    >>> p.order
    ('a', 'b')
    >>> Pipeline([Stage("a", (Variant("x", 1.0, m),))], edges=[("a", "a")])
    Traceback (most recent call last):
    ...
    ssloserve.errors.PipelineError: the pipeline has a cycle: a -> a
    """

    def __init__(self, stages: Iterable[Stage], edges: Iterable[tuple[str, str]] = ()):
        stages = list(stages)
        if not stages:
            raise PipelineError("a pipeline needs at least one stage")
        self._stages = {}
        for s in stages:
            if s.name in self._stages:
                raise PipelineError(f"two stages are called {s.name!r}")
            self._stages[s.name] = s
        g = nx.DiGraph()
        g.add_nodes_from(self._stages)
        for u, v in edges:
            for x in (u, v):
                if x not in self._stages:
                    raise PipelineError(
                        f"edge ({u!r}, {v!r}) names unknown stage {x!r}; stages are "
                        f"{list(self._stages)}"
                    )
            g.add_edge(u, v)
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " -> ".join([cycle[0][0]] + [e[1] for e in cycle])
            raise PipelineError(f"the pipeline has a cycle: {path}")
        sources = [n for n in g if g.in_degree(n) == 0]
        sinks = [n for n in g if g.out_degree(n) == 0]
        if len(sources) != 1 or len(sinks) != 1:
            raise PipelineError(
                f"a pipeline needs exactly one source and one sink; sources {sources}, sinks {sinks}"
            )
        self.graph = g
        self.source, self.sink = sources[0], sinks[0]
        self.order = tuple(nx.lexicographical_topological_sort(g, key=list(self._stages).index))

    @classmethod
    def chain(cls, *stages: Stage) -> Pipeline:
        """A linear pipeline, stages in the given order."""
        if len(stages) == 1 and not isinstance(stages[0], Stage):
            stages = tuple(stages[0])
        names = [s.name for s in stages]
        return cls(stages, edges=list(zip(names[:-1], names[1:], strict=True)))

    @property
    def stages(self) -> Mapping[str, Stage]:
        """Stages by name (read-only)."""
        return MappingProxyType(self._stages)

    def stage(self, name: str) -> Stage:
        """The stage called ``name``."""
        try:
            return self._stages[name]
        except KeyError:
            raise PipelineError(f"no stage {name!r}; the stages are {list(self._stages)}") from None

    def predecessors(self, name: str) -> tuple[str, ...]:
        return tuple(self.graph.predecessors(name))

    def successors(self, name: str) -> tuple[str, ...]:
        return tuple(self.graph.successors(name))

    def is_chain(self) -> bool:
        """True when every stage has at most one predecessor and one successor."""
        return all(
            self.graph.in_degree(n) <= 1 and self.graph.out_degree(n) <= 1 for n in self.graph
        )

    def paths(self) -> list[tuple[str, ...]]:
        """Every source-to-sink path, as tuples of stage names."""
        return [tuple(p) for p in nx.all_simple_paths(self.graph, self.source, self.sink)] or [
            (self.source,)
        ]

    def __len__(self) -> int:
        return len(self._stages)

    def __repr__(self) -> str:
        edges = ", ".join(f"{u}->{v}" for u, v in self.graph.edges)
        return f"Pipeline({list(self.order)}{'; ' + edges if edges else ''})"


@dataclass(frozen=True)
class StageConfig:
    """How one stage is served: variant, replicas, cores per replica, batch size.

    Examples
    --------
    >>> StageConfig("r18", replicas=2, cores=1.5, batch=4).cost
    3.0
    >>> StageConfig("r18", batch=0)
    Traceback (most recent call last):
    ...
    ssloserve.errors.ConfigError: batch size must be an integer >= 1, got 0
    """

    variant: str
    replicas: int = 1
    cores: float = 1.0
    batch: int = 1

    def __post_init__(self):
        if not isinstance(self.batch, int | np.integer) or self.batch < 1:
            raise ConfigError(f"batch size must be an integer >= 1, got {self.batch!r}")
        if not isinstance(self.replicas, int | np.integer) or self.replicas < 0:
            raise ConfigError(f"replicas must be an integer >= 0, got {self.replicas!r}")
        if not (self.cores > 0 and math.isfinite(self.cores)):
            raise ConfigError(f"cores per replica must be positive, got {self.cores!r}")
        object.__setattr__(self, "batch", int(self.batch))
        object.__setattr__(self, "replicas", int(self.replicas))
        object.__setattr__(self, "cores", float(self.cores))

    @property
    def cost(self) -> float:
        """Cores in use: replicas x cores per replica."""
        return self.replicas * self.cores


@dataclass(frozen=True)
class Config:
    """Per stage a :class:`StageConfig`; immutable. ``cost`` is the total cores.

    Examples
    --------
    >>> c = Config({"a": StageConfig("x", 2, 1.0, 4), "b": StageConfig("y", 1, 2.0, 1)})
    >>> c.cost
    4.0
    >>> c.with_stage("b", replicas=3).cost
    8.0
    """

    stages: Mapping[str, StageConfig] = field(default_factory=dict)

    def __post_init__(self):
        items = {}
        for k, v in dict(self.stages).items():
            if not isinstance(v, StageConfig):
                raise ConfigError(f"stage {k!r}: expected a StageConfig, got {type(v).__name__}")
            items[k] = v
        object.__setattr__(self, "stages", MappingProxyType(items))

    def __getitem__(self, stage: str) -> StageConfig:
        return self.stages[stage]

    def __iter__(self):
        return iter(self.stages)

    def __eq__(self, other):
        return isinstance(other, Config) and dict(self.stages) == dict(other.stages)

    def __hash__(self):
        return hash(tuple(sorted(self.stages.items())))

    @property
    def cost(self) -> float:
        """Total cores: sum over stages of replicas x cores."""
        return float(sum(s.cost for s in self.stages.values()))

    def with_stage(self, stage: str, **changes) -> Config:
        """A copy with one stage's fields changed."""
        new = dict(self.stages)
        new[stage] = replace(self.stages[stage], **changes)
        return Config(new)

    def validate(self, pipeline: Pipeline) -> Config:
        """Check this config against ``pipeline``; raise :class:`ConfigError` naming what is wrong."""
        unknown = [k for k in self.stages if k not in pipeline.stages]
        if unknown:
            raise ConfigError(
                f"config names unknown stage(s) {unknown}; the pipeline's stages are "
                f"{list(pipeline.order)}"
            )
        missing = [k for k in pipeline.order if k not in self.stages]
        if missing:
            raise ConfigError(f"config has no entry for stage(s) {missing}")
        for k, sc in self.stages.items():
            pipeline.stage(k).variant(sc.variant)
        return self

    def accuracy(self, pipeline: Pipeline) -> float:
        """Pipeline accuracy score of this config: :func:`pipeline_accuracy` of the chosen
        variants' accuracies (IPA's PAS, PAPERS.md 3).

        Examples
        --------
        >>> from ssloserve.latency import LatencyModel
        >>> m = LatencyModel(0, 0, 0, 1.0)
        >>> p = Pipeline.chain(Stage("a", (Variant("x", 0.5, m),)), Stage("b", (Variant("y", 0.8, m),)))
        >>> Config.default(p).accuracy(p)
        0.4
        """
        return pipeline_accuracy(
            pipeline.stage(k).variant(sc.variant).accuracy for k, sc in self.stages.items()
        )

    @classmethod
    def default(cls, pipeline: Pipeline, replicas: int = 1, batch: int = 1) -> Config:
        """Every stage on its default variant, at that variant's cores."""
        return cls(
            {
                n: StageConfig(
                    pipeline.stage(n).variants[0].name,
                    replicas,
                    pipeline.stage(n).variants[0].cores,
                    batch,
                )
                for n in pipeline.order
            }
        )
