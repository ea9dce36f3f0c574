"""What every route refuses alike, as a dependency of the whole app: query parameters the
route does not declare (a typo must not silently widen a list), and control, line-break or
text-direction characters in path and query values. Bodies are checked by the input types
of ``civicgrid.schemas``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from civicgrid.schemas import check_line


async def strict_request(request: Request) -> None:
    """Refuse (422) undeclared query parameters and unsafe path or query values."""
    declared = declared_query_parameters(request.scope["route"].dependant)
    problems: list[dict[str, Any]] = [
        {"loc": ("query", name), "msg": "unknown query parameter", "type": "extra_forbidden"}
        for name in request.query_params
        if name not in declared
    ]
    values = [("path", name, value) for name, value in request.path_params.items()]
    values += [("query", name, value) for name, value in request.query_params.multi_items()]
    for where, name, value in values:
        try:
            check_line(str(value))
        except ValueError as error:
            problems.append({"loc": (where, name), "msg": str(error), "type": "value_error"})
    if problems:
        raise RequestValidationError(problems)


def declared_query_parameters(dependant: Dependant) -> set[str]:
    """The query parameter names a route takes: its own, its dependencies', and the fields
    of query models (``Annotated[Filters, Query()]``)."""
    names: set[str] = set()
    for field in dependant.query_params:
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names.update(info.alias or name for name, info in model.model_fields.items())
        else:
            names.add(field.alias)
    for dependency in dependant.dependencies:
        names |= declared_query_parameters(dependency)
    return names
