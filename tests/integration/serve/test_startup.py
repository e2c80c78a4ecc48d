"""``tabops serve`` says where it serves only once it listens, and fails before that with a
clear message and no traceback: a busy port (exit 2, before loading anything), a tampered
artifact (refused) (issue 11, item 10)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tabops.registry.compiled import ONNX_FILE
from tabops.registry.models import CHAMPION
from tests.integration.serve.checks import shared_project
from tests.integration.serve.conftest import TABOPS, ServedProject, free_port, make_project
from tests.integration.serve.test_reload import compiled_file, registry_of

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return shared_project(tmp_path_factory)


def serve_until_exit(
    project: ServedProject, port: int, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TABOPS, "serve", "--spec", str(project.folder), "--port", str(port), *args],
        cwd=project.folder, env=project.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_busy_port_is_exit_2_saying_so_without_serving(
    project: ServedProject, workers: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve_until_exit(project, port, "--workers", workers)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"port {port} on 127.0.0.1 is in use; pick another with --port" in output
    assert "Serving" not in output and "Traceback" not in output


def test_a_tampered_artifact_is_refused_with_a_message_not_a_traceback(
    tmp_path: Path,
) -> None:
    tampered = make_project(tmp_path / "tampered")
    registry = registry_of(tampered)
    version = registry.by_alias(CHAMPION)
    assert version is not None
    onnx = compiled_file(registry, version, ONNX_FILE)
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    result = serve_until_exit(tampered, free_port())
    output = result.stdout + result.stderr
    assert result.returncode in (2, 3), output
    assert "SHA-256" in output
    assert "Serving" not in output and "Traceback" not in output


def test_the_address_is_printed_once_the_server_listens(project: ServedProject) -> None:
    """The moment the line appears, the address answers (no retry): it is printed after the
    model is loaded and the socket listens, not before."""
    port = free_port()
    log = project.folder / f"announce-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [TABOPS, "serve", "--spec", str(project.folder), "--port", str(port)],
            cwd=project.folder, env=project.env(), stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while f"at http://127.0.0.1:{port}" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        assert httpx.get(f"http://127.0.0.1:{port}/livez", timeout=30).status_code == 200
        assert "Traceback" not in log.read_text(errors="replace")
    finally:
        process.kill()
        process.wait(30)
