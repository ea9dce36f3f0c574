"""The API tests' fixtures (the API's clock, signing in) for the exchange tests."""

from tests.api.conftest import clock, login

__all__ = ["clock", "login"]
