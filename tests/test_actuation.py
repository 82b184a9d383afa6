"""The actuation planner (ssloserve.runtime.actuation), a pure function, on small cases
written out by hand from DESIGN.md "Actuation semantics"."""

import math

from ssloserve.pipeline import StageConfig
from ssloserve.runtime.actuation import (
    Drain,
    Infeasible,
    ReplicaView,
    Resize,
    Retire,
    SetBatch,
    Start,
    Stop,
    in_force,
    on_ready,
    plan_stage,
)


def R(rid, state="idle", variant="m", cores=1.0, **kw):
    return ReplicaView(rid, variant, cores, state, **kw)


def kinds(plan):
    return [c.kind for c in plan.changes]


def test_scale_out_starts_what_fits_and_names_the_rest_infeasible():
    cur = StageConfig("m", 2, 2.0, 1)
    p = plan_stage(cur, StageConfig("m", 5, 2.0, 1), [R(0, cores=2.0), R(1, cores=2.0)], 5.0)
    assert kinds(p) == ["scale_out"] and p.changes[0].detail == "replicas 2->5"
    steps = p.steps
    assert steps[:2] == [Start("m", 2.0), Start("m", 2.0)]
    assert isinstance(steps[2], Infeasible) and steps[2].detail.startswith("1 of 3 new")
    assert p.changes[0].launched and p.config == StageConfig("m", 5, 2.0, 1)
    none_fit = plan_stage(cur, StageConfig("m", 3, 2.0, 1), [R(0, cores=2.0)], 1.0)
    assert [type(s) for s in none_fit.steps] == [Infeasible]
    assert not none_fit.changes[0].launched


def test_initial_scale_out_is_labelled_initial_and_unlimited_nodes_fit_everything():
    p = plan_stage(StageConfig("m", 0), StageConfig("m", 3, 4.0), [], math.inf, initial=True)
    assert [(c.kind, c.detail) for c in p.changes] == [("scale_out", "initial")]
    assert p.steps == [Start("m", 4.0)] * 3


def test_scale_in_stops_starting_then_idle_and_drains_busy_newest_first():
    reps = [R(0, "busy"), R(1, "idle"), R(2, "busy"), R(3, "starting"), R(4, "idle")]
    cur = StageConfig("m", 5)
    assert plan_stage(cur, StageConfig("m", 2), reps, 0.0).steps == [Stop(3), Stop(4), Stop(1)]
    assert plan_stage(cur, StageConfig("m", 0), reps, 0.0).steps == [
        Stop(3),
        Stop(4),
        Stop(1),
        Drain(2),
        Drain(0),
    ]
    # draining and retiring replicas do not count toward the target
    reps2 = [R(0, "draining"), R(1, "busy", retiring=True), R(2, "idle")]
    assert plan_stage(cur, StageConfig("m", 1), reps2, 0.0).changes == ()


def test_resize_in_place_and_what_does_not_fit_keeps_its_cores():
    reps = [R(0, "busy", cores=1.0), R(1, "idle", cores=1.0)]
    cur = StageConfig("m", 2, 1.0)
    p = plan_stage(cur, StageConfig("m", 2, 3.0), reps, 4.0)
    assert kinds(p) == ["resize"] and p.changes[0].detail == "cores 1->3"
    assert p.steps == [Resize(0, 3.0), Resize(1, 3.0)]
    tight = plan_stage(cur, StageConfig("m", 2, 3.0), reps, 3.0)
    assert tight.steps[0] == Resize(0, 3.0) and isinstance(tight.steps[1], Infeasible)
    assert "1 replica(s) cannot grow to 3 cores" in tight.steps[1].detail
    # shrinking needs no free core; a resize already under way to the target is not repeated
    assert plan_stage(cur, StageConfig("m", 2, 0.5), reps, 0.0).steps == [
        Resize(0, 0.5),
        Resize(1, 0.5),
    ]
    going = [R(0, "busy", cores=1.0, resizing_to=3.0, held=3.0)]
    assert plan_stage(cur, StageConfig("m", 1, 3.0), going, 0.0).changes == ()


def test_scale_in_frees_cores_for_the_resize_that_follows():
    reps = [R(0, "idle", cores=2.0), R(1, "idle", cores=2.0)]
    p = plan_stage(StageConfig("m", 2, 2.0), StageConfig("m", 1, 4.0), reps, 0.0)
    assert kinds(p) == ["scale_in", "resize"]
    assert p.steps == [Stop(1), Resize(0, 4.0)]


