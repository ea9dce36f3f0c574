"""Conformance: fuzz the Open311 endpoints from a corrected copy of the official Swagger
file (``georeport_v2-1.corrected.yaml``, its header says what was corrected). Whatever a
client sends, the answer is never a 5xx, and every answer has a status, content type and
body the specification allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

SWAGGER = Path(__file__).with_name("georeport_v2-1.corrected.yaml")
#: Examples per operation and mode: bounded for CI.
EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = [
    ("GET", "/services.{response_format}"),
    ("GET", "/services/{service_code}.{response_format}"),
    ("GET", "/requests.{response_format}"),
    ("POST", "/requests.{response_format}"),
    ("GET", "/requests/{service_request_id}.{response_format}"),
    ("GET", "/tokens/{token_id}.{response_format}"),
]


def test_the_corrected_file_names_every_open311_operation() -> None:
    document = schemathesis.openapi.from_path(SWAGGER).raw_schema
    found = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_request_breaks_open311(
    app: FastAPI, key: str, method: str, path: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_path(SWAGGER)
    schema.app = app
    operation: Any = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def send(case: Case) -> None:
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
            # A live key, so that positive reports get past the key check to the rest.
            case.body["api_key"] = key
        # A generous timeout: on a busy machine a first answer may take seconds.
        case.call_and_validate(checks=CHECKS, timeout=60)

    send()
