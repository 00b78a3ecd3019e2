"""Fuzzing every file and value a user hands us: each case ends in success or in the documented error type with
a message naming the file, field or row; never another exception, never past its time bound.

Seeded (derandomized, no example database) so a run is reproducible; each example has a deadline. The CLI is then
driven end to end, as a real process, on a sample of the same kinds of input.
"""

import asyncio
import json
import os
import string
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.checkpoint import CheckpointError, TrainingCheckpoint, read_training_checkpoint
from engine.config import ConfigError, TrainingConfig, load_config
from engine.data import DataError, Dataset, load_csv, train_val_split
from qstore_tui.themes import ThemeFileError, load_theme_file

FUZZ = settings(derandomize=True, database=None, deadline=timedelta(seconds=2), max_examples=100,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FIELDS = sorted(TrainingConfig.model_fields)
GROUPS = ("backend", "model", "optimization", "execution", "features", "database", "monitoring")

scalars = st.one_of(st.integers(-10**30, 10**30), st.floats(allow_nan=False), st.booleans(),
                    st.text(max_size=12), st.sampled_from(["5", "true", "adam", "local", "", "nan", "1e400"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(string.ascii_lowercase, min_size=1, max_size=5), inner, max_size=3), max_leaves=6)
names = st.one_of(st.sampled_from(FIELDS), st.text(string.ascii_lowercase + "_", min_size=1, max_size=12))
toml_punctuation = st.text(alphabet='[]{}="\'#.,=\n abc123-+_:', max_size=200)
deep = st.integers(min_value=40, max_value=6000).flatmap(lambda n: st.sampled_from([
    "a = " + "[" * n + "]" * n, "a = " + "{b = " * n + "1" + "}" * n, "[" + "a." * n + "a]\n", "a" + ".a" * n + " = 1",
    "[model]\nn_qubits = " + "[" * n + "4" + "]" * n]))


def _names_a_field(exc: ConfigError) -> bool:
    text = str(exc)
    return any(field is not None for field, _ in exc.problems) or any(
        word in text for word in ("line ", "invalid TOML", "section [", "nested more than", "dotted key"))


# ----- TOML config files -----


@st.composite
def toml_documents(draw):
    kind = draw(st.sampled_from(["flat", "grouped", "text", "deep"]))
    if kind == "text":
        return draw(toml_punctuation)
    if kind == "deep":
        return draw(deep)
    body = draw(st.dictionaries(names, values, max_size=5))
    if kind == "grouped":
        body = {draw(st.sampled_from(GROUPS + ("nope",))): body}
    try:
        return tomli_w.dumps(body)
    except (TypeError, ValueError):
        return "x = 1\n"


@FUZZ
@given(text=toml_documents())
def test_toml_config_files(tmp_path, text):
    path = tmp_path / "fuzz.toml"
    path.write_text(text)
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert str(path) in str(exc) and _names_a_field(exc), str(exc)
    else:
        assert isinstance(config, TrainingConfig)


# ----- --set values -----


@FUZZ
@given(name=names, raw=st.one_of(st.text(max_size=20), st.sampled_from(
    ["1e400", "-0", "0x10", "nan", "inf", "yes", "NONE", " 5 ", "1_000", "9" * 40, "\x00", "\u00e9"])))
def test_set_values(name, raw):
    try:
        config = TrainingConfig().with_overrides({name: raw})
    except ConfigError as exc:
        assert _names_a_field(exc), str(exc)
    else:
        assert isinstance(config, TrainingConfig)


# ----- CSV files -----

cells = st.one_of(st.integers(-5, 5).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.sampled_from(["", " ", "a", "b", "NaN", "inf", "1e999", '"q"', "0.5"]), st.text(max_size=4))


@st.composite
def csv_files(draw):
    header = draw(st.lists(st.sampled_from(["x", "y", "label", "", "x"]) | st.text(string.ascii_letters, max_size=3),
                           min_size=0, max_size=4))
    rows = draw(st.lists(st.lists(cells, max_size=5), max_size=8))
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n"]))


@FUZZ
@given(text=csv_files(), label=st.sampled_from(["label", "x", "missing"]))
def test_csv_files(tmp_path, text, label):
    path = tmp_path / "fuzz.csv"
    path.write_text(text)
    try:
        ds = load_csv(path, label)
        train, val = train_val_split(ds, 0.3, seed=0)
    except DataError as exc:
        assert str(path) in str(exc), str(exc)
    else:
        assert isinstance(train, Dataset) and len(train) >= 1 and len(val) >= 1


# ----- theme files -----


@st.composite
def theme_documents(draw):
    kind = draw(st.sampled_from(["doc", "text", "deep"]))
    if kind == "text":
        return draw(toml_punctuation)
    if kind == "deep":
        return draw(deep)
    colours = st.sampled_from(["#fff", "#81a1c1", "red", "#81a1c1 35%", "nope", "", "#12345"]) | st.text(max_size=6)
    doc = {"name": draw(st.text(max_size=8) | st.integers()), "dark": draw(st.booleans() | st.text(max_size=3)),
           "colors": draw(st.dictionaries(st.sampled_from(["primary", "secondary", "bogus"]), colours, max_size=3)),
           "variables": draw(st.dictionaries(st.sampled_from(["border", "footer-key-foreground", "x"]), colours,
                                             max_size=2))}
    for key in draw(st.lists(st.sampled_from(list(doc)), max_size=2)):
        doc.pop(key, None)
    return tomli_w.dumps(doc)


@FUZZ
@given(text=theme_documents())
def test_theme_files(tmp_path, text):
    path = tmp_path / "fuzz.toml"
    path.write_text(text)
    try:
        theme = load_theme_file(path)
    except ThemeFileError as exc:
        assert str(exc).startswith(f"{path.name}: "), str(exc)  # the theme loader names files by their name
    else:
        assert theme.name


# ----- checkpoint files -----


@pytest.fixture(scope="module")
def checkpoint_json(tmp_path_factory):
    """A real checkpoint of a real run, as JSON."""
    from engine.checkpoint import latest_checkpoint
    from engine.session import EngineSession

    cfg = TrainingConfig(n_qubits=2, circuit_depth=1, n_samples=20, batch_size=8, epochs=1, shots_per_circuit=0,
                         seed=0, embeddings_to_store=False)
    session = EngineSession(cfg, runs_dir=tmp_path_factory.mktemp("fuzz-ck"))
    asyncio.run(session.run())
    return json.loads(latest_checkpoint(session.run_dir / "checkpoints").read_text())


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list) and node:
        yield from _paths(node[0], prefix + (0,))


@st.composite
def damaged_checkpoints(draw, original):
    data = json.loads(json.dumps(original))
    kind = draw(st.sampled_from(["delete", "replace", "truncate", "flip"]))
    if kind in ("truncate", "flip"):
        raw = json.dumps(data).encode()
        at = draw(st.integers(0, len(raw) - 1))
        if kind == "truncate":
            return raw[:at]
        return raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1:]
    path = draw(st.sampled_from([p for p in _paths(data) if p]))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if kind == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(values | st.none())
    return json.dumps(data).encode()


