# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nvidia_smi parsing of real and derived nvidia-smi output: MIG mode, -L with MIG devices, old drivers."""
import os
import xml.etree.ElementTree as ET

import pytest
import yaml

from ansible_collections.dgx_station.inference.plugins.module_utils import nvidia_smi

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
SMI_DIR = os.path.join(FIXTURES, "nvidia-smi")
SCENARIO_DIR = os.path.join(FIXTURES, "gpu_info")
ROLE_SPECS = os.path.join(FIXTURES, "..", "..", "..", "roles", "sglang_server", "meta", "argument_specs.yml")
# Columns of the real smi_index_name_mig.csv (the MIG mode fields, current then pending).
MIG_RECORDING_FIELDS = ("index", "name", "mig.mode.current", "mig.mode.pending")


def read(*parts):
    with open(os.path.join(*parts)) as handle:
        return handle.read()


def test_real_h200_mig_fields_agree_with_its_xml_report():
    gpus = nvidia_smi.parse_query_gpu(read(SMI_DIR, "h200-x1", "smi_index_name_mig.csv"), MIG_RECORDING_FIELDS)
    xml_gpus = ET.fromstring(read(SMI_DIR, "h200-x1", "smi_q.xml")).findall("gpu")
    assert len(gpus) == len(xml_gpus) == 1
    for gpu, node in zip(gpus, xml_gpus):
        assert gpu["name"] == node.findtext("product_name")
        assert gpu["mig_mode"] == node.findtext("mig_mode/current_mig").lower()
        assert gpu["mig_mode_pending"] == node.findtext("mig_mode/pending_mig").lower()
        assert gpu["mig_devices"] == []


def test_real_listings_have_no_mig_devices_and_match_the_query():
    for host in ("h100-x2", "h200-x1"):
        listed = nvidia_smi.parse_list_gpus(read(SMI_DIR, host, "smi_L.txt"))
        queried = nvidia_smi.parse_query_gpu(read(SMI_DIR, host, "smi_full_nounits.csv"), nvidia_smi.BASE_FIELDS)
        assert [(g["index"], g["name"], g["uuid"]) for g in listed] == [
            (g["index"], g["name"], g["uuid"]) for g in queried]
        assert all(g["mig_devices"] == [] for g in listed)


def test_listing_with_mig_devices():
    listed = nvidia_smi.parse_list_gpus(read(SCENARIO_DIR, "gb300-mig-enabled", "list.txt"))
    assert [g["mig_devices"] for g in listed][0] == []
    gb300 = listed[1]
    assert gb300["name"] == "NVIDIA GB300"
    assert gb300["mig_devices"] == [
        dict(uuid="MIG-4b8e1c2d-9f3a-5e6b-8c7d-1a2b3c4d5e6f", profile="3g.135gb", device_index=0,
             parent_index=1, parent_uuid=gb300["uuid"]),
        dict(uuid="MIG-7a6b5c4d-3e2f-5a1b-9c8d-7e6f5a4b3c2d", profile="3g.135gb", device_index=1,
             parent_index=1, parent_uuid=gb300["uuid"]),
    ]


def test_mig_devices_attach_by_uuid_not_by_position():
    queried = nvidia_smi.parse_query_gpu(read(SCENARIO_DIR, "gb300-mig-enabled", "query.csv"))
    listed = list(reversed(nvidia_smi.parse_list_gpus(read(SCENARIO_DIR, "gb300-mig-enabled", "list.txt"))))
    nvidia_smi.attach_mig_devices(queried, listed)
    assert [len(g["mig_devices"]) for g in queried] == [0, 2]
    assert all(d["parent_uuid"] == queried[1]["uuid"] for d in queried[1]["mig_devices"])


def test_listing_in_the_pre_r470_mig_uuid_form():
    # Drivers before R470 named MIG devices MIG-GPU-<gpu uuid>/<gi>/<ci>.
    text = ("GPU 0: A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)\n"
            "  MIG 1g.5gb Device 0: (UUID: MIG-GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77/7/0)\n")
    (gpu,) = nvidia_smi.parse_list_gpus(text)
    assert gpu["mig_devices"][0]["uuid"] == "MIG-GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77/7/0"
    assert gpu["mig_devices"][0]["profile"] == "1g.5gb"


