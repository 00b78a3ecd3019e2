"""`qstore-tui serve`: the same app in a browser, through textual-serve, on 127.0.0.1 only.

Every browser tab gets its own app process (textual-serve runs `python -m qstore_tui` per
connection). It listens on the loopback interface only: from a laptop, reach it through SSH
(`ssh -L PORT:127.0.0.1:PORT user@host`), which also encrypts it; nothing is exposed to the network.

textual-serve bundles xterm.js in its own `textual.js` (no CDN); its page only asks Google Fonts
for Roboto Mono, which the package also ships. `serve` points the page at those local fonts, so
it loads without any network beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import getpass
import shlex
import socket
import sys
from pathlib import Path

from .command import EXIT_OK, Command
from .options import no_mouse_option, runs_dir, runs_dir_option

HOST = "127.0.0.1"
_GOOGLE_FONTS = '<link\n      rel="stylesheet"\n      href="https://fonts.googleapis.com/css?family=Roboto%20Mono"\n    />'
_LOCAL_FONTS = """<style>
      @font-face { font-family: "Roboto Mono"; font-style: normal;
                   src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf"); }
      @font-face { font-family: "Roboto Mono"; font-style: italic;
                   src: url("{{ config.static.url }}fonts/RobotoMono-Italic-VariableFont_wght.ttf"); }
    </style>"""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8000, metavar="N", help="port on 127.0.0.1 (default 8000)")
    runs_dir_option(p)
    no_mouse_option(p)


def local_templates(directory: Path) -> Path:
    """textual-serve's page template with its one outside request (Google Fonts) made local."""
    import textual_serve

    source = Path(textual_serve.__file__).parent / "templates" / "app_index.html"
    page = source.read_text(encoding="utf-8")
    if _GOOGLE_FONTS not in page:  # textual-serve changed its page: keep it as it is, say nothing false
        page = page.replace('href="https://fonts.googleapis.com/css?family=Roboto%20Mono"', 'href="data:,"')
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app_index.html").write_text(page.replace(_GOOGLE_FONTS, _LOCAL_FONTS), encoding="utf-8")
    return directory


def app_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each browser tab: this app, on the same runs directory."""
    words = [sys.executable, "-m", "qstore_tui", "--runs-dir", str(runs_dir(args))]
    if args.no_mouse:
        words.append("--no-mouse")
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    import tempfile

    from engine.config import ConfigError
    from engine.fileio import error_text
    from textual_serve.server import Server

    if not 1 <= args.port <= 65535:
        raise ConfigError("port", f"must be 1-65535, got {args.port}")
    url = f"http://{HOST}:{args.port}"
    with tempfile.TemporaryDirectory(prefix="qstore-serve-") as scratch:
        server = Server(app_command(args), host=HOST, port=args.port, title="qstore-tui",
                        templates_path=local_templates(Path(scratch)))
        print(f"qstore-tui in a browser: {url}  (127.0.0.1 only; Ctrl-C stops it)", flush=True)
        print(f"from another machine: ssh -L {args.port}:{HOST}:{args.port} "
              f"{getpass.getuser()}@{socket.gethostname()}  then open {url}", flush=True)
        try:
            server.serve()
        except OSError as exc:  # the port is taken (another serve, a web server): the caller picks another
            raise ConfigError("port", f"cannot listen on {HOST}:{args.port}: {error_text(exc)}; "
                                      "choose another with --port") from None
    return EXIT_OK


COMMAND = Command(name="serve", help="serve the app in a browser on 127.0.0.1 (textual-serve)", run=run,
                  configure=configure,
                  description="Serve the TUI through textual-serve on 127.0.0.1 only; reach it from another "
                              "machine with the `ssh -L` line it prints.")
