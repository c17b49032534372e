# -*- coding: utf-8 -*-
"""The gateway play and the fleet report read a Station's facts the same way."""
from ansible_collections.dgx_station.inference.plugins.module_utils.fleet_facts import (
    fleet_gateway,
    fleet_secrets,
    fleet_stations,
    station_url,
)


def station(name, **extra):
    hv = {"inventory_hostname": name, "sglang_server_deployed": {
        "name": "sglang-server", "image": "lmsysorg/sglang:x", "image_id": "sha256:1", "release": "r1",
        "gpu": {"name": "NVIDIA GB300", "uuid": "GPU-1"}}, "sglang_validate_result": {"passed": True, "failures": []}}
    hv.update(extra)
    return hv


def test_station_url_prefers_the_explicit_url_then_ansible_host_and_port():
    assert station_url({"inventory_hostname": "s1"}) == "http://s1:30000"
    assert station_url({"inventory_hostname": "s1", "ansible_host": "10.0.0.11", "sglang_server_host_port": 31000}) \
        == "http://10.0.0.11:31000"
    assert station_url({"inventory_hostname": "s1", "ansible_host": "fd00::11"}) == "http://[fd00::11]:30000"
    assert station_url({"inventory_hostname": "s1", "sglang_gateway_station_url": "http://gpu1.lab:30000/"}) \
        == "http://gpu1.lab:30000"


def test_fleet_stations_joins_deploy_validation_and_gateway_membership():
    hostvars = {
        "s1": station("s1", sglang_server_enable_metrics=True),
        "s2": station("s2", sglang_validate_result={"passed": False, "failures": ["smoke: 500"]}),
        "s3": {"inventory_hostname": "s3"},
        "gw": {"inventory_hostname": "gw", "sglang_gateway_membership": {"workers": [
            {"id": "w1", "url": "http://s1:30000/", "status": "ready", "is_healthy": True}]}},
    }
    stations = fleet_stations(["s1", "s2", "s3"], hostvars, "gw")
    assert stations["s1"]["gateway"] == {"member": True, "url": "http://s1:30000", "worker_id": "w1",
                                         "status": "ready", "is_healthy": True}
    assert stations["s1"]["metrics_url"] == "http://s1:30000/metrics"
    assert stations["s1"]["gpu"]["name"] == "NVIDIA GB300" and "gpu" not in stations["s1"]["server"]
    assert stations["s2"]["gateway"]["member"] is False and stations["s2"]["validation"]["passed"] is False
    assert stations["s3"]["error"]["phase"] == "deploy" and stations["s3"]["server"] is None


def test_without_a_gateway_there_is_no_membership():
    assert fleet_stations(["s1"], {"s1": station("s1")})["s1"]["gateway"] is None


def test_fleet_gateway_and_secrets():
    gw = {"sglang_gateway_deployed": {"url": "http://gw:30080", "version": "1.13.0"},
          "sglang_gateway_membership": {"workers": [{"id": "w1", "url": "http://s1:30000", "is_healthy": True,
                                                     "status": "ready", "load": 3}],
                                        "healthy_urls": ["http://s1:30000"]}}
    view = fleet_gateway(gw)
    assert view["url"] == "http://gw:30080" and view["workers"][0]["id"] == "w1" and "load" not in view["workers"][0]
    assert fleet_secrets(["a", "b"], {"a": {"sglang_server_api_key": "k1"},
                                      "b": {"sglang_gateway_api_key": "k2", "sglang_server_api_key": "k1"}}) == ["k1", "k2"]


def test_membership_is_unknown_when_the_gateway_play_did_not_run():
    hostvars = {"s1": station("s1"), "gw": {"inventory_hostname": "gw"}}
    assert fleet_stations(["s1"], hostvars, "gw")["s1"]["gateway"] is None
    assert fleet_gateway(hostvars["gw"]) is None
    assert fleet_gateway({"sglang_gateway_deployed": {"url": "http://gw:30080"}}) is None


def test_what_a_run_did_is_not_part_of_the_station_state():
    first = station("s1")
    first["sglang_server_deployed"].update(replaced=True, previous_image_id="", phase="ready")
    again = station("s1")
    again["sglang_server_deployed"].update(replaced=False, previous_image_id="sha256:1", phase="ready")
    assert fleet_stations(["s1"], {"s1": first}) == fleet_stations(["s1"], {"s1": again})


def test_the_rollout_result_is_passed_through_and_null_without_a_rollout():
    result = {"outcome": "rolled_back", "release": "r1", "release_before": "r1", "release_attempted": "r2",
              "phase": "boot", "catalog_id": "cuda_oom", "msg": "[cuda_oom] out of memory", "restore": "back on r1",
              "container_id_before": "c1", "phases_s": {"drain": 5.1, "boot": 2.2}}
    hostvars = {"s1": station("s1", sglang_rollout_result=result), "s2": station("s2"),
                "s3": station("s3", sglang_rollout_result=None)}
    stations = fleet_stations(["s1", "s2", "s3"], hostvars)
    assert stations["s1"]["rollout"] == result and stations["s1"]["rollout"] is not result
    assert stations["s2"]["rollout"] is None and stations["s3"]["rollout"] is None
    # A site.yml run (no rollout) yields the same input as before apart from the null rollout.
    assert set(stations["s2"]) == {"gpu", "server", "validation", "benchmark", "gateway", "metrics_url", "labels",
                                   "error", "rollout"}