def test_batch_only_change_is_one_step_and_nothing_else_moves():
    reps = [R(0, "busy"), R(1, "idle")]
    p = plan_stage(StageConfig("m", 2, 1.0, 1), StageConfig("m", 2, 1.0, 8), reps, 0.0)
    assert [(c.kind, c.detail) for c in p.changes] == [("batch", "batch 1->8")]
    assert p.steps == [SetBatch(8)] and p.config.batch == 8


def test_variant_switch_with_room_starts_new_and_retires_old_on_ready():
    reps = [R(0, "busy"), R(1, "idle"), R(2, "starting")]
    p = plan_stage(StageConfig("m", 3), StageConfig("n", 2, 2.0), reps, 10.0)
    assert [(c.kind, c.detail) for c in p.changes] == [("variant", "m->n")]
    # the old replica still loading serves nothing: it stops at once; the others retire
    assert p.steps == [Start("n", 2.0), Start("n", 2.0), Retire(0), Retire(1), Stop(2)]
    assert p.config == StageConfig("n", 2, 2.0, 1)
    # as the new ones become ready: one old replica per new one, then every one left
    after = [
        R(0, "busy", retiring=True),
        R(1, "idle", retiring=True),
        R(3, "idle", "n", 2.0),
        R(4, "starting", "n", 2.0),
    ]
    assert on_ready(after, "n") == [Stop(1)]
    last = [R(0, "busy", retiring=True), R(3, "busy", "n", 2.0), R(4, "idle", "n", 2.0)]
    assert on_ready(last, "n") == [Drain(0)]
    assert on_ready([R(3, "idle", "n")], "n") == []


def test_variant_switch_without_room_keeps_the_old_variant_serving():
    reps = [R(0, "busy", cores=2.0), R(1, "idle", cores=2.0)]
    p = plan_stage(StageConfig("m", 2, 2.0, 1), StageConfig("n", 2, 2.0, 4), reps, 1.0)
    assert kinds(p) == ["batch", "variant"]
    assert [type(s) for s in p.changes[1].steps] == [Infeasible]
    assert not p.changes[1].launched
    assert p.config == StageConfig("m", 2, 2.0, 4)  # old variant, the new batch size


def test_variant_switch_with_room_for_some_retires_all_once_those_are_ready():
    reps = [R(0, "idle"), R(1, "idle"), R(2, "idle")]
    p = plan_stage(StageConfig("m", 3), StageConfig("n", 3, 1.0), reps, 1.0)
    steps = p.steps
    assert steps[0] == Start("n", 1.0) and isinstance(steps[1], Infeasible)
    assert steps[2:] == [Retire(0), Retire(1), Retire(2)]
    ready = [R(i, "idle", retiring=True) for i in range(3)] + [R(3, "idle", "n")]
    assert on_ready(ready, "n") == [Stop(0), Stop(1), Stop(2)]


def test_scaling_in_the_replacements_before_they_are_ready_lets_the_old_ones_go():
    """A switch m->n, then n scaled in while its replicas still load: nothing is left to
    wait for, so the retiring m replicas go with them (they would otherwise serve on)."""
    reps = [R(0, "busy", retiring=True), R(1, "idle", retiring=True)]
    reps += [R(2, "starting", "n"), R(3, "starting", "n")]
    p = plan_stage(StageConfig("n", 2), StageConfig("n", 0), reps, 0.0)
    assert p.steps == [Stop(3), Stop(2), Drain(0), Stop(1)]
    # while one replacement still loads, the old ones keep waiting for it
    p = plan_stage(StageConfig("n", 2), StageConfig("n", 1), reps, 0.0)
    assert p.steps == [Stop(3)]


def test_variant_switch_to_zero_replicas_lets_the_old_ones_go_at_once():
    reps = [R(0, "busy"), R(1, "idle")]
    p = plan_stage(StageConfig("m", 2), StageConfig("n", 0), reps, 0.0)
    assert p.steps == [Drain(0), Stop(1)] and p.config.variant == "n"


def test_in_force_counts_serving_replicas_of_the_variant_in_force():
    cur = StageConfig("n", 2, 2.0, 4)
    reps = [R(0, "busy", retiring=True), R(1, "idle", "n", 2.0), R(2, "starting", "n", 2.0)]
    assert in_force(reps, cur) == StageConfig("n", 1, 2.0, 4)
    assert in_force(reps[:1] + reps[2:], cur) == StageConfig("m", 1, 1.0, 4)
    assert in_force([R(0, "draining", "n")], cur) == StageConfig("n", 0, 2.0, 4)
