"""An independent Open311 client against a live server: ``georeport`` from PyPI (not ours)
reads services, definitions and requests in JSON and XML. No Open311 library on PyPI that
installs on Python 3.11 writes (``georeport`` only reads; ``three`` and ``open311`` are
Python 2), so reports are sent as the specification's example request shows, with
``requests`` (the library's own HTTP client)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest
import requests
import uvicorn
import xmltodict
from fastapi import FastAPI
from georeport import GeoReport

from civicgrid.settings import Settings


@pytest.fixture
def server(app: FastAPI, key: str) -> Iterator[str]:
    """The app served over HTTP on a free local port, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    live = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=live.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not live.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.started
    yield f"http://127.0.0.1:{port}/open311/v2"
    live.should_exit = True
    thread.join(timeout=10)
    sock.close()


def spec_example_body(key: str, jurisdiction: str) -> str:
    """The specification's example request, with this centre's key, jurisdiction, a service
    of its own and a point in its territory."""
    return (
        f"api_key={quote_plus(key)}&jurisdiction_id={jurisdiction}&service_code=C0101&lat=30.005&long=120.005"
        "&address_string=1234+5th+street&email=smit333%40sfgov.edu&device_id=tt222111&account_id=123456"
        "&first_name=john&last_name=smith&phone=111111111&description=A+large+sinkhole+is+destroying+the+street"
        "&media_url=http%3A%2F%2Fcity.gov.s3.amazonaws.com%2Frequests%2Fmedia%2F638344.jpg"
        "&attribute[condition]=missing"
    )


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_a_client_library_reads_and_reports(
    server: str, key: str, settings: Settings, output_format: str
) -> None:
    jurisdiction = settings.open311_jurisdiction_id
    client = GeoReport(server, jurisdiction=jurisdiction, api_key=key, output_format=output_format)

    services = client.get_service_list()
    lamp = next(s for s in services if s["service_code"] == "C0108")
    assert lamp["service_name"] == "路灯" and lamp["group"] == "公用设施"
    definition = client.get_service_definition("C0101")
    assert definition["service_code"] == "C0101"
    attributes = definition["attributes"]
    first = attributes[0] if output_format == "json" else attributes["attribute"][0]
    assert first["code"] == "condition" and first["datatype"] == "singlevaluelist"

    posted = requests.post(
        f"{server}/requests.{output_format}",
        data=spec_example_body(key, jurisdiction).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        timeout=10,
    )
    assert posted.status_code == 200, posted.text
    if output_format == "json":
        created = posted.json()[0]
    else:
        created = xmltodict.parse(posted.content)["service_requests"]["request"]
    number = created["service_request_id"]
    assert created["account_id"] == "123456"

    one = client.get_service_request(number)
    assert one["service_request_id"] == number and one["status"] == "open"
    assert one["description"] == "A large sinkhole is destroying the street"
    listed = client.get_service_requests(service_request_id=number)
    rows = listed if isinstance(listed, list) else [listed]
    assert [row["service_request_id"] for row in rows] == [number]
    open_ones = client.get_service_requests(status="open", service_code="C0101")
    rows = open_ones if isinstance(open_ones, list) else [open_ones]
    assert number in [row["service_request_id"] for row in rows]

    refused = requests.post(
        f"{server}/requests.{output_format}",
        data=spec_example_body("xyz", jurisdiction).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert refused.status_code == 403
    with pytest.raises(requests.HTTPError):
        client.get_service_definition("NOPE")
