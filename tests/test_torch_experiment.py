"""The neural-network experiment and its CLI command, at smoke size."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from sgdlab.cli import main
from sgdlab.torch import experiment

TINY = experiment.Settings(
    epochs={"mlp": 2, "cnn": 1, "charlm": 0.2}, tune_epochs={"mlp": 1, "cnn": 1, "charlm": 0.1}, seeds=(0, 1)
)


def test_experiment_produces_curves_and_a_summary():
    curves = experiment.run_experiment(["mlp"], ["SGD", "Adam"], TINY)
    assert set(curves["optimizer"]) == {"SGD", "Adam"}
    assert set(curves["seed"]) == {0, 1}
    # one row at epoch 0 plus one per epoch, for each run
    assert len(curves) == 2 * 2 * 3
    summary = experiment.summarize(curves)
    assert list(summary["optimizer"]) == ["SGD", "Adam"]
    assert (summary["seeds"] == 2).all()
    assert (summary["test_accuracy"] > 0.5).all()
    for optimizer, lr in zip(summary["optimizer"], summary["lr"], strict=True):
        grid = experiment.LR_GRIDS[optimizer]
        assert min(grid) / 9 <= lr <= max(grid) * 9  # on the grid or at most two extensions beyond it


def test_tuning_extends_the_grid_past_an_edge(monkeypatch):
    calls = []

    def fake_train(network, optimizer, lr, seed, epochs, batch_size):
        calls.append(lr)
        return pd.DataFrame({"loss": [abs(lr - 0.9)], "status": ["budget"]})  # best rate: 0.9

    monkeypatch.setattr(experiment, "_train", fake_train)
    assert experiment.tune_lr("mlp", "SGD", TINY, grid=(0.01, 0.03, 0.1)) == pytest.approx(0.9)
    assert calls == [0.01, 0.03, 0.1, pytest.approx(0.3), pytest.approx(0.9)]


def test_diverged_tuning_runs_never_win(monkeypatch):
    def fake_train(network, optimizer, lr, seed, epochs, batch_size):
        return pd.DataFrame({"loss": [0.0 if lr > 0.5 else lr], "status": ["diverged" if lr > 0.5 else "budget"]})

    monkeypatch.setattr(experiment, "_train", fake_train)
    assert experiment.tune_lr("mlp", "SGD", TINY, grid=(0.1, 0.3, 1.0), extend=0) == 0.1


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="unknown network"):
        experiment.run_experiment(["resnet"], ["SGD"], TINY)
    with pytest.raises(ValueError, match="unknown optimizer"):
        experiment.run_experiment(["mlp"], ["LBFGS"], TINY)


def test_cli_nn_writes_curves_and_summary(tmp_path):
    result = CliRunner().invoke(
        main, ["nn", "--quick", "--network", "mlp", "--optimizer", "Adam", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "mlp" in result.output and "wall time" in result.output
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary["optimizer"]) == ["Adam"]
    assert len(pd.read_csv(tmp_path / "curves.csv")) == 4  # epochs 0..3, one seed
