"""The upload of a phone photo over HTTP: a ~5 MB JPEG sent as multipart/form-data to a real
``civicgrid serve``, checked by its bytes, stored, thumbnailed and recorded, timed beside
the trivial ``/healthz`` on the same connection. Each round sends different bytes (a new
JPEG comment), so no round is saved by the store already holding the file.

    python benchmarks/bench_uploads.py [--rounds 20] [--megabytes 5] [--database-url URL]

Target: under 1 s per upload. The demo district is loaded into a throw-away database first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.load_test import HOST, _client, _free_port, _wait_until_up

PASSWORD = "civicgrid-demo"


def phone_photo(megabytes: float) -> bytes:
    """A 12-megapixel JPEG of about ``megabytes``: smooth shapes with sensor-like noise, at
    the quality that comes closest."""
    size = (4032, 3024)
    base = Image.radial_gradient("L").resize(size).convert("RGB")
    noise = Image.effect_noise(size, 40).filter(ImageFilter.GaussianBlur(0.6)).convert("RGB")
    picture = Image.blend(base, noise, 0.5)
    best = b""
    for quality in range(70, 100, 3):
        out = BytesIO()
        picture.save(out, "JPEG", quality=quality)
        if not best or abs(len(out.getvalue()) - megabytes * 2**20) < abs(len(best) - megabytes * 2**20):
            best = out.getvalue()
    return best


def with_comment(jpeg: bytes, text: str) -> bytes:
    """``jpeg`` with a comment segment (COM) after its start marker: new bytes, same picture."""
    comment = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def _ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]
    return (
        f"median {statistics.median(seconds) * 1000:7.1f} ms, p95 {p95 * 1000:7.1f} ms, "
        f"max {ordered[-1] * 1000:7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20, help="uploads timed")
    parser.add_argument("--megabytes", type=float, default=5.0, help="size of the photo")
    parser.add_argument("--database-url", help="a throw-away database; default: a temporary SQLite file")
    args = parser.parse_args()
    photo = phone_photo(args.megabytes)
    print(f"photo: 4032×3024 JPEG, {len(photo) / 2**20:.2f} MB", flush=True)

    with tempfile.TemporaryDirectory(prefix="civicgrid-uploads-") as workdir:
        url = args.database_url or f"sqlite:///{Path(workdir) / 'uploads.db'}"
        env = {
            **os.environ,
            "CIVICGRID_DATABASE_URL": url,
            "CIVICGRID_ENVIRONMENT": "development",
            "CIVICGRID_UPLOAD_DIR": str(Path(workdir) / "files"),
        }
        command = [sys.executable, "-m", "civicgrid.cli"]
        subprocess.run([*command, "demo", "--cases", "20"], env=env, check=True, stdout=subprocess.DEVNULL)
        port = _free_port()
        base = f"http://{HOST}:{port}"
        with (Path(workdir) / "server.log").open("wb") as log:
            serve = [*command, "serve", "--host", HOST, "--port", str(port)]
            server = subprocess.Popen(serve, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base, server)
            with _client(base) as client:
                token = client.post("/api/v1/auth/token", json={"username": "operator", "password": PASSWORD})
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                number = client.get("/api/v1/cases?page_size=1", headers=headers).json()["items"][0]["number"]
                uploads: list[float] = []
                trivial: list[float] = []
                for round_ in range(args.rounds):
                    began = time.perf_counter()
                    assert client.get("/healthz").status_code == 200
                    trivial.append(time.perf_counter() - began)
                    data = with_comment(photo, f"round {round_}")
                    began = time.perf_counter()
                    reply = client.post(
                        f"/api/v1/cases/{number}/attachments",
                        files={"file": (f"IMG_{round_:04d}.jpg", data, "image/jpeg")},
                        data={"purpose": "before"},
                        headers=headers,
                    )
                    uploads.append(time.perf_counter() - began)
                    assert reply.status_code == 201, reply.text
                thumbnail = client.get(reply.json()["thumbnail_uri"], headers=headers)
                assert thumbnail.status_code == 200
                print(
                    f"thumbnail: {Image.open(BytesIO(thumbnail.content)).size}, {len(thumbnail.content):,} bytes"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"GET /healthz                {_ms(trivial)}")
    print(f"upload {len(photo) / 2**20:.1f} MB + thumbnail   {_ms(uploads)}")
    slow = max(uploads)
    print("target (< 1 s per upload):", "met" if slow < 1 else f"MISSED ({slow:.2f} s)")
    return 0 if slow < 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
