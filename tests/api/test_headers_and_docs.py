"""Protective headers on every response, and /docs working without internet."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from civicgrid.api.middleware import SECURITY_HEADERS
from tests.factories import PASSWORD


@pytest.mark.parametrize(
    "url, private",
    [
        ("/api/v1/labels", True),
        ("/api/v1/cases", True),  # 401
        ("/api/v1/nowhere", True),  # 404
        ("/healthz", False),
        ("/docs", False),
        ("/openapi.json", False),
        ("/nowhere", False),
    ],
)
def test_every_response_carries_the_protective_headers(client: TestClient, url: str, private: bool) -> None:
    reply = client.get(url)
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name] == value, (url, name)
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert (reply.headers.get("Cache-Control") == "no-store") is private


def test_a_token_is_not_cached(client: TestClient) -> None:
    reply = client.post("/api/v1/auth/token", json={"username": "operator", "password": PASSWORD})
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"


def test_docs_work_without_internet(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    links = re.findall(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""", page.text)
    urls = [link for pair in links for link in pair if link]
    assert len(urls) == 4, urls
    assert not re.search(r"https?://|//[a-z]", page.text), "the page must load nothing from another host"
    kinds = {"swagger-ui-bundle.js": "javascript", "swagger-ui.css": "text/css", ".png": "image/png"}
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        kind = next((kind for end, kind in kinds.items() if url.endswith(end)), "application/json")
        assert kind in asset.headers["content-type"], url
    assert client.get("/redoc").status_code == 404
