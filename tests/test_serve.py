"""`python -m course_utils serve`: a real uvicorn server on loopback, a real upload over HTTP.

The server runs in a child process on a free port of 127.0.0.1 with a tiny LiteRT model (so it
starts without TensorFlow); the requests go through urllib, as any client's would.
"""
import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from course_utils.config import REPO_ROOT
from fixtures_models import CLASSES, write_tiny_models

LIMIT_MB = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = write_tiny_models(tmp_path_factory.mktemp("serve_model"), formats=("fp32",))["fp32"]
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "course_utils", "serve", "--model", str(model), "--port", str(port),
                                "--max-mb", str(LIMIT_MB)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server stopped: {process.stderr.read()}")
        try:
            urllib.request.urlopen(url + "/health", timeout=2).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the server did not answer /health within 60 s")
    yield url
    process.terminate()
    process.wait(timeout=20)


def upload(url: str, name: str, data: bytes) -> tuple[int, dict]:
    """POST ``data`` as the multipart field ``file`` named ``name``; (status, JSON body)."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "/recognize", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def announce_oversized(url: str, size: int) -> tuple[int, dict]:
    """Start an upload whose Content-Length is ``size`` and read the answer before sending the body:
    the server must refuse it at once, without waiting for (or storing) the bytes."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/recognize")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    response = connection.getresponse()
    try:
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def test_health_and_docs(server):
    status, body = get(server + "/health")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["classes"] == CLASSES
    assert health["max_upload_bytes"] == int(LIMIT_MB * 1024 * 1024)
    status, body = get(server + "/openapi.json")
    assert status == 200 and {"/recognize", "/health"} <= set(json.loads(body)["paths"])
    assert get(server + "/docs")[0] == 200


def test_an_uploaded_video_gets_its_timeline(server, mpeg4_avi):
    status, result = upload(server, "clip.avi", mpeg4_avi.path.read_bytes())
    assert status == 200, result
    assert result["file"] == "clip.avi" and result["frames"] == mpeg4_avi.frames
    assert result["timeline"][0]["start"] == 0 and result["timeline"][-1]["end"] == mpeg4_avi.frames
    assert {s["label"] for s in result["timeline"]} <= set(CLASSES)
    assert all(0 <= s["confidence"] <= 1 for s in result["timeline"])


def test_a_short_mp4_is_scored_once(server, h264_1080p):
    status, result = upload(server, "short.mp4", h264_1080p.path.read_bytes())
    assert status == 200, result
    assert result["shorter_than_window"] and result["windows"] == 1 and result["frames"] == h264_1080p.frames


def test_bad_uploads_get_a_clear_4xx(server, not_a_video):
    status, result = upload(server, "notes.avi", not_a_video.read_bytes())
    assert status == 415 and result["detail"].startswith("notes.avi: not a video"), result
    status, result = announce_oversized(server, int(LIMIT_MB * 1024 * 1024) + 1)
    assert status == 413 and "larger than the limit" in result["detail"], result
    status, result = upload(server, "empty.mp4", b"")
    assert status == 415 and "empty" in result["detail"], result
    assert get(server + "/health")[0] == 200  # still serving


def test_a_busy_port_is_a_clear_error(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "course_utils", "serve", "--model", str(tmp_path / "none.tflite"),
                                 "--port", str(port)], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}: cannot listen there (Address already in use)" in result.stderr
