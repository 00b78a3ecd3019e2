"""IonQ base URLs the config must refuse (a port past 65535, a query or fragment, a wrong API version) and error
bodies that are not IonQ's JSON (a web server's HTML page, a proxy's plain text) turned into one short line."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.backends.ionq_client import IonQClient
from engine.backends.ionq_errors import IonQBadRequestError, IonQServerError
from engine.config import ConfigError, TrainingConfig
from qstore_tui.cli import main

KEY = "fakekey-SECRET123"


def error_of(url: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        TrainingConfig(ionq_api_url=url)
    return info.value


# ----- the URL check -----

@pytest.mark.parametrize(("url", "said"), [
    ("http://127.0.0.1:99999/v0.4", "must have a port 1-65535, got 99999"),
    ("http://127.0.0.1:65536/v0.4", "must have a port 1-65535, got 65536"),
    ("http://127.0.0.1:0/v0.4", "must have a port 1-65535, got 0"),
    ("http://[::1]:70000/v0.4", "must have a port 1-65535, got 70000"),
    ("http://127.0.0.1:4x/v0.4", "must have a port number 1-65535 after the host's ':'"),
])
def test_a_port_outside_1_to_65535_is_refused_naming_the_field(url, said):
    error = error_of(url)
    assert error.field == "ionq_api_url" and f"ionq_api_url: {said}" in str(error)


@pytest.mark.parametrize("url", ["http://127.0.0.1:65535/v0.4", "http://[::1]:1/v0.4", "https://api.ionq.co/v0.4"])
def test_ports_in_range_and_no_port_are_accepted(url):
    assert TrainingConfig(ionq_api_url=url).ionq_api_url == url


@pytest.mark.parametrize(("url", "what"), [
    ("http://127.0.0.1:44157/v0.4?key=SECRET9", "query string"),
    ("http://127.0.0.1:44157/v0.4?", "query string"),
    ("http://127.0.0.1:44157/v0.4#SECRET9", "fragment"),
    ("https://api.ionq.co/v0.4/#", "fragment"),
])
def test_a_query_or_fragment_is_refused_without_echoing_it(url, what):
    # the URL goes into config.toml and checkpoints: `?key=...` would put a key on disk
    error = error_of(url)
    assert error.field == "ionq_api_url" and f"ionq_api_url: must not hold a {what}" in str(error)
    assert "SECRET9" not in str(error) and url not in str(error) and "\n" not in str(error)


@pytest.mark.parametrize(("url", "suggested"), [
    ("http://127.0.0.1:44157/v0.3", "http://127.0.0.1:44157/v0.4"),
    ("http://127.0.0.1:44157/api/v1/", "http://127.0.0.1:44157/api/v0.4"),
    ("https://api.ionq.co/V0.3", "https://api.ionq.co/v0.4"),
    ("https://api.ionq.co", "https://api.ionq.co/v0.4"),
    ("https://example.com/ionq", "https://example.com/ionq/v0.4"),
])
def test_a_missing_or_other_api_version_suggests_the_v0_4_url(url, suggested):
    error = error_of(url)
    assert f"ionq_api_url: must end with the API version /v0.4 (e.g. {suggested})," in str(error)


def test_the_run_command_refuses_a_port_past_65535_with_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("IONQ_API_URL", "http://127.0.0.1:99999/v0.4")
    monkeypatch.setenv("IONQ_API_KEY", KEY)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", "--headless", "--runs-dir", str(tmp_path / "R"), "--set", "backend=ionq",
                     "--set", "n_qubits=2", "--set", "circuit_depth=1", "--set", "n_samples=20", "--set", "epochs=1"])
    assert code == 2, err.getvalue()
    assert "ionq_api_url: must have a port 1-65535, got 99999" in err.getvalue()
    assert "internal error" not in err.getvalue() and not (tmp_path / "R").exists()


# ----- error bodies that are not IonQ's JSON -----

HTML = ("<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <title>Error response</title>\n    </head>\n"
        "    <body>\n        <h1>Error response</h1>\n        <p>Error code: 404</p>\n    </body>\n</html>\n")


def client_answering(status: int, body: str, content_type: str) -> IonQClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers={"Content-Type": content_type})
    return IonQClient("http://127.0.0.1:8999/v0.4", KEY, transport=httpx.MockTransport(answer), max_retries=0)


async def test_an_html_error_page_becomes_one_line_naming_the_server():
    async with client_answering(404, HTML, "text/html; charset=utf-8") as c:
        with pytest.raises(IonQBadRequestError) as info:
            await c.whoami()
    assert str(info.value) == ("IonQ rejected the request (404): the server at http://127.0.0.1:8999/v0.4 did not "
                               "answer as IonQ's API (an HTML page)")


async def test_html_without_its_content_type_is_still_an_html_page():
    async with client_answering(404, "  " + HTML, "application/octet-stream") as c:
        with pytest.raises(IonQBadRequestError) as info:
            await c.whoami()
    assert str(info.value).endswith("(an HTML page)") and "<" not in str(info.value)


async def test_a_plain_text_body_is_collapsed_to_one_line_of_at_most_200_characters():
    body = "upstream said:\r\n  no such\troute\n" + "x" * 500 + f"\n{KEY}\n"
    async with client_answering(404, body, "text/plain") as c:
        with pytest.raises(IonQBadRequestError) as info:
            await c.whoami()
    text = str(info.value)
    assert text.startswith("IonQ rejected the request (404): the server at http://127.0.0.1:8999/v0.4 did not answer "
                           "as IonQ's API: upstream said: no such route xxx")
    assert "\n" not in text and "\r" not in text and "\t" not in text and text.endswith("x...")
    assert len(info.value.message) < 300 and KEY not in text


async def test_a_server_error_with_an_html_body_is_one_line_too():
    async with client_answering(502, HTML, "text/html") as c:
        with pytest.raises(IonQServerError) as info:
            await c.whoami()
    assert "\n" not in str(info.value) and str(info.value).endswith("did not answer as IonQ's API (an HTML page)")


async def test_ionqs_json_error_message_is_kept():
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"type": "NotFoundError", "message": "job not found"}})
    async with IonQClient("http://127.0.0.1:8999/v0.4", KEY, transport=httpx.MockTransport(answer)) as c:
        with pytest.raises(IonQBadRequestError) as info:
            await c.get_job("nope")
    assert str(info.value) == "IonQ rejected the request (404): job not found"


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """A plain web server (Python's http.server), as `python -m http.server` would be: 404 pages in HTML."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v0.4"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_a_web_server_that_is_not_ionq_gives_one_short_line(web_server):
    async with IonQClient(web_server, KEY, max_retries=0) as c:
        with pytest.raises(IonQBadRequestError) as info:
            await c.whoami()
    assert str(info.value) == (f"IonQ rejected the request (404): the server at {web_server} did not answer as "
                               "IonQ's API (an HTML page)")
