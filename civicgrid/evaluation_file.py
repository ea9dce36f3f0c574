"""Evaluation schemes as files: the shipped default (EVALUATION.md §3) and a centre's own
TOML file, checked on load (``civicgrid.domain.evaluation.parse_scheme``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from civicgrid.domain.evaluation import Scheme, SchemeError, parse_scheme


def default_scheme_path() -> Path:
    """The shipped default scheme."""
    return Path(__file__).resolve().parent / "data" / "evaluation.toml"


def load_scheme(path: Path) -> Scheme:
    """The scheme in the TOML file ``path``; SchemeError naming the file and the mistake."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SchemeError(f"{path.name}: {error}") from None
    try:
        return parse_scheme(data)
    except SchemeError as error:
        raise SchemeError(f"{path.name}: {error}") from None
