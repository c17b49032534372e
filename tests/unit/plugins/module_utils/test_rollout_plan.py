# -*- coding: utf-8 -*-
"""The rollout plan: canary first, batch sizes as Ansible's serial reads them, the capacity floor, halting."""
import pytest

from ansible_collections.dgx_station.inference.plugins.module_utils import rollout_plan as rp

SIX = ["s1", "s2", "s3", "s4", "s5", "s6"]


def test_first_station_is_the_canary_then_batches_of_the_rest():
    plan = rp.plan(SIX, batch=2)
    assert plan["batches"] == [["s1"], ["s2", "s3"], ["s4", "s5"], ["s6"]]
    assert plan["serial"] == [1, 2, 2, 1]
    assert plan["order"] == SIX


def test_named_canaries_go_first_in_inventory_order():
    plan = rp.plan(SIX, canary=["s5", "s2"], batch=3)
    assert plan["canary"] == ["s2", "s5"]
    assert plan["order"] == ["s2", "s5", "s1", "s3", "s4", "s6"]
    assert plan["serial"] == [2, 3, 1]


def test_canary_that_needs_no_change_falls_back_to_the_first_changing_station():
    plan = rp.plan(["s3", "s4"], canary=["s1"], known_hosts=SIX)
    assert plan["canary"] == ["s3"]


def test_unknown_canary_is_refused_naming_the_option():
    with pytest.raises(rp.RolloutPlanError, match="sglang_rollout_canary names s9"):
        rp.plan(SIX, canary=["s9"])


@pytest.mark.parametrize("batch, sizes", [
    (1, [1] * 6), ("2", [2, 2, 2]), ("50%", [3, 3]), ("10%", [1] * 6), ([1, 2, "50%"], [1, 2, 3]), ([4], [4, 2]),
])
def test_batch_sizes_read_like_ansible_serial(batch, sizes):
    assert rp.batch_sizes(batch, 6) == sizes


@pytest.mark.parametrize("batch", [0, -1, "0%", "150%", "abc", [], True, "2.5"])
def test_bad_batch_sizes_are_refused(batch):
    with pytest.raises(rp.RolloutPlanError, match="sglang_rollout_batch"):
        rp.batch_sizes(batch, 6)


def test_capacity_floor_refuses_a_batch_that_takes_too_many_out():
    with pytest.raises(rp.RolloutPlanError, match=r"sglang_rollout_min_in_service=2 cannot hold: batch 2 takes 2 of the 3"):
        rp.plan(["s1", "s2", "s3"], batch=2, min_in_service=2)
    assert rp.plan(["s1", "s2", "s3"], batch=1, min_in_service=2)["largest_batch"] == 1


def test_capacity_counts_the_stations_in_service_now():
    with pytest.raises(rp.RolloutPlanError, match="canary batch 1 takes 1 of the 2 Stations in service"):
        rp.plan(["s1", "s2", "s3"], min_in_service=2, in_service=2)


def test_empty_plan_when_nothing_changes():
    plan = rp.plan([], known_hosts=SIX)
    assert plan["batches"] == [] and plan["serial"] == [] and plan["order"] == []


def test_halt_after_a_failed_canary_and_not_before():
    batches = [["s1"], ["s2", "s3"], ["s4"]]
    assert rp.halted(batches, {}, "s1") == ""
    assert rp.halted(batches, {"s1": "replaced"}, "s2") == ""
    reason = rp.halted(batches, {"s1": "rolled_back"}, "s2")
    assert "the canary batch 1 failed on s1" in reason
    # Later batches name the first failure; a batch that was not reached stops the ones after it.
    assert "canary batch 1 failed" in rp.halted(batches, {"s1": "rolled_back", "s2": "not_reached"}, "s4")
    assert "s2 not reached" in rp.halted(batches, {"s1": "replaced", "s2": "not_reached", "s3": "replaced"}, "s4")


def test_halt_honours_max_fail_percentage():
    batches = [["s1"], ["s2", "s3"], ["s4"]]
    outcomes = {"s1": "replaced", "s2": "rolled_back", "s3": "replaced"}
    assert rp.halted(batches, outcomes, "s4", max_fail_percentage=50) == ""
    assert "1 of 2" in rp.halted(batches, outcomes, "s4", max_fail_percentage=49)


def test_phases_from_marks():
    marks = [["drain", 100.0], ["stop", "106"], ["idle", 105.5], ["end", 110]]
    assert rp.phases(marks) == {"drain": 5.5, "idle": 0.5, "stop": 4.0}


def test_a_station_of_an_earlier_batch_without_an_outcome_counts_as_failed():
    batches = [["s1"], ["s2", "s3"], ["s4"]]
    assert "batch 2 failed on s3" in rp.halted(batches, {"s1": "replaced", "s2": "replaced"}, "s4", max_fail_percentage=0)
