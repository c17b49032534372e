#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sglang_structured_output_check
short_description: Check that SGLang's constrained decoding returns JSON that matches a JSON Schema
version_added: 0.1.0
description:
  - Runbook step 8 as a check. Sends O(samples) chat completions with a C(response_format) of type
    C(json_schema) (with O(schema_name) and O(schema)), parses each answer's content as
    JSON and validates it against the schema with the C(jsonschema) library (the validator class the
    schema's C($schema) names, Draft 2020-12 when it names none).
  - Fails when the fraction of valid samples is below O(min_valid_fraction), listing every violation with
    its JSON path (RV(errors)).
  - The default schema and prompt are the runbook's C(languages) example.
author:
  - DGX Station inference maintainers (@dgx-station)
options:
  prompt:
    description: User message to send.
    type: str
    default: List three programming languages with their primary use case and year created.
  schema:
    description:
      - The JSON Schema the answer must match, sent as C(response_format.json_schema.schema).
      - Default is the runbook's schema, an object with a C(languages) array whose items need
        C(name) (string), C(primary_use) (string) and C(year_created) (integer).
    type: dict
  schema_name:
    description: C(response_format.json_schema.name) (SGLang requires one).
    type: str
    default: languages
  strict:
    description: C(response_format.json_schema.strict); not sent when unset.
    type: bool
  samples:
    description: Number of requests to send (one after the other).
    type: int
    default: 1
  min_valid_fraction:
    description: Fraction of samples (0.0 to 1.0) that must parse and validate.
    type: float
    default: 1.0
  max_tokens:
    description: C(max_tokens) of each request. An answer cut at this limit is usually invalid JSON.
    type: int
    default: 512
  temperature:
    description: Sampling temperature; the server's default when not set.
    type: float
  extra_body:
    description: Extra fields merged into each request body (for example C(chat_template_kwargs)).
    type: dict
    default: {}
extends_documentation_fragment:
  - dgx_station.inference.connection
  - dgx_station.inference.attributes.READ_ONLY
requirements:
  - jsonschema (Python library, on the host the module runs on; the Station venv has it)
seealso:
  - module: dgx_station.inference.sglang_smoke_test
"""

EXAMPLES = r"""
- name: Runbook step 8, five times
  dgx_station.inference.sglang_structured_output_check:
    samples: 5
  register: structured

- name: Own schema, tolerate one bad answer in ten
  dgx_station.inference.sglang_structured_output_check:
    prompt: Give the capital of France and its population.
    schema_name: city
    schema:
      type: object
      properties:
        city: {type: string}
        population: {type: integer, minimum: 0}
      required: [city, population]
      additionalProperties: false
    samples: 10
    min_valid_fraction: 0.9
"""

RETURN = r"""
valid:
  description: The valid fraction reached O(min_valid_fraction).
  returned: always
  type: bool
  sample: true
valid_fraction:
  description: Valid samples divided by samples sent.
  returned: when at least one sample was sent
  type: float
  sample: 1.0
valid_samples:
  description: Number of valid samples.
  returned: when at least one sample was sent
  type: int
parsed:
  description: The JSON parsed from the last sample's content (null when it was not JSON).
  returned: when at least one sample was sent
  type: raw
  sample: {languages: [{name: Python, primary_use: Data science, year_created: 1991}]}
errors:
  description: Every violation of every sample.
  returned: always
  type: list
  elements: dict
  contains:
    sample:
      description: Sample number, from 1.
      type: int
    path:
      description: JSON path of the offending value (C($) for the whole document).
      type: str
      sample: $.languages[0].year_created
    message:
      description: What is wrong.
      type: str
      sample: "'1991' is not of type 'integer'"
    validator:
      description: The failing JSON Schema keyword, or C(json) when the content is not JSON.
      type: str
      sample: type
samples:
  description: One entry per request.
  returned: always
  type: list
  elements: dict
  contains:
    sample:
      description: Sample number, from 1.
      type: int
    valid:
      description: The content parsed and validated.
      type: bool
    content:
      description: The raw content.
      type: str
    finish_reason:
      description: C(finish_reason) of the answer.
      type: str
    error_count:
      description: Number of violations.
      type: int
    latency_s:
      description: Wall time of the request in seconds.
      type: float
model:
  description: Model name sent in the requests.
  returned: when the server answered
  type: str
served_model:
  description: First model C(/v1/models) lists.
  returned: when the server answered
  type: str
error_kind:
  description: Class of an HTTP-level failure (for example C(connection_refused), C(not_ready), C(unauthorized)).
  returned: on HTTP failure
  type: str
"""

import copy
import json

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_checks import LANGUAGES_PROMPT, LANGUAGES_SCHEMA
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_module import SGLangModule
from ansible_collections.dgx_station.inference.plugins.module_utils.jsonschema_support import (
    JSONSCHEMA_IMPORT_ERROR,
    jsonschema,
    jsonschema_validators,
)


def _json_path(error):
    path = getattr(error, "json_path", None)
    if path:
        return path
    text = "$"
    for part in error.absolute_path:
        text += "[%d]" % part if isinstance(part, int) else ".%s" % part
    return text


def validate_content(validator, content, sample):
    """(parsed or None, list of error dicts) for one answer's content."""
    try:
        parsed = json.loads(content)
    except (TypeError, ValueError) as exc:
        return None, [dict(sample=sample, path="$", validator="json",
                           message="content is not valid JSON (%s): %r" % (exc, (content or "")[:200]))]
    errors = sorted(validator.iter_errors(parsed), key=lambda e: list(e.absolute_path))
    return parsed, [dict(sample=sample, path=_json_path(e), validator=str(e.validator), message=e.message) for e in errors]


def check_samples(module, validator, schema):
    params = module.params
    result = module.result
    result.update(valid=False, errors=[], samples=[])
    json_schema = dict(name=params["schema_name"], schema=schema)
    if params["strict"] is not None:
        json_schema["strict"] = params["strict"]
    parsed = None
    model, served = module.resolve_model()
    result.update(model=model, served_model=served[0] if served else None)
    for number in range(1, params["samples"] + 1):
        payload = dict(params["extra_body"] or {})
        payload.update(model=model, messages=[dict(role="user", content=params["prompt"])],
                       max_tokens=params["max_tokens"], response_format=dict(type="json_schema", json_schema=json_schema))
        if params["temperature"] is not None:
            payload["temperature"] = params["temperature"]
        answer = module.client.chat_exchange(payload)
        if answer.ok or answer.finish_reason == "length":
            parsed, errors = validate_content(validator, answer.content, number)
        else:
            parsed, errors = None, [dict(sample=number, path="$", validator="answer", message=answer.error)]
        if errors and answer.finish_reason == "length":
            errors[0]["message"] += " (finish_reason length: the answer was cut at max_tokens=%d)" % params["max_tokens"]
        result["errors"].extend(errors)
        result["samples"].append(dict(sample=number, valid=not errors, content=answer.content,
                                      finish_reason=answer.finish_reason, error_count=len(errors),
                                      latency_s=round(answer.e2e, 4)))

    valid_samples = sum(1 for s in result["samples"] if s["valid"])
    fraction = valid_samples / float(len(result["samples"]))
    result.update(parsed=parsed, valid_samples=valid_samples, valid_fraction=round(fraction, 4),
                  valid=fraction >= params["min_valid_fraction"])
    if not result["valid"]:
        shown = ["sample %d %s: %s" % (e["sample"], e["path"], e["message"]) for e in result["errors"][:10]]
        more = len(result["errors"]) - len(shown)
        module.fail_json("Structured output check failed: %d of %d samples valid (%.0f%% < %.0f%% required). "
                         "Violations: %s%s" % (valid_samples, len(result["samples"]), fraction * 100,
                                               params["min_valid_fraction"] * 100, "; ".join(shown),
                                               " (and %d more)" % more if more > 0 else ""))
    module.exit_json(msg="%d of %d samples matched the schema %r" % (valid_samples, len(result["samples"]), params["schema_name"]))


def main():
    module = SGLangModule(argument_spec=dict(
        prompt=dict(type="str", default=LANGUAGES_PROMPT),
        schema=dict(type="dict"),
        schema_name=dict(type="str", default="languages"),
        strict=dict(type="bool"),
        samples=dict(type="int", default=1),
        min_valid_fraction=dict(type="float", default=1.0),
        max_tokens=dict(type="int", default=512, no_log=False),
        temperature=dict(type="float"),
        extra_body=dict(type="dict", default={}),
    ))
    if JSONSCHEMA_IMPORT_ERROR:
        module.fail_json(missing_required_lib("jsonschema"), exception=JSONSCHEMA_IMPORT_ERROR)
    params = module.params
    if params["samples"] < 1:
        module.fail_json("samples must be at least 1")
    if not 0.0 <= params["min_valid_fraction"] <= 1.0:
        module.fail_json("min_valid_fraction must be between 0.0 and 1.0")
    schema = params["schema"] if params["schema"] is not None else copy.deepcopy(LANGUAGES_SCHEMA)
    validator_class = jsonschema_validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        module.fail_json("schema is not a valid JSON Schema (%s): %s at %s" % (
            validator_class.__name__, exc.message, _json_path(exc)))
    module.run(lambda: check_samples(module, validator_class(schema), schema))


if __name__ == "__main__":
    main()
