"""TrainingConfig: fields, rules and their messages, presets, user-typed values, secrets, TOML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

import engine.fileio
from engine.config import (
    DEFAULT_IONQ_API_URL,
    FIELD_GROUPS,
    PRESETS,
    ConfigError,
    TrainingConfig,
    config_to_toml,
    field_choices,
    format_field,
    load_config,
    parse_field,
    save_config,
)

CANARY_IONQ = "ionq-canary-7f3a9c"
CANARY_PINECONE = "pc-canary-51bd02"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("IONQ_API_KEY", "PINECONE_API_KEY", "IONQ_API_URL"):
        monkeypatch.delenv(var, raising=False)


def error_of(**kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        TrainingConfig(**kwargs)
    return info.value


# ----- fields -----

GUIDE_REFERENCE = {
    "pinecone_environment": "us-east-1",
    "pinecone_index_name": "quantum-ml-v34",
    "quantum_sdk": "cirq",
    "quantum_target": "simulator",
    "learning_rate": 0.01,
    "batch_size": 10,
    "epochs": 5,
    "n_qubits": 8,
    "circuit_depth": 2,
    "entanglement": "linear",
    "optimizer": "adam",
    "gradient_method": "spsa_parallel",
    "momentum": 0.9,
    "weight_decay": 0.0,
    "use_batch_api": True,
    "use_native_gates": True,
    "enable_smart_caching": True,
    "adaptive_batch_sizing": False,
    "connection_pool_size": 5,
    "shots_per_circuit": 1000,
    "max_concurrent_circuits": 50,
    "enable_circuit_compression": True,  # ours defaults on (verified compression); the guide said False
    "max_queue_wait_time": 30.0,
    "retry_failed_circuits": True,
    "log_interval": 10,
    "track_gradients": True,
    "checkpoint_interval": 10,
    # the implementation's extras
    "use_gradient_clipping": False,
    "gradient_clip_value": 1.0,
    "checkpoint_directory": None,
    "spsa_c_initial": 0.1,
    "spsa_a_initial": 0.2,  # ours: 0.01 barely moves the circuit (see engine/config.py)
    # ours
    "backend": "local",
    "ionq_api_url": "https://api.ionq.co/v0.4",
    "noise_model": "ideal",
    "spsa_alpha": 0.602,
    "spsa_gamma": 0.101,
    "spsa_A": None,
    "early_stopping_patience": 0,
    "store_backend": "local",
    "max_cost_usd": None,
    "runs_dir": None,
    "quantum_api_key": None,
    "pinecone_api_key": None,
}


def test_defaults_follow_the_v34_full_reference():
    config = TrainingConfig()
    # gradient_method defaults to "auto": at the guide's 1000 shots it resolves to the guide's spsa_parallel
    actual = {name: getattr(config, "gradient_estimator" if name == "gradient_method" else name)
              for name in GUIDE_REFERENCE}
    assert actual == GUIDE_REFERENCE and config.gradient_method == "auto"


def test_every_field_is_in_exactly_one_group_with_a_description():
    assert list(FIELD_GROUPS) == [
        "backend", "model", "optimization", "execution", "features", "database", "monitoring"
    ]
    grouped = [name for names in FIELD_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(TrainingConfig.model_fields)
    assert len(grouped) == len(set(grouped))
    for name, info in TrainingConfig.model_fields.items():
        assert info.description and "\n" not in info.description, name
        assert info.json_schema_extra["group"] in FIELD_GROUPS
    schema = TrainingConfig.model_json_schema()["properties"]
    assert schema["learning_rate"]["group"] == "optimization"
    assert schema["pinecone_api_key"]["group"] == "database"


def test_field_choices_lists_enum_values_only():
    assert field_choices("entanglement") == ("linear", "full", "circular")
    assert field_choices("quantum_target") == ("simulator", "qpu.aria-1", "qpu.aria-2", "qpu.forte-1",
                                               "qpu.forte-enterprise-1")
    assert field_choices("batch_size") is None
    with pytest.raises(ConfigError, match="unknown field"):
        field_choices("nope")


# ----- per-field rules -----

FIELD_RULES = [
    ({"learning_rate": -1}, "learning_rate: must be > 0, got -1"),
    ({"learning_rate": 11}, "learning_rate: must be <= 10, got 11"),
    ({"learning_rate": float("nan")}, "learning_rate: must be a finite number, got nan"),
    ({"batch_size": 0}, "batch_size: must be >= 1, got 0"),
    ({"batch_size": 1.5}, "batch_size: must be an integer, got 1.5"),
    ({"epochs": 0}, "epochs: must be >= 1, got 0"),
    ({"n_qubits": 0}, "n_qubits: must be >= 1, got 0"),
    ({"n_qubits": 17}, "n_qubits: must be <= 16, got 17"),
    ({"circuit_depth": 0}, "circuit_depth: must be >= 1, got 0"),
    ({"entanglement": "ring"}, "entanglement: must be one of 'linear', 'full' or 'circular', got 'ring'"),
    ({"optimizer": "rmsprop"}, "optimizer: must be one of 'adam' or 'sgd', got 'rmsprop'"),
    ({"gradient_method": "backprop"}, "gradient_method: must be one of 'spsa_parallel', 'spsa', 'parameter_shift'"),
    ({"quantum_target": "qpu.harmony"}, "quantum_target: must be one of 'simulator', 'qpu.aria-1', 'qpu.aria-2', "
                                        "'qpu.forte-1' or 'qpu.forte-enterprise-1'"),
    ({"quantum_sdk": "braket"}, "quantum_sdk: must be one of 'cirq' or 'qiskit', got 'braket'"),
    ({"backend": "aws"}, "backend: must be one of 'local', 'ionq' or 'emulator', got 'aws'"),
    ({"noise_model": "harmony"},
     "noise_model: must be one of 'ideal', 'aria-1', 'forte-1' or 'characterization', got 'harmony'"),
    ({"dataset": "iris"}, "dataset: must be one of 'moons', 'circles', 'xor', 'blobs' or 'csv', got 'iris'"),
    ({"store_backend": "redis"}, "store_backend: must be one of 'local' or 'pinecone', got 'redis'"),
    ({"momentum": 1.0}, "momentum: must be < 1, got 1.0"),
    ({"momentum": -0.1}, "momentum: must be >= 0, got -0.1"),
    ({"weight_decay": -0.1}, "weight_decay: must be >= 0, got -0.1"),
    ({"validation_split": 0}, "validation_split: must be > 0, got 0"),
    ({"validation_split": 0.95}, "validation_split: must be <= 0.9, got 0.95"),
    ({"n_samples": 3}, "n_samples: must be >= 4, got 3"),
    ({"n_features": 0}, "n_features: must be >= 1, got 0"),
    ({"n_blobs": 1}, "n_blobs: must be >= 2, got 1"),
    ({"data_noise": -0.5}, "data_noise: must be >= 0, got -0.5"),
    ({"label_column": ""}, "label_column: must not be empty"),
    ({"dataset_path": ""}, "dataset_path: must not be empty"),
    ({"shots_per_circuit": -1}, "shots_per_circuit: must be >= 0, got -1"),
    ({"shots_per_circuit": 1_000_001}, "shots_per_circuit: must be <= 1000000, got 1000001"),
    ({"max_concurrent_circuits": 0}, "max_concurrent_circuits: must be >= 1, got 0"),
    ({"max_concurrent_circuits": 5001}, "max_concurrent_circuits: must be <= 5000, got 5001"),
    ({"max_queue_wait_time": 0}, "max_queue_wait_time: must be > 0, got 0"),
    ({"connection_pool_size": 0}, "connection_pool_size: must be >= 1, got 0"),
    ({"log_interval": 0}, "log_interval: must be >= 1, got 0"),
    ({"checkpoint_interval": 0}, "checkpoint_interval: must be >= 1, got 0"),
    ({"gradient_clip_value": 0}, "gradient_clip_value: must be > 0, got 0"),
    ({"spsa_c_initial": 0}, "spsa_c_initial: must be > 0, got 0"),
    ({"spsa_a_initial": -1}, "spsa_a_initial: must be > 0, got -1"),
    ({"spsa_alpha": 1.5}, "spsa_alpha: must be <= 1, got 1.5"),
    ({"spsa_gamma": 0.6}, "spsa_gamma: must be <= 0.5, got 0.6"),
    ({"spsa_A": -1}, "spsa_A: must be >= 0, got -1"),
    ({"spsa_samples": 0}, "spsa_samples: must be >= 1, got 0"),
    ({"early_stopping_patience": -1}, "early_stopping_patience: must be >= 0, got -1"),
    ({"seed": -1}, "seed: must be >= 0, got -1"),
    ({"max_cost_usd": 0}, "max_cost_usd: must be > 0, got 0"),
    ({"use_batch_api": "maybe"}, "use_batch_api: must be true or false, got 'maybe'"),
    ({"ionq_api_url": "ftp://example.com"}, "ionq_api_url: must be an http(s) URL, got 'ftp://example.com'"),
    ({"pinecone_index_name": "Bad_Name"}, "pinecone_index_name: must be 1-45 lowercase letters, digits or '-'"),
    ({"pinecone_index_name": "x" * 46}, "pinecone_index_name: must be 1-45 lowercase letters"),
    ({"pinecone_environment": ""}, "pinecone_environment: must not be empty"),
    ({"quantum_api_key": " padded "}, "quantum_api_key: must be non-empty without surrounding whitespace"),
    ({"quantum_api_key": "abc\nX-Evil: 1"}, "quantum_api_key: holds a space, a line break, a control or a non-ASCII"),
    ({"pinecone_api_key": "pc\x01key"}, "pinecone_api_key: holds a space, a line break, a control or a non-ASCII"),
    ({"quantum_api_key": "clé"}, "quantum_api_key: holds a space, a line break, a control or a non-ASCII"),
    ({"lerning_rate": 0.1}, "lerning_rate: unknown field (did you mean 'learning_rate'?)"),
]


@pytest.mark.parametrize("url", ["https://sk-SECRET1@example.com/v0.4", "https://me:sk-SECRET1@example.com/v0.4",
                                 "ftp://sk-SECRET1@example.com"])
def test_a_url_holding_a_key_is_refused_without_repeating_it(url):
    # a URL is written to config.toml as given: a key in it would be on disk in every run
    error = error_of(ionq_api_url=url)
    assert error.field == "ionq_api_url" and "must not hold a user name or password" in str(error)
    assert "SECRET" not in str(error)


@pytest.mark.parametrize(("kwargs", "fragment"), FIELD_RULES, ids=[str(k) for k, _ in FIELD_RULES])
def test_field_rule_message_names_field_and_rule(kwargs, fragment):
    error = error_of(**kwargs)
    assert fragment in str(error)
    assert error.field == next(iter(kwargs))
    assert isinstance(error, ValueError)


def test_several_bad_fields_are_all_reported():
    error = error_of(batch_size=0, validation_split=1.0)
    assert set(error.problems) == {
        ("batch_size", "must be >= 1, got 0"),
        ("validation_split", "must be <= 0.9, got 1.0"),
    }
    assert "batch_size: must be >= 1, got 0" in str(error)
    assert "validation_split: must be <= 0.9, got 1.0" in str(error)


def test_bounds_are_inclusive_where_the_rule_says_so():
    config = TrainingConfig(n_qubits=16, validation_split=0.9, shots_per_circuit=1_000_000, momentum=0.0)
    assert (config.n_qubits, config.validation_split) == (16, 0.9)


# ----- cross-field rules -----

CROSS_RULES = [
    ({"backend": "ionq", "shots_per_circuit": 0},
     "shots_per_circuit", "0 (exact expectations) needs backend 'local', got backend 'ionq'"),
    ({"backend": "emulator", "shots_per_circuit": 0},
     "shots_per_circuit", "0 (exact expectations) needs backend 'local', got backend 'emulator'"),
    ({"quantum_target": "qpu.aria-1"},
     "quantum_target",
     "backend 'local' only simulates, got 'qpu.aria-1' (use backend 'ionq' for a QPU, or noise_model to imitate one)"),
    ({"backend": "ionq", "quantum_target": "qpu.forte-1", "noise_model": "forte-1"},
     "noise_model", "applies to the simulator only, got quantum_target 'qpu.forte-1'"),
    ({"dataset": "csv"}, "dataset_path", "required when dataset is 'csv'"),
    ({"dataset": "csv", "dataset_path": "d.csv", "n_features": 3},
     "n_features", "only for synthetic data sets; unset it for dataset 'csv'"),
    ({"dataset": "csv", "dataset_path": "d.csv", "data_noise": 0.1},
     "data_noise", "only for synthetic data sets; unset it for dataset 'csv'"),
    ({"dataset": "moons", "n_features": 3}, "n_features", "dataset 'moons' is 2-dimensional, got 3"),
    ({"dataset": "circles", "n_features": 1}, "n_features", "dataset 'circles' is 2-dimensional, got 1"),
    ({"dataset": "xor", "n_features": 1}, "n_features", "xor needs >= 2 features (parity), got 1"),
    ({"dataset": "moons", "n_blobs": 3}, "n_blobs", "only for dataset 'blobs', got dataset 'moons'"),
    ({"dataset": "blobs", "n_blobs": 5, "n_samples": 8}, "n_samples", "must be >= 10 (2 per class), got 8"),
    ({"store_backend": "pinecone"}, "store_backend", "'pinecone' needs pinecone_api_key (or env PINECONE_API_KEY)"),
    ({"backend": "ionq", "ionq_api_url": "http://api.example.com/v0.4"},
     "ionq_api_url", "must be https (or loopback) to carry an API key, got 'http://api.example.com/v0.4'"),
]


@pytest.mark.parametrize(("kwargs", "field", "reason"), CROSS_RULES, ids=[f for _, f, _ in CROSS_RULES])
def test_cross_field_rule_names_field_and_rule(kwargs, field, reason):
    error = error_of(**kwargs)
    assert error.field == field
    assert error.reason == reason
    assert f"{field}: {reason}" in str(error)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backend": "local", "shots_per_circuit": 0},
        {"backend": "emulator", "quantum_target": "qpu.aria-1"},
        {"backend": "local", "noise_model": "forte-1"},
        {"dataset": "csv", "dataset_path": "d.csv"},
        {"dataset": "xor", "n_features": 5},
        {"dataset": "blobs", "n_blobs": 4, "n_features": 3, "n_samples": 8},
        {"store_backend": "pinecone", "pinecone_api_key": "k"},
        {"backend": "ionq", "ionq_api_url": "http://127.0.0.1:8765/v0.4"},
        {"backend": "emulator", "ionq_api_url": "http://127.0.0.1:8765/v0.4"},
    ],
)
def test_valid_combinations_are_accepted(kwargs):
    config = TrainingConfig(**kwargs)
    for name, value in kwargs.items():
        if name != "pinecone_api_key" and name != "dataset_path":
            assert getattr(config, name) == value
    if "dataset_path" in kwargs:
        assert config.dataset_path == Path.cwd() / kwargs["dataset_path"]  # made absolute: a resume elsewhere finds it


def test_pinecone_store_is_allowed_when_the_key_comes_from_env(monkeypatch):
    monkeypatch.setenv("PINECONE_API_KEY", CANARY_PINECONE)
    assert TrainingConfig(store_backend="pinecone").store_backend == "pinecone"


def test_the_store_is_pinecone_by_default_when_its_key_is_set_and_a_run_keeps_the_store_it_started_with(
        monkeypatch, tmp_path):
    assert TrainingConfig().store_backend == "local"  # no key (conftest clears it): the embedded SQLite file
    monkeypatch.setenv("PINECONE_API_KEY", CANARY_PINECONE)
    assert TrainingConfig().store_backend == "pinecone"
    assert TrainingConfig(store_backend="local").store_backend == "local"  # asked for: kept
    monkeypatch.setenv("PINECONE_API_KEY", "  ")
    assert TrainingConfig().store_backend == "local"  # a blank key is no key
    monkeypatch.delenv("PINECONE_API_KEY")
    save_config(TrainingConfig(), tmp_path / "run.toml")
    monkeypatch.setenv("PINECONE_API_KEY", CANARY_PINECONE)
    assert load_config(tmp_path / "run.toml").store_backend == "local"  # config.toml names it: a resume keeps it


def test_assignment_is_validated_and_a_refused_value_changes_nothing():
    config = TrainingConfig()
    config.use_batch_api = False  # the guide's style of setting v3.4 features
    assert config.use_batch_api is False
    with pytest.raises(ConfigError, match=r"learning_rate: must be > 0, got -2"):
        config.learning_rate = -2
    assert config.learning_rate == 0.01
    with pytest.raises(ConfigError, match=r"shots_per_circuit: 0 \(exact expectations\)"):
        config.backend = "ionq"
        config.shots_per_circuit = 0
    assert config.shots_per_circuit == 1000
    assert "shots_per_circuit" not in config.model_fields_set


def test_model_validate_raises_config_error():
    with pytest.raises(ConfigError, match="epochs: must be >= 1, got 0"):
        TrainingConfig.model_validate({"epochs": 0})


# ----- derived values and runnability -----


@pytest.mark.parametrize(
    ("kwargs", "target"),
    [
        ({}, "aria"),
        ({"noise_model": "aria-1"}, "aria"),
        ({"noise_model": "forte-1"}, "forte"),
        ({"backend": "ionq", "quantum_target": "qpu.aria-1"}, "aria"),
        ({"backend": "ionq", "quantum_target": "qpu.forte-1"}, "forte"),
        ({"backend": "emulator", "quantum_target": "qpu.forte-1"}, "forte"),
    ],
)
def test_native_target_follows_qpu_or_noise_model(kwargs, target):
    assert TrainingConfig(**kwargs).native_target == target


def test_qpu_run_needs_a_cost_cap_and_a_key(monkeypatch):
    config = TrainingConfig(backend="ionq", quantum_target="qpu.aria-1")
    assert config.requires_cost_confirmation
    with pytest.raises(ConfigError) as info:
        config.check_runnable()
    assert dict(info.value.problems) == {
        "quantum_api_key": "backend 'ionq' needs an API key: set env IONQ_API_KEY",
        "max_cost_usd": "a run on 'qpu.aria-1' costs money: set a cost cap in USD first",
    }
    monkeypatch.setenv("IONQ_API_KEY", CANARY_IONQ)
    config = TrainingConfig(backend="ionq", quantum_target="qpu.aria-1")
    with pytest.raises(ConfigError, match="max_cost_usd: a run on 'qpu.aria-1' costs money"):
        config.check_runnable()
    config.max_cost_usd = 25.0
    config.check_runnable()


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"backend": "ionq"}, {"backend": "emulator", "quantum_target": "qpu.forte-1"}],
)
def test_simulators_and_the_emulator_cost_nothing(kwargs):
    assert not TrainingConfig(quantum_api_key="k", **kwargs).requires_cost_confirmation


def test_check_runnable_reports_a_missing_csv(tmp_path):
    config = TrainingConfig(dataset="csv", dataset_path=tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match=r"dataset_path: file not found: .*missing\.csv"):
        config.check_runnable()
    (tmp_path / "missing.csv").write_text("a,label\n1,0\n")
    config.check_runnable()
    # a name longer than the file system takes: Path.is_file raises (it was "cannot use", naming no field)
    config = TrainingConfig(dataset="csv", dataset_path=tmp_path / ("a" * 300 + ".csv"))
    with pytest.raises(ConfigError, match=r"^dataset_path: .*a\.csv: file name too long$"):
        config.check_runnable()


def test_runs_dir_defaults_to_the_user_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert TrainingConfig().resolved_runs_dir == tmp_path / "qstore" / "runs"
    assert TrainingConfig(runs_dir=tmp_path / "r").resolved_runs_dir == tmp_path / "r"


def test_spsa_stability_defaults_to_ten_percent_of_steps():
    assert TrainingConfig().spsa_stability(200) == pytest.approx(20.0)
    assert TrainingConfig(spsa_A=3).spsa_stability(200) == 3.0


# ----- presets -----


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("development", {"quantum_target": "simulator", "batch_size": 5, "epochs": 3, "shots_per_circuit": 100,
                         "use_batch_api": True, "use_native_gates": True, "enable_smart_caching": True,
                         "adaptive_batch_sizing": False}),
        ("production", {"quantum_target": "qpu.aria-1", "batch_size": 10, "epochs": 10, "shots_per_circuit": 1000,
                        "use_batch_api": True, "use_native_gates": True, "enable_smart_caching": True,
                        "adaptive_batch_sizing": True, "backend": "ionq"}),
        ("research", {"quantum_target": "simulator", "batch_size": 20, "epochs": 20, "shots_per_circuit": 5000,
                      "use_batch_api": True, "use_native_gates": True, "enable_smart_caching": True,
                      "adaptive_batch_sizing": True, "connection_pool_size": 10}),
    ],
)
def test_presets_carry_the_guide_values(name, expected):
    config = TrainingConfig.preset(name)
    assert {key: getattr(config, key) for key in expected} == expected


def test_presets_take_overrides_and_production_needs_confirmation():
    assert set(PRESETS) == {"development", "production", "research"}
    config = TrainingConfig.preset("research", epochs=2, seed=9)
    assert (config.epochs, config.seed, config.batch_size) == (2, 9, 20)
    assert TrainingConfig.preset("production").requires_cost_confirmation
    assert not TrainingConfig.preset("development").requires_cost_confirmation
    with pytest.raises(ConfigError, match="epochs: must be >= 1, got 0"):
        TrainingConfig.preset("development", epochs=0)


def test_unknown_preset_lists_the_valid_names():
    with pytest.raises(ConfigError) as info:
        TrainingConfig.preset("fast")
    assert str(info.value) == "preset: unknown preset 'fast'; valid: development, production, research"


# ----- strings typed by a user -----

PARSED = [
    ("use_batch_api", "true", True),
    ("use_batch_api", "False", False),
    ("use_batch_api", "yes", True),
    ("use_batch_api", "no", False),
    ("use_batch_api", "on", True),
    ("use_batch_api", "0", False),
    ("batch_size", "32", 32),
    ("batch_size", " 7 ", 7),
    ("seed", "1_000", 1000),
    ("learning_rate", "0.05", 0.05),
    ("learning_rate", "1e-3", 0.001),
    ("max_queue_wait_time", "180", 180.0),
    ("entanglement", "circular", "circular"),
    ("entanglement", "FULL", "full"),
    ("quantum_target", "qpu.forte-1", "qpu.forte-1"),
    ("spsa_A", "none", None),
    ("spsa_A", "", None),
    ("spsa_A", "12.5", 12.5),
    ("max_cost_usd", "null", None),
    ("max_cost_usd", "40", 40.0),
    ("n_features", "3", 3),
    ("dataset_path", "data/train.csv", Path.cwd() / "data/train.csv"),
    ("label_column", "species", "species"),
    ("ionq_api_url", "http://127.0.0.1:9000/v0.4/", "http://127.0.0.1:9000/v0.4"),
]


@pytest.mark.parametrize(("name", "raw", "expected"), PARSED)
def test_parse_field_converts_typed_text(name, raw, expected):
    value = parse_field(name, raw)
    assert value == expected
    assert type(value) is type(expected)


PARSE_ERRORS = [
    ("use_batch_api", "maybe", "use_batch_api: must be true or false (yes/no, on/off, 1/0), got 'maybe'"),
    ("batch_size", "1.5", "batch_size: must be an integer, got '1.5'"),
    ("batch_size", "none", "batch_size: must be an integer, got 'none'"),
    ("batch_size", "0", "batch_size: must be >= 1, got 0"),
    ("learning_rate", "-1", "learning_rate: must be > 0, got -1"),
    ("learning_rate", "fast", "learning_rate: must be a number, got 'fast'"),
    ("learning_rate", "inf", "learning_rate: must be a finite number, got inf"),
    ("entanglement", "ful", "entanglement: must be one of 'linear', 'full' or 'circular', got 'ful' "
                            "(did you mean 'full'?)"),
    ("n_qubits", "17", "n_qubits: must be <= 16, got 17"),
    ("label_column", "  ", "label_column: must not be empty"),
    ("ionq_api_url", "api.ionq.co", "ionq_api_url: must be an http(s) URL, got 'api.ionq.co'"),
    ("quantum_api_key", "**********", "quantum_api_key: is the masked placeholder, not a key"),
    ("batchsize", "3", "batchsize: unknown field (did you mean 'batch_size'?)"),
    # a paste gone wrong: one readable line, not the whole paste; Python's integer digit limit named, not "not an
    # integer"
    ("batch_size", "7" * 200_000, "batch_size: must be an integer of at most 4,300 digits, got one of 200,000"),
    ("batch_size", "9" * 4000, f"batch_size: must be <= 10000, got {'9' * 40}... (4,000 characters)"),
    ("entanglement", "x" * 5000, f"entanglement: must be one of 'linear', 'full' or 'circular', got {'x' * 40!r}... "
                                 f"(5,000 characters)"),
]


@pytest.mark.parametrize(("name", "raw", "message"), PARSE_ERRORS)
def test_parse_field_errors_name_the_field(name, raw, message):
    with pytest.raises(ConfigError) as info:
        parse_field(name, raw)
    assert str(info.value).startswith(message)
    assert info.value.field == name


def test_parse_field_expands_home_and_wraps_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_field("runs_dir", "~/runs") == tmp_path / "runs"
    secret = parse_field("quantum_api_key", CANARY_IONQ)
    assert isinstance(secret, SecretStr) and secret.get_secret_value() == CANARY_IONQ


def test_format_field_reads_back_through_parse_field(tmp_path):
    config = TrainingConfig(
        dataset="csv", dataset_path=tmp_path / "d.csv", learning_rate=0.0123456789, use_native_gates=False,
        spsa_A=4.5, max_cost_usd=12.0, entanglement="full", quantum_api_key=CANARY_IONQ,
    )
    for name in TrainingConfig.model_fields:
        text = format_field(config, name)
        if name == "quantum_api_key":
            assert text == "**********"
            continue
        assert parse_field(name, text) == getattr(config, name), name


def test_with_overrides_parses_and_validates_together(tmp_path):
    base = TrainingConfig(quantum_api_key=CANARY_IONQ)
    path = tmp_path / "d.csv"
    config = base.with_overrides({"dataset": "csv", "dataset_path": str(path), "epochs": "7", "use_batch_api": "no"})
    assert (config.dataset, config.dataset_path, config.epochs, config.use_batch_api) == ("csv", path, 7, False)
    assert config.quantum_api_key.get_secret_value() == CANARY_IONQ
    assert base.dataset == "moons" and base.epochs == 5


def test_with_overrides_reports_every_bad_value_and_cross_field_rules():
    with pytest.raises(ConfigError) as info:
        TrainingConfig().with_overrides({"epochs": "0", "optimiser": "sgd", "batch_size": "x"})
    assert info.value.problems == (
        ("epochs", "must be >= 1, got 0"),
        ("optimiser", "unknown field (did you mean 'optimizer'?)"),
        ("batch_size", "must be an integer, got 'x'"),
    )
    with pytest.raises(ConfigError, match="dataset_path: required when dataset is 'csv'"):
        TrainingConfig().with_overrides({"dataset": "csv"})


# ----- secrets -----


def test_secrets_come_from_env_only_when_unset(monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", CANARY_IONQ)
    monkeypatch.setenv("PINECONE_API_KEY", CANARY_PINECONE)
    config = TrainingConfig()
    assert config.quantum_api_key.get_secret_value() == CANARY_IONQ
    assert config.pinecone_api_key.get_secret_value() == CANARY_PINECONE
    explicit = TrainingConfig(quantum_api_key="explicit-key")
    assert explicit.quantum_api_key.get_secret_value() == "explicit-key"


def test_ionq_api_url_comes_from_env_when_unset(monkeypatch):
    assert TrainingConfig().ionq_api_url == DEFAULT_IONQ_API_URL
    monkeypatch.setenv("IONQ_API_URL", "http://127.0.0.1:8123/v0.4")
    assert TrainingConfig().ionq_api_url == "http://127.0.0.1:8123/v0.4"
    assert TrainingConfig(ionq_api_url="https://x.example/v0.4").ionq_api_url == "https://x.example/v0.4"
    monkeypatch.setenv("IONQ_API_URL", "not a url")
    with pytest.raises(ConfigError, match="ionq_api_url: must be an http"):
        TrainingConfig()


def test_secrets_never_reach_repr_dumps_or_toml(monkeypatch, tmp_path):
    monkeypatch.setenv("IONQ_API_KEY", CANARY_IONQ)
    monkeypatch.setenv("PINECONE_API_KEY", CANARY_PINECONE)
    config = TrainingConfig(store_backend="pinecone", backend="ionq")
    path = tmp_path / "config.toml"
    save_config(config, path)
    written = path.read_text()
    rendered = [repr(config), str(config), str(config.model_dump()), config.model_dump_json(), written,
                json.dumps(TrainingConfig.model_json_schema())]
    for text in rendered:
        assert CANARY_IONQ not in text and CANARY_PINECONE not in text
    assert "pinecone_api_key" not in written and "quantum_api_key" not in written
    # the keys come back from the environment, not from the file
    assert load_config(path) == config


@pytest.mark.parametrize("value", [f" {CANARY_IONQ} ", 12345])
def test_a_refused_secret_is_not_echoed(value):
    error = error_of(quantum_api_key=value)
    assert error.field == "quantum_api_key"
    assert CANARY_IONQ not in str(error) and "12345" not in str(error)


def test_load_config_refuses_secrets_in_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[backend]\nquantum_api_key = "{CANARY_IONQ}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: quantum_api_key: secrets are never read from files; set env IONQ_API_KEY"
    assert CANARY_IONQ not in str(info.value)


# ----- TOML -----


def test_toml_round_trip_is_exact(tmp_path):
    config = TrainingConfig(
        backend="ionq", quantum_target="qpu.forte-1", max_cost_usd=12.5, dataset="csv",
        dataset_path=tmp_path / "data.csv", label_column="target", learning_rate=0.1 + 0.2, epochs=12,
        spsa_A=7.25, entanglement="circular", optimizer="sgd", checkpoint_directory=tmp_path / "ck",
        runs_dir=tmp_path / "runs", use_gradient_clipping=True, seed=2**40, quantum_sdk="qiskit",
    )
    path = tmp_path / "config.toml"
    save_config(config, path)
    loaded = load_config(path)
    assert loaded == config
    assert loaded.model_dump() == config.model_dump()
    text = path.read_text()
    assert "[optimization]\nlearning_rate = 0.30000000000000004" in text
    assert "n_features" not in text  # None values are omitted
    assert load_config(path) == TrainingConfig.model_validate(config.model_dump())


def test_every_preset_round_trips(tmp_path):
    for name in PRESETS:
        config = TrainingConfig.preset(name, max_cost_usd=5.0)
        save_config(config, tmp_path / f"{name}.toml")
        assert load_config(tmp_path / f"{name}.toml") == config


def test_save_replaces_atomically_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    save_config(TrainingConfig(epochs=3), path)
    save_config(TrainingConfig(epochs=4), path)
    assert load_config(path).epochs == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]

    def fail(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(engine.fileio.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_config(TrainingConfig(epochs=9), path)
    assert load_config(path).epochs == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_flat_keys_are_accepted(tmp_path):
    path = tmp_path / "flat.toml"
    path.write_text('epochs = 2\nbackend = "local"\n[model]\nn_qubits = 4\n')
    config = load_config(path)
    assert (config.epochs, config.n_qubits) == (2, 4)


LOAD_ERRORS = [
    ("[optimization]\nlearning_rate = -1\n", "learning_rate: must be > 0, got -1", "learning_rate"),
    ("[optimization]\nlerning_rate = 0.1\n", "lerning_rate: unknown field (did you mean 'learning_rate'?)",
     "lerning_rate"),
    ("[model]\nepochs = 3\n", "epochs: belongs in [optimization], found in [model]", "epochs"),
    ("[modle]\nn_qubits = 3\n", "unknown section [modle] (did you mean 'model'?)", None),
    ("epochs = 3\n[optimization]\nepochs = 4\n", "epochs: given twice", "epochs"),
    ('[model]\ndataset = "csv"\n', "dataset_path: required when dataset is 'csv'", "dataset_path"),
    ('[features]\nuse_batch_api = "perhaps"\n', "use_batch_api: must be true or false, got 'perhaps'",
     "use_batch_api"),
]


@pytest.mark.parametrize(("text", "message", "field"), LOAD_ERRORS)
def test_load_errors_name_the_file_and_field(tmp_path, text, message, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: {message}"
    assert info.value.path == path and info.value.field == field


@pytest.mark.parametrize(("text", "message"), [
    ("epochs = " + "9" * 4000, "epochs: must be <= 10000, got " + "9" * 40 + "... (4,000 characters)"),
    ("label_column = " + "1" * 4000, "label_column: must be a string, got an integer (" + "1" * 40
     + "... (4,000 characters))"),
    ('epochs = "' + "9" * 4000 + '"', "epochs: must be an integer, got the string '" + "9" * 40 + "'... (4,000 "
     "characters) (types in a TOML file are strict: write " + "9" * 40 + "... (4,000 characters) without quotes)"),
    ("learning_rate = " + "9" * 400, "learning_rate: must be a finite number, got " + "9" * 40 + "... (400 characters)"),
])
def test_a_long_value_in_a_file_is_cut_in_its_error_as_on_the_command_line(tmp_path, text, message):
    path = tmp_path / "big.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: {message}"


def test_toml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[optimization]\nepochs = 3\nlearning_rate 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}, line 3: invalid TOML: ")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_config(tmp_path / "nope.toml")


def test_toml_text_has_one_table_per_group():
    text = config_to_toml(TrainingConfig())
    assert text.startswith("# ")
    for group in FIELD_GROUPS:
        assert f"\n[{group}]\n" in text


# ----- packaging -----


def test_engine_config_and_data_import_no_ui_or_heavy_sdk():
    code = (
        "import sys, engine.config, engine.data\n"
        "bad = [m for m in ('textual', 'cirq', 'pinecone', 'cirq_ionq') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 0, result.stderr


def test_a_key_with_a_line_break_or_control_character_is_refused_without_being_said():
    """Such a key cannot go into an HTTP header: h11 refused it, and the emulator's 400 quoted the header back,
    key and all (`b'Authorization: apiKey secret\\x01key'`), which the client's scrub did not match."""
    from engine.backends.ionq_errors import scrub

    for key in ("secretkey123\nX-Evil: 1", "secret\x01key"):
        message = str(error_of(quantum_api_key=key))
        assert "secret" not in message and "Evil" not in message and "\\x01" not in message
    echoed = "Invalid header value char: b'Authorization: apiKey secret\\x01key'"
    assert scrub(echoed, "secret\x01key") == "Invalid header value char: b'Authorization: apiKey ***'"
    assert scrub("key 'sécret' refused", "sécret") == "key '***' refused"
