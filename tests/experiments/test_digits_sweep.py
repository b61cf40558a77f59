"""The sweep: paired t intervals and conclusions no stronger than them, learning rates chosen on validation,
and a tiny real sweep that writes only into its folder and resumes without retraining."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.core.errors import ConvlensError
from toolkit.data.letters import GeneratedLetters
from toolkit.experiments import digits_sweep, sweep_statistics
from toolkit.experiments.digits_config import FewDigitsConfig, LettersConfig, SweepConfig, config_for


def test_the_paired_interval_is_the_t_interval_of_the_differences():
    result = sweep_statistics.paired_interval([0.01, 0.02, 0.03])
    half = 4.302653 * 0.01 / np.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert result["mean"] == pytest.approx(0.02)
    assert (result["low"], result["high"]) == (pytest.approx(0.02 - half), pytest.approx(0.02 + half))
    assert result["transfer_wins"] == 3 and result["sign_test_p"] == pytest.approx(0.25)
    ten = sweep_statistics.paired_interval([0.01] * 9 + [-0.01])
    assert ten["sign_test_p"] == pytest.approx(22 / 1024)  # 9 of 10: two-sided binomial
    with pytest.raises(ConvlensError, match="at least 2 seeds"):
        sweep_statistics.paired_interval([0.01])
    with pytest.raises(ConvlensError, match="at least 2 seeds"):
        digits_sweep.run_sweep(dataclasses.replace(TINY, seeds=(3,)), Path("never-written"))
    assert not Path("never-written").exists()


def test_the_bonferroni_interval_widens_the_t_interval_for_its_family():
    differences = [0.01, 0.02, 0.03, 0.015, 0.025, 0.02, 0.01, 0.03, 0.02, 0.02]
    result = sweep_statistics.paired_interval(differences, intervals=10)
    mean, std = np.mean(differences), np.std(differences, ddof=1)
    half = 2.262157 * std / np.sqrt(10)  # t(0.975, 9 degrees of freedom)
    adjusted = 3.689662 * std / np.sqrt(10)  # t(1 - 0.05 / 20, 9): ten intervals at 95% together
    assert (result["low"], result["high"]) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert result["bonferroni_low"] == pytest.approx(mean - adjusted)
    assert result["bonferroni_high"] == pytest.approx(mean + adjusted)
    assert result["intervals"] == 10
    alone = sweep_statistics.paired_interval(differences)  # a family of one: the plain interval
    assert (alone["bonferroni_low"], alone["bonferroni_high"]) == pytest.approx((alone["low"], alone["high"]))
    runs = [
        {"method": m, "samples": n, "seed": s, "augmented": True, "test_accuracy": 0.5 + s * (m == "transfer") / 50}
        for m in ("transfer", "scratch")
        for n in (30, 100)
        for s in (0, 1, 2)
    ]
    rows = sweep_statistics.summarise(runs, {})  # two cells, so each interval is one of a family of two
    assert [row["difference"] for row in rows] == [
        pytest.approx(sweep_statistics.paired_interval([0.0, 0.02, 0.04], intervals=2))
    ] * 2


def _row(differences, samples=100, augmented=True) -> dict:
    return {"samples": samples, "augmented": augmented, "difference": sweep_statistics.paired_interval(differences)}


def test_a_conclusion_names_a_winner_only_when_the_interval_excludes_zero():
    better = sweep_statistics.conclusion(_row([0.02, 0.03, 0.025, 0.021]))
    assert "transfer is better" in better and "won 4 of 4 seeds" in better
    worse = sweep_statistics.conclusion(_row([-0.01, -0.012, -0.011], augmented=False))
    assert "scratch is better" in worse and "no augmentation" in worse
    unclear = sweep_statistics.conclusion(_row([0.02, -0.01, 0.015, -0.005]))
    assert "no difference is shown" in unclear and "better" not in unclear and "2 of 4 seeds favour" in unclear


def test_summary_pairs_runs_by_seed_and_the_table_quotes_interval_and_rates():
    runs = [
        {"method": m, "samples": 30, "seed": s, "augmented": True, "test_accuracy": a}
        for m, s, a in [("scratch", 1, 0.55), ("transfer", 0, 0.80), ("transfer", 1, 0.60), ("scratch", 0, 0.70)]
    ]  # out of order: the pairing is by seed, not by position
    rates = {"augmented/30/transfer": 0.003, "augmented/30/scratch": 0.01}
    (row,) = sweep_statistics.summarise(runs, rates)
    expected = sweep_statistics.paired_interval([0.80 - 0.70, 0.60 - 0.55])  # seed 0, seed 1
    assert row["difference"] == pytest.approx(expected)
    assert row["difference"]["std"] == pytest.approx(np.std([0.10, 0.05], ddof=1))  # 0.035; cross-paired: 0.177
    assert row["transfer"]["mean"] == pytest.approx(0.70) and row["scratch"]["learning_rate"] == 0.01
    table = sweep_statistics.sweep_table([row])
    assert "| augmented | 30 | 0.7000 ± 0.1414 (0.003) | 0.6250 ± 0.1061 (0.01) | +7.50 |" in table
    assert row["conclusion"] in table
    plain = [{**run, "augmented": False} for run in runs]
    (against,) = sweep_statistics.augmentation_against_transfer(runs + plain)
    paired = sweep_statistics.paired_interval([0.70 - 0.80, 0.55 - 0.60])  # scratch+aug - transfer, per seed
    assert (against["difference"]["low"], against["difference"]["high"]) == pytest.approx(
        (paired["low"], paired["high"])
    )
    assert against["difference"]["plain_transfer_wins"] == 2 and against["difference"]["augmented_scratch_wins"] == 0
    assert "| 30 | -7.50 |" in sweep_statistics.augmentation_table([against])


def test_each_learning_rate_is_the_best_on_validation_the_smaller_on_a_tie():
    selection = [
        {"augmented": True, "samples": 30, "method": "transfer", "learning_rate": r, "val_accuracy": a}
        for r, a in [(0.01, 0.7), (0.001, 0.6), (0.003, 0.7)]
    ] + [{"augmented": False, "samples": 30, "method": "scratch", "learning_rate": 0.01, "val_accuracy": 0.5}]
    chosen = digits_sweep.choose_learning_rates(selection)
    assert chosen == {"augmented/30/transfer": 0.003, "plain/30/scratch": 0.01}


def test_the_paper_profile_sweeps_ten_seeds_over_five_sizes_both_arms_and_three_rates():
    sweep = config_for("paper").sweep
    assert sweep.sizes == (30, 100, 300, 1000, 3000) and len(sweep.seeds) >= 10
    assert sweep.augmentation == (True, False) and len(sweep.learning_rates) == 3
    assert sweep.selection_seed not in sweep.seeds


TINY = SweepConfig(
    sizes=(10,),
    seeds=(0, 1),
    learning_rates=(1e-3, 1e-2),
    augmentation=(True,),
    letters=LettersConfig(epochs=1, generated=GeneratedLetters(per_class=4, test_per_class=2)),
    few=FewDigitsConfig(epochs=1, batches_per_epoch=3, batch_size=8),
)


def test_a_tiny_sweep_writes_only_into_its_folder_and_resumes_without_training(real_home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for variable, folder in (("CONVLENS_RUNS", "runs"), ("CONVLENS_EXPORTED", "exported")):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(variable, str(tmp_path / folder))
    out = tmp_path / "out"
    summary = digits_sweep.run_sweep(TINY, out, log=lambda line: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported", "out", "runs"]
    assert list((tmp_path / "runs").iterdir()) == list((tmp_path / "exported").iterdir()) == []
    written = json.loads((out / "results.json").read_text())
    assert len(written["runs"]) == 4 and {r["seed"] for r in written["runs"]} == {0, 1}
    assert [letters["seed"] for letters in written["letters"]] == [1000, 0, 1]  # retrained per seed
    assert written["code_versions"] == [digits_sweep.code_version()] and written["stage_seconds"]["paired runs"] > 0
    assert set(written["learning_rates"]) == {"augmented/10/transfer", "augmented/10/scratch"}
    assert len(written["learning_rate_candidates"]) == 4  # 2 methods x 2 rates, each with its validation accuracy
    assert all("test_accuracy" not in run for run in written["learning_rate_candidates"])
    (row,) = written["summary"]
    assert row["difference"]["seeds"] == 2 and np.isfinite(row["difference"]["low"])
    assert row == json.loads(json.dumps(summary[0]))
    chosen = written["learning_rates"]["augmented/10/transfer"]
    assert (
        f"**{max(r['val_accuracy'] for r in written['learning_rate_candidates'] if r['method'] == 'transfer'):.4f}**"
        in (out / "results.md").read_text()
        and chosen in (1e-3, 1e-2)
    )
    assert (out / "sweep.png").stat().st_size > 1000 and row["conclusion"] in (out / "results.md").read_text()

    lines: list[str] = []
    digits_sweep.run_sweep(TINY, out, log=lines.append)
    assert [line for line in lines if "units already done" in line] == [
        "sweep: letters: 3 of 3 units already done",
        "sweep: learning-rate selection: 4 of 4 units already done",
        "sweep: paired runs: 2 of 2 units already done",
    ]
    assert json.loads((out / "results.json").read_text())["runs"] == written["runs"]

    # a paired unit made with another learning rate than the one chosen now is made again
    stored = out / "units" / "paired-0-augmented-10.json"
    record = json.loads(stored.read_text())
    record["runs"][0]["learning_rate"] = 0.5
    stored.write_text(json.dumps(record))
    lines.clear()
    digits_sweep.run_sweep(TINY, out, log=lines.append)
    assert "sweep: paired runs: 1 of 2 units already done" in lines
    assert json.loads(stored.read_text())["runs"][0]["learning_rate"] in (1e-3, 1e-2)


def test_units_of_another_configuration_are_cleared_before_a_sweep_starts(tmp_path):
    lines: list[str] = []
    units = digits_sweep._prepare(TINY, tmp_path, lines.append)
    (units / "paired-0-augmented-10.json").write_text("{}")
    assert (
        digits_sweep._prepare(TINY, tmp_path, lines.append) == units and (units / "paired-0-augmented-10.json").exists()
    )
    other = dataclasses.replace(TINY, seeds=(0,))
    digits_sweep._prepare(other, tmp_path, lines.append)
    assert list(units.iterdir()) == []
    assert any("different configuration" in line for line in lines)
    mine = tmp_path / "mine"
    (mine / "units").mkdir(parents=True)
    (mine / "units" / "precious.txt").write_text("not a sweep's")
    with pytest.raises(ConvlensError, match="no sweep recorded it"):
        digits_sweep._prepare(TINY, mine, lines.append)
    assert (mine / "units" / "precious.txt").exists()


def test_the_command_runs_the_profiles_sweep_with_its_workers_into_out(tmp_path, monkeypatch):
    from toolkit.cli import build_parser
    from toolkit.core.errors import ConvlensError
    from toolkit.experiments import digits_cli

    seen = {}

    def fake_sweep(config, folder, workers=1, log=print):
        seen.update(config=config, folder=folder, workers=workers)
        return sweep_statistics.summarise(
            [
                {"method": m, "samples": 30, "seed": s, "augmented": True, "test_accuracy": 0.5 + s / 100}
                for m in ("transfer", "scratch")
                for s in (0, 1)
            ],
            {"augmented/30/transfer": 0.003, "augmented/30/scratch": 0.003},
        )

    monkeypatch.setattr(digits_cli, "run_sweep", fake_sweep)
    lines: list[str] = []
    args = build_parser().parse_args(
        ["train", "sweep", "--profile", "paper", "--workers", "2", "--out", str(tmp_path / "mine")]
    )
    assert digits_cli.train_from_cli(args, log=lines.append) == 0
    assert seen["workers"] == 2 and seen["folder"] == tmp_path / "mine" and len(seen["config"].seeds) == 10
    assert "(and nothing else)" in lines[-1]
    with pytest.raises(ConvlensError, match="between 1 and 64"):
        digits_cli.config_from_args(build_parser().parse_args(["train", "sweep", "--workers", "0"]))
