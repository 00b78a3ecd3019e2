"""The search-space file: ranges, log scale, choices, grid; bad fields and ranges refused naming the field."""

import pytest

from engine.config import ConfigError, TrainingConfig
from engine.sweep import Categorical, FloatRange, IntRange, load_space, parse_space
from engine.sweep.budget import check_study_cap, study_cost
from engine.sweep.storage import mask_url
from engine.sweep.study import SweepSpec

BASE = TrainingConfig(n_qubits=2, circuit_depth=1, shots_per_circuit=0)


def test_a_space_file_parses_into_typed_ranges_and_choices(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[learning_rate]\ntype = "float"\nlow = 0.001\nhigh = 0.3\nlog = true\n\n'
                    '[epochs]\ntype = "int"\nlow = 1\nhigh = 3\n\n'
                    '[gradient_method]\ntype = "categorical"\nchoices = ["spsa", "parameter_shift"]\n'
                    '[use_gradient_clipping]\ntype = "categorical"\nchoices = [true, false]\n')
    space = load_space(path, BASE)
    assert space.params == {
        "learning_rate": FloatRange(0.001, 0.3, log=True), "epochs": IntRange(1, 3),
        "gradient_method": Categorical(("spsa", "parameter_shift")),
        "use_gradient_clipping": Categorical((True, False)),
    }
    dists = space.distributions()
    assert dists["learning_rate"].log and dists["epochs"].high == 3
    assert parse_space(space.to_toml_dict(), BASE) == space  # what a study stores reads back the same


@pytest.mark.parametrize("table, field, message", [
    ({"learning_rat": {"type": "float", "low": 0.1, "high": 1}}, "learning_rat", "not a TrainingConfig field"),
    ({"learning_rate": {"type": "float", "low": 0.5, "high": 0.1}}, "learning_rate", "above high"),
    ({"learning_rate": {"type": "float", "low": 0, "high": 0.1, "log": True}}, "learning_rate",
     "log range needs low > 0"),
    ({"learning_rate": {"type": "float", "low": -1, "high": 0.1}}, "learning_rate",
     "-1.0 is not valid here: must be > 0"),
    ({"epochs": {"type": "float", "low": 1, "high": 3}}, "epochs", "does not suit this int field"),
    ({"epochs": {"type": "int", "low": 1.5, "high": 3}}, "epochs", "low must be an integer"),
    ({"optimizer": {"type": "categorical", "choices": ["adam", "lbfgs"]}}, "optimizer", "'lbfgs' is not valid"),
    ({"optimizer": {"type": "int", "low": 1, "high": 2}}, "optimizer", "use type = \"categorical\""),
    ({"quantum_api_key": {"type": "categorical", "choices": ["x"]}}, "quantum_api_key", "cannot be swept"),
    ({"epochs": {"type": "int", "low": 1, "high": 3, "lo": 2}}, "epochs", "unknown key 'lo'"),
    ({"epochs": {"type": "range"}}, "epochs", "type must be"),
    ({"epochs": {"low": 1, "high": 3}}, "epochs", "missing type"),
    ({"seed": {"type": "categorical", "choices": []}}, "seed", "non-empty"),
])
def test_bad_spaces_are_refused_naming_the_field(table, field, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_space(table, BASE)
    assert info.value.field == field


def test_a_bad_toml_file_names_the_file(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text("[learning_rate\n")
    with pytest.raises(ConfigError, match="space.toml: not valid TOML"):
        load_space(path, BASE)
    with pytest.raises(ConfigError, match="empty"):
        parse_space({}, BASE)


@pytest.mark.parametrize("content, message", [
    (b"a = " + b"[" * 3000 + b"]" * 3000 + b"\n", "not valid TOML: line 1: nested more than 32 levels deep"),
    (b"# " + b"x" * 1_100_000 + b"\n", "not valid TOML: 1,100,003 characters is more than the 1,000,000"),
    (b"[learning_rate]\ntype = \"float\" # caf\xe9\n", "not UTF-8 text"),
    (b"[learning_rate\n", "not valid TOML: Expected ']' at the end of a table declaration"),  # not "...: invalid TOML:"
])
def test_a_hostile_or_undecodable_space_file_is_refused_naming_the_file(tmp_path, content, message):
    """The space file goes through the same depth and size guard as configs and themes (it once crashed with a
    RecursionError, and a Latin-1 byte with a UnicodeDecodeError)."""
    path = tmp_path / "space.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_space(path, BASE)
    assert str(path) in str(info.value) and "invalid TOML" not in str(info.value)


def test_the_grid_enumerates_every_combination_and_refuses_continuous_floats():
    space = parse_space({"seed": {"type": "int", "low": 0, "high": 2}, "optimizer": {"type": "categorical",
                                                                                     "choices": ["adam", "sgd"]}}, BASE)
    assert len(space.grid()) == 6 and {"seed": 2, "optimizer": "sgd"} in space.grid()
    floats = parse_space({"learning_rate": {"type": "float", "low": 0.1, "high": 0.3}}, BASE)
    with pytest.raises(ConfigError, match="needs a float range with a step"):
        floats.grid()
    stepped = parse_space({"learning_rate": {"type": "float", "low": 0.1, "high": 0.3, "step": 0.1}}, BASE)
    assert [p["learning_rate"] for p in stepped.grid()] == pytest.approx([0.1, 0.2, 0.3])


def test_a_qpu_study_is_priced_at_its_costliest_combination_and_needs_a_cap_that_covers_it(monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", "test-key-123456")
    base = TrainingConfig(backend="ionq", quantum_target="qpu.aria-1", shots_per_circuit=100, max_cost_usd=1.0,
                          n_qubits=2, circuit_depth=1, n_samples=20, epochs=1)
    space = parse_space({"epochs": {"type": "int", "low": 1, "high": 2}}, base)
    spec = SweepSpec("s", base, space, trials=3, max_cost_usd=base.max_cost_usd)
    cost = study_cost(spec)
    one = study_cost(SweepSpec("s", base, parse_space({"epochs": {"type": "int", "low": 2, "high": 2}}, base), 1))
    assert cost is not None and one is not None
    assert cost.per_trial_usd == pytest.approx(one.per_trial_usd) and cost.total_usd == pytest.approx(3 * one.total_usd)
    with pytest.raises(ConfigError, match="does not cover the study's estimate") as info:
        check_study_cap(spec, cost)
    assert info.value.field == "max_cost_usd"
    check_study_cap(SweepSpec("s", base, space, 3, max_cost_usd=cost.total_usd), cost)
    local = SweepSpec("s", BASE, parse_space({"seed": {"type": "int", "low": 0, "high": 1}}, BASE), 3)
    assert study_cost(local) is None


def test_a_storage_password_is_masked():
    assert mask_url("postgresql://bob:s3cret@db.example:5432/optuna") == "postgresql://bob:***@db.example:5432/optuna"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
