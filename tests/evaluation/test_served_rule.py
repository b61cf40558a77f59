"""`convlens export` chooses the photo rule for the models it ships, unless told not to or it cannot."""

from __future__ import annotations

import argparse
import shutil

import pytest

from toolkit.core.errors import ConvlensError
from toolkit.evaluation import served_rule


def _args(out, **given) -> argparse.Namespace:
    values = {"model": None, "only": None, "no_photo_rule": False, "out": str(out)}
    return argparse.Namespace(**{**values, **given})


@pytest.fixture
def exported(fake_export, tmp_path, monkeypatch):
    out = tmp_path / "exported"
    shutil.copytree(fake_export, out)
    monkeypatch.setattr(served_rule, "export_from_cli", lambda args: 0)  # the export itself is tested elsewhere
    return out


def _chosen(monkeypatch, error: Exception | None = None) -> list:
    calls: list = []

    def evaluate(out):
        calls.append(out)
        if error:
            raise error

    monkeypatch.setattr(served_rule, "evaluate_photos", evaluate)
    return calls


def test_the_rule_is_chosen_for_the_exported_photo_models(exported, monkeypatch):
    calls = _chosen(monkeypatch)
    assert served_rule.export_then_choose_from_cli(_args(exported)) == 0 and calls == [exported]


@pytest.mark.parametrize(
    "given",
    [{"no_photo_rule": True}, {"only": ["digits"]}, {"model": "mine.keras"}],
)
def test_no_rule_is_chosen_when_asked_not_to_or_no_photo_model_was_exported(exported, monkeypatch, given):
    calls = _chosen(monkeypatch)
    assert served_rule.export_then_choose_from_cli(_args(exported, **given)) == 0 and calls == []


def test_a_failed_choice_leaves_the_export_and_says_the_defaults_are_served(exported, monkeypatch, capsys):
    _chosen(monkeypatch, ConvlensError("the photo archives cannot be fetched"))
    assert served_rule.export_then_choose_from_cli(_args(exported)) == 0
    said = capsys.readouterr().out
    assert "cannot be fetched" in said and "default rule" in said and "convlens eval photos" in said