@FUZZ
@given(data=st.data())
def test_checkpoint_files(tmp_path, checkpoint_json, data):
    raw = data.draw(damaged_checkpoints(checkpoint_json))
    path = tmp_path / "step-000002.json"
    path.write_bytes(raw)
    try:
        ck = read_training_checkpoint(path)
    except CheckpointError as exc:
        assert str(exc).startswith(f"{path}: "), str(exc)
    else:
        assert isinstance(ck, TrainingCheckpoint) and ck.state()["step"] == ck.step


# ----- the CLI end to end, on a sample of the same inputs -----


def _cli(args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY")}
    env["XDG_STATE_HOME"] = str(cwd / "state")
    return subprocess.Popen([sys.executable, "-m", "qstore_tui", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_cli_on_hostile_files_and_values_exits_2_naming_the_culprit(tmp_path):
    (tmp_path / "deep.toml").write_text("a = " + "[" * 5000 + "]" * 5000)
    (tmp_path / "typed.toml").write_text('[optimization]\nepochs = "5"\n')
    (tmp_path / "few.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (tmp_path / "huge.toml").write_text("[optimization]\nepochs = " + "7" * 5000 + "\n")  # tomllib's int() raised
    cases = {
        "huge.toml": (["run", "--headless", "--config", "huge.toml"],
                      "huge.toml, line 2: an integer of more than 4,300 digits, more than Python reads"),
        "deep.toml": (["run", "--headless", "--config", "deep.toml"], "deep.toml, line 1: nested more than"),
        "typed.toml": (["run", "--headless", "--config", "typed.toml"], "typed.toml: epochs:"),
        "few.csv": (["run", "--headless", "--runs-dir", "runs", "--set", "dataset=csv", "--set",
                     "dataset_path=few.csv", "--set", "label_column=label", "--set", "n_qubits=2", "--set",
                     "epochs=1", "--set", "shots_per_circuit=0"], "few.csv: 2 data rows (class '0': 1, class '1': 1)"),
    }
    procs = {name: _cli(args, tmp_path) for name, (args, _) in cases.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        expected = cases[name][1]
        assert proc.returncode == 2, (name, err)
        assert expected in err and "Traceback" not in err + out, (name, err)
    assert not Path(tmp_path / "state").exists()  # no crash log: every case was a known error


def test_a_config_saved_with_a_byte_order_mark_and_windows_line_ends_loads_like_the_plain_one(tmp_path):
    """Notepad writes a UTF-8 BOM and CRLF; tomllib called the BOM an invalid statement at line 1."""
    plain, windows = tmp_path / "plain.toml", tmp_path / "windows.toml"
    plain.write_text('epochs = 3\nlearning_rate = 0.05\n')
    windows.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n"))
    assert load_config(windows) == load_config(plain)
    assert load_config(windows).epochs == 3
