"""The experiment API: ``run(pipeline, workload, policy, runtime="sim"|"emu"|"ray", ...)``.

Chapter: 00_tour. ``run`` only dispatches: every runtime reads the same
:class:`~ssloserve.runtime.options.RunOptions` and the same input helpers
(:mod:`ssloserve.runtime.inputs`), which sit below the runtimes, so one set of arguments
means the same experiment in the simulator and in the emulator.
"""

from __future__ import annotations

from dataclasses import fields

from ..errors import ConfigError, PipelineError
from ..pipeline import Pipeline
from .inputs import as_policy
from .options import RUNTIMES, RunOptions
from .result import Result

__all__ = ["run"]


def run(
    pipeline: Pipeline,
    workload,
    policy,
    runtime: str = "sim",
    *,
    options: RunOptions | None = None,
    **overrides,
) -> Result:
    """Serve ``workload`` on ``pipeline`` under ``policy`` and return a :class:`Result`.

    Parameters
    ----------
    pipeline : the DAG of stages
    workload : a :class:`~ssloserve.workloads.Workload` (or anything with ``arrival_s``,
        ``budget_ms``)
    policy : a policy (``interval_s``, ``decide(obs) -> Config``, optional ``initial``), or
        a fixed :class:`~ssloserve.pipeline.Config`
    runtime : ``"sim"`` (discrete-event simulator), ``"emu"`` (multiprocess emulator) or
        ``"ray"`` (the emulator's router with Ray actors as replicas; needs
        ``pip install 'ssloserve[ray]'``)
    options : a :class:`RunOptions`; keyword arguments override single fields
        (``run(..., queue="edf", drop="cannot_finish")``). With ``runtime="emu"`` the
        emulator's own options are accepted too (``core_limit``, ``boost``, ``max_retries``,
        ``drain_s``, ``start_timeout_s``; see ``ssloserve.runtime.emu.EmuOptions``), with
        ``runtime="ray"`` Ray's (``address`` to join a cluster, else a local Ray of
        ``num_cpus``; ``max_retries``, ``drain_s``, ``start_timeout_s``; see
        ``ssloserve.runtime.ray.RayOptions``)

    Returns
    -------
    Result with one record per request, the timeline, the actuation events and
    ``summary()``. ``meta["interrupted"]`` is True when Ctrl-C stopped the run early.

    Examples
    --------
    >>> from ssloserve.pipeline import Pipeline, Stage, Variant, Config
    >>> from ssloserve.latency import LatencyModel
    >>> from ssloserve.workloads import Workload
    >>> p = Pipeline.chain(Stage("a", (Variant("x", 0.9, LatencyModel(0, 0, 0, 10.0)),)))
    >>> w = Workload.from_rates([50] * 4, seed=1, slo_ms=100.0)
    >>> r = run(p, w, Config.default(p))
    >>> s = r.summary(); s["requests"] == s["served"] + s["late"] + s["dropped"]
    True
    >>> run(p, w, Config.default(p), runtime="cloud")
    Traceback (most recent call last):
    ...
    ssloserve.errors.ConfigError: unknown runtime 'cloud'; choose one of ('sim', 'emu', 'ray')
    """
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")
    if not isinstance(pipeline, Pipeline):
        raise PipelineError(f"expected a Pipeline, got {type(pipeline).__name__}")
    known = {f.name for f in fields(RunOptions)}
    extra = {k: v for k, v in overrides.items() if k not in known}
    opts = (options or RunOptions()).replace(**{k: v for k, v in overrides.items() if k in known})
    if runtime == "sim":
        if extra:
            opts.replace(**extra)  # raises ConfigError naming the unknown option(s)
        from .sim import simulate

        return simulate(pipeline, workload, as_policy(policy), opts.validate())
    if runtime == "ray":
        from .ray import RayOptions, require_ray, serve_on_ray  # (Ray itself is optional)

        bad = sorted(set(extra) - RayOptions.names())
        if bad:
            raise ConfigError(
                f"unknown run option(s) {bad}; options are {sorted(known | RayOptions.names())}"
            )
        ray_opts = RayOptions(**extra).validate()
        require_ray()
        return serve_on_ray(pipeline, workload, as_policy(policy), opts.validate(), ray_opts)
    from .emu import EmuOptions, emulate  # the multiprocess emulator (ssloserve/runtime/emu/)

    emu_only = EmuOptions.names()
    bad = sorted(set(extra) - emu_only)
    if bad:
        raise ConfigError(f"unknown run option(s) {bad}; options are {sorted(known | emu_only)}")
    emu = EmuOptions(**extra).validate()
    return emulate(pipeline, workload, as_policy(policy), opts.validate(), emu)