@pytest.mark.parametrize("text", [
    "  MIG 3g.135gb     Device  0: (UUID: MIG-4b8e1c2d-9f3a-5e6b-8c7d-1a2b3c4d5e6f)\n",  # before any GPU
    "GPU 0: NVIDIA GB300 (UUID: GPU-6f1c2b9e-3d4a-5b6c-8d7e-9f0a1b2c3d4e)\n  MIG 3g.135gb broken\n",
])
def test_listing_mig_lines_that_do_not_parse(text):
    with pytest.raises(ValueError):
        nvidia_smi.parse_list_gpus(text)


@pytest.mark.parametrize("printed,mode", [
    ("Enabled", "enabled"), ("Disabled", "disabled"), ("[N/A]", "unsupported"), ("N/A", "unsupported"),
    ("[Not Supported]", "unsupported"), ("[Unknown Error]", "unknown"),
])
def test_mig_mode_values(printed, mode):
    row = "0, NVIDIA L4, GPU-11111111-2222-3333-4444-555555555555, 00000000:01:00.0, 23034, 8.9, %s, %s" % (
        printed, printed)
    (gpu,) = nvidia_smi.parse_query_gpu(row)
    assert gpu["mig_mode"] == mode and gpu["mig_mode_pending"] == mode


def test_old_query_output_does_not_pass_for_the_mig_query():
    # six columns where eight were asked: not silently read as "no MIG"
    with pytest.raises(ValueError):
        nvidia_smi.parse_query_gpu(read(SMI_DIR, "h100-x2", "smi_full_nounits.csv"))


def test_rejected_fields_are_read_from_the_real_error_format():
    real = read(SMI_DIR, "h100-x2", "smi_bad_field.txt")
    assert nvidia_smi.unknown_query_fields(real) == []  # bogus_field is not a MIG field
    assert nvidia_smi.unknown_query_fields(real, ("bogus_field",)) == ["bogus_field"]
    old = read(SCENARIO_DIR, "old-driver", "query_mig.txt")
    assert nvidia_smi.unknown_query_fields(old) == ["mig.mode.current"]


def test_listing_only_when_needed():
    gpus = nvidia_smi.parse_query_gpu(read(SCENARIO_DIR, "gb300-idx1-rtxpro-idx0", "query.csv"))
    assert not nvidia_smi.needs_mig_listing(gpus)
    assert not nvidia_smi.needs_mig_listing(gpus, ["MIG-4b8e1c2d-9f3a-5e6b-8c7d-1a2b3c4d5e6f"])  # no MIG on this host
    enabled = nvidia_smi.parse_query_gpu(read(SCENARIO_DIR, "gb300-mig-enabled", "query.csv"))
    assert nvidia_smi.needs_mig_listing(enabled)
    unknown = nvidia_smi.parse_query_gpu(read(SCENARIO_DIR, "old-driver", "query.csv"), nvidia_smi.BASE_FIELDS)
    assert not nvidia_smi.needs_mig_listing(unknown, ["1"])
    assert nvidia_smi.needs_mig_listing(unknown, ["MIG-4b8e1c2d-9f3a-5e6b-8c7d-1a2b3c4d5e6f"])


def test_role_options_named_in_messages_exist():
    with open(ROLE_SPECS) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert set(nvidia_smi.ROLE_OPTIONS.values()) <= set(options)
    assert options["sglang_server_gpu_device_ids"]["type"] == "list"


def test_resolved_ids_keep_the_order_given():
    gpus = nvidia_smi.parse_query_gpu(read(SCENARIO_DIR, "gb300-x2", "query.csv"))
    ids, selected = nvidia_smi.resolve_device_ids(gpus, [" 1", "0"], "GB300")
    assert ids == ["1", "0"]
    assert [g["index"] for g in selected] == [1, 0]
    assert "mig_device" not in selected[0]
