# -*- coding: utf-8 -*-
"""The failure_match filter explains docker and log errors with the failure catalog."""
from ansible_collections.dgx_station.inference.plugins.filter.failure_match import FilterModule

failure_match = FilterModule().filters()["failure_match"]


def test_docker_port_error_is_port_in_use():
    msg = ("Error starting container: 500 Server Error: Internal Server Error (\"driver failed programming external "
           "connectivity on endpoint sglang-server: Bind for 0.0.0.0:30000 failed: port is already allocated\")")
    row = failure_match(msg)
    assert row["id"] == "port_in_use" and "sglang_server_host_port" in row["fix"]


def test_missing_gpu_driver_is_toolkit_not_configured():
    assert failure_match('could not select device driver "" with capabilities: [[gpu]]')["id"] == \
        "toolkit_not_configured"


def test_unknown_text_and_empty_input_match_nothing():
    assert failure_match("something else went wrong") is None
    assert failure_match(None) is None
