"""Property-based run over the OpenAPI description: no 5xx, answers conform to the documented schemas."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from indexer.search.retriever import Retriever
from service.app import create_app
from service.settings import ServiceSettings

MAX_EXAMPLES = 25  # per operation and generation mode, so the run stays short
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# schemathesis' pytest plugin does not run under pytest 9 (it reads a removed attribute), so each
# operation is driven here through its hypothesis strategy.
OPERATIONS = (
    "search",
    "search_post",
    "search_export",
    "search_export_post",
    "get_passage",
    "get_article",
    "list_documents",
    "get_document",
    "get_taxonomy",
    "get_index_manifest",
    "livez",
    "readyz",
    "metrics",
    "list_competences",
    "evaluate_profile",
    "law_impact",
)


@pytest.fixture(scope="module")
def api_app(fake_settings: ServiceSettings, retriever: Retriever) -> FastAPI:
    return create_app(fake_settings, retriever=retriever)


@pytest.fixture(scope="module")
def api_schema(api_app: FastAPI) -> OpenApiSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", api_app)


# Operations without parameters have no invalid input to generate.
WITH_INPUT = (
    "search",
    "search_post",
    "search_export",
    "search_export_post",
    "get_passage",
    "get_article",
    "get_document",
    "list_competences",
    "evaluate_profile",
    "law_impact",
)
RUNS = [(op, GenerationMode.POSITIVE) for op in OPERATIONS] + [
    (op, GenerationMode.NEGATIVE) for op in WITH_INPUT
]


def test_every_operation_is_fuzzed(api_schema: OpenApiSchema) -> None:
    ids = {
        operation.definition.raw["operationId"]
        for operation in (result.ok() for result in api_schema.get_all_operations())  # type: ignore[union-attr]
    }
    assert set(OPERATIONS) <= ids


@pytest.mark.parametrize(("operation_id", "mode"), RUNS, ids=[f"{op}-{mode.value}" for op, mode in RUNS])
def test_operation_conforms_to_its_openapi(
    api_schema: OpenApiSchema, operation_id: str, mode: GenerationMode
) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    strategy = operation.as_strategy(generation_mode=mode)
    explicit = operation.get_strategies_from_examples() if mode == GenerationMode.POSITIVE else []
    cases = st.one_of(strategy, *explicit) if explicit else strategy

    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    run()
