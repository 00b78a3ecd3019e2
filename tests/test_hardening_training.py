"""Two training behaviours pinned so that a deliberate bug in either fails: scaling and early stopping."""

import asyncio
import dataclasses

import numpy as np

from engine.backends.local import LocalSimulatorBackend
from engine.config import TrainingConfig
from engine.data import load_dataset, make_dataset, train_val_split
from engine.model import QuantumModel
from engine.session import EngineSession
from engine.parts import build_manager
from engine.trainer import QuantumTrainer


def test_the_feature_scaling_is_fitted_on_the_training_split_only(tmp_path):
    cfg = TrainingConfig(n_qubits=2, circuit_depth=1, n_samples=40, epochs=1, batch_size=40, shots_per_circuit=0,
                         seed=5, validation_split=0.3, embeddings_to_store=False)
    full = load_dataset(cfg)
    train, val = train_val_split(full, cfg.validation_split, cfg.seed)
    # The test means something only if the validation split holds a value outside the training range.
    assert (val.x.min(axis=0) < train.x.min(axis=0)).any() or (val.x.max(axis=0) > train.x.max(axis=0)).any()
    session = EngineSession(cfg, runs_dir=tmp_path)
    assert asyncio.run(session.run()).status == "completed"
    scaler = session.model.scaler
    np.testing.assert_array_equal(scaler.minimum, train.x.min(axis=0))
    np.testing.assert_array_equal(scaler.maximum, train.x.max(axis=0))
    assert not (np.array_equal(scaler.minimum, full.x.min(axis=0)) and np.array_equal(scaler.maximum,
                                                                                       full.x.max(axis=0)))


class ScriptedValidation(QuantumTrainer):
    """The real trainer, with the validation loss of each epoch taken from a script."""

    def __init__(self, cfg, losses):
        super().__init__(cfg, build_manager(cfg, LocalSimulatorBackend()))
        self.script = list(losses)

    async def _epoch_eval(self, model, train, val, epoch):
        tr, va = await super()._epoch_eval(model, train, val, epoch)
        return tr, dataclasses.replace(va, loss=self.script[epoch])


def expected_epochs(losses, patience):
    """The rule, written independently: stop once `patience` epochs in a row fail to beat the best so far."""
    best, stale = float("inf"), 0
    for epoch, loss in enumerate(losses):
        best, stale = (loss, 0) if loss < best else (best, stale + 1)
        if stale == patience:
            return epoch + 1
    return len(losses)


def test_early_stopping_stops_exactly_after_patience_epochs_without_improvement():
    # Improvements at epochs 1 and 4 reset the count; epochs 5, 6, 7 fail to beat 0.7: stop after epoch 7.
    # A count that is not reset stops after 6 epochs, an off-by-one after 9, "better than the last epoch" never.
    script = [1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.72, 0.71, 0.9, 0.6, 0.5, 0.4]
    assert expected_epochs(script, 3) == 8
    train, val = train_val_split(make_dataset("moons", 16, 0), 0.25, 0)
    cfg = TrainingConfig(n_qubits=2, circuit_depth=1, batch_size=16, epochs=len(script), shots_per_circuit=0,
                         seed=0, early_stopping_patience=3, embeddings_to_store=False)
    trainer = ScriptedValidation(cfg, script)
    result = asyncio.run(trainer.train(QuantumModel.from_config(cfg, 2, 2), train, val))
    assert result.status == "early_stopped"
    assert [e.val_loss for e in result.epochs] == script[:8]

    # patience 1: the first epoch without improvement ends the run.
    cfg1 = cfg.model_copy(update={"early_stopping_patience": 1})
    result = asyncio.run(ScriptedValidation(cfg1, script).train(QuantumModel.from_config(cfg1, 2, 2), train, val))
    assert len(result.epochs) == expected_epochs(script, 1) == 3


class CapAfter:
    """The real manager, whose `n`-th batch the spend ledger refuses (as IonQSpendCapError does): no rows ran. SPSA runs 3 a step."""

    def __init__(self, manager, n):
        self.manager, self.n, self.calls = manager, n, 0

    async def execute_batch(self, batch, *, shots, seed, purpose):
        self.calls += 1
        result = await self.manager.execute_batch(batch, shots=shots, seed=seed, purpose=purpose)
        if self.calls == self.n:
            from engine.batch.results import CircuitFailure

            rows = result.probabilities.shape[0]
            result.probabilities[:] = np.nan
            result.failures = [CircuitFailure(i, "IonQSpendCapError", "would pass max_cost_usd") for i in range(rows)]
        return result

    def get_performance_stats(self):
        return self.manager.get_performance_stats()


def test_a_step_the_ledger_refuses_stops_with_a_checkpoint_from_before_it_and_resumes_bit_identically(tmp_path):
    """A refused batch was a failed run with no checkpoint. The step's state (its SPSA draws) is the one from
    before it, so a resume from that checkpoint computes what an uncapped run computes."""
    cfg = TrainingConfig(n_qubits=2, circuit_depth=1, n_samples=24, epochs=2, batch_size=6, shots_per_circuit=100,
                         seed=5, gradient_method="spsa", embeddings_to_store=False, max_cost_usd=10.0,
                         checkpoint_interval=100)
    data = load_dataset(cfg)
    train, val = train_val_split(data, cfg.validation_split, cfg.seed)

    def trainer(executor, directory):
        return QuantumTrainer(cfg, executor, checkpoint_dir=directory)

    full = asyncio.run(trainer(build_manager(cfg, LocalSimulatorBackend()), tmp_path / "a").train(
        QuantumModel.from_config(cfg, train.n_features, 2), train, val))
    capped = trainer(CapAfter(build_manager(cfg, LocalSimulatorBackend()), 8), tmp_path / "b")
    stopped = asyncio.run(capped.train(QuantumModel.from_config(cfg, train.n_features, 2), train, val))
    assert stopped.status == "stopped" and "not submitted" in stopped.stop_note and stopped.steps == 2
    assert stopped.checkpoint is not None and stopped.checkpoint.name == "step-000002.json"
    resumed = asyncio.run(trainer(build_manager(cfg, LocalSimulatorBackend()), tmp_path / "b").train(
        QuantumModel.from_config(cfg, train.n_features, 2), train, val, resume_from=stopped.checkpoint))
    assert resumed.status == "completed"
    assert list(stopped.losses) + list(resumed.losses) == list(full.losses)
