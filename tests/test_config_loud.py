"""`levytts train` configs fail loudly: a misspelt or missing key stops it at start-up with one line that names the
key and the valid keys of its node — never a silent default (alpha 2.0 would train the Gaussian model)."""
from __future__ import annotations

import shutil

import pytest

from levytts.cli import main as cli_main
from levytts.tts.train import CONFIG_DIR, REQUIRED, compose_config

DIFFUSION_KEYS = ", ".join(REQUIRED["diffusion"])


def _error(capsys, *argv) -> str:
    assert cli_main(["train", "experiment=offline_tiny", *argv, "--cfg"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("levytts train: error: "), captured.err
    assert "Traceback" not in captured.err and not captured.out
    return lines[0]


@pytest.mark.parametrize("override, says", [
    ("diffusion.alhpa=1.5", f"Key 'alhpa' is not in struct; valid keys of diffusion: {DIFFUSION_KEYS} "
                            "(did you mean 'alpha'?)"),
    ("diffusoin.alpha=1.5", "Key 'diffusoin' is not in struct; valid keys of the top level: "),
    ("model.encoder.n_chanels=16", "Key 'n_chanels' is not in struct; valid keys of model.encoder: kind, n_channels"),
    ("trainer.max_step=3", "Key 'max_step' is not in struct; valid keys of trainer: "),
    ("+diffusion.alhpa=1.5", f"unknown config key 'diffusion.alhpa'; valid keys of diffusion: {DIFFUSION_KEYS}"),
    ("+train.lrr=0.1", "unknown config key 'train.lrr'; valid keys of train: batch_size, lr,"),
])
def test_misspelt_key_fails_naming_the_valid_keys(capsys, override, says):
    assert says in _error(capsys, override)


def test_missing_alpha_fails_naming_it(capsys, tmp_path):
    """alpha deleted from the diffusion yaml (or by `~diffusion.alpha`) is an error, not alpha = 2.0."""
    configs = shutil.copytree(CONFIG_DIR, tmp_path / "configs")
    yaml = configs / "diffusion" / "levy.yaml"
    text = yaml.read_text()
    assert "\nalpha: 1.5\n" in text
    yaml.write_text(text.replace("\nalpha: 1.5\n", "\n"))
    for argv in (["--config-dir", str(configs)], ["~diffusion.alpha"]):
        line = _error(capsys, *argv)
        assert "config key 'diffusion.alpha' is missing" in line
        assert f"valid keys of diffusion: {DIFFUSION_KEYS}" in line
    with pytest.raises(ValueError, match="'train.val_steps' is missing"):
        compose_config(["experiment=offline_tiny", "~train.val_steps"])
    # the model itself has no alpha fallback either (e.g. a hand-made config passed to LevyTTS)
    from levytts.tts.model import LevyTTS

    with pytest.raises(ValueError, match="no alpha"):
        LevyTTS(n_vocab=10, n_spks=1, n_mels=8, encoder={"kind": "grad_tts", "n_channels": 8, "filter_channels": 8,
                                                           "filter_channels_dp": 8, "n_layers": 1},
                decoder={"dim": 8}, diffusion={"schedule": "linear"}, spk_emb_dim=4)


def test_unknown_trainer_argument_fails_before_any_work(tmp_path):
    from levytts.tts.train import run

    cfg = compose_config(["experiment=offline_tiny", f"run_dir={tmp_path / 'run'}", "+trainer.max_step=3"])
    with pytest.raises(ValueError, match="unknown config key 'trainer.max_step'.*did you mean 'max_steps'"):
        run(cfg)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("experiment", ["offline_tiny", "offline_decoder_conv1d", "avg_voice_pretrain", "paper"])
def test_correct_overrides_still_build_the_model(experiment):
    """A correct override composes and reaches the model (built as `levytts train` builds it, without fitting)."""
    from levytts.text import SymbolTable
    from levytts.tts.lightning import TTSLightning

    cfg = compose_config([f"experiment={experiment}", "diffusion.alpha=1.8",
                          "model.spk_emb_dim=8", "train.lr=3e-4"])
    assert cfg["diffusion"]["alpha"] == 1.8 and cfg["train"]["lr"] == 3e-4
    module = TTSLightning(cfg, SymbolTable.default().to_dict(), ["aa", "bb"], add_blank=True)
    assert module.model.proc.alpha == 1.8
    # model.* takes per-kind keys (not closed in the config): the encoder and decoder check theirs when built
    bad = compose_config([f"experiment={experiment}", "+model.encoder.n_chanels=16"])
    with pytest.raises(ValueError, match="has no option.*n_chanels; valid: .*"):
        TTSLightning(bad, SymbolTable.default().to_dict(), ["aa", "bb"], add_blank=True)


def test_preset_quick_shrinks_any_experiment_and_the_command_line_wins():
    """preset=quick (configs/tts/preset/quick.yaml) composes after the experiment: its sizes win over the
    experiment's, a command-line key wins over the preset, and the model is the experiment's."""
    full = compose_config(["experiment=offline_decoder_conv1d"])
    quick = compose_config(["experiment=offline_decoder_conv1d", "preset=quick"])
    assert (quick["train"]["batch_size"], quick["trainer"]["max_steps"], quick["train"]["checkpoint_every"]) == (2, 4, 2)
    assert full["train"]["batch_size"] != 2 and quick["model"] == full["model"]
    assert quick["diffusion"] == full["diffusion"] and quick["stage"] == full["stage"] == "decoder"
    assert compose_config(["experiment=offline_decoder_conv1d", "preset=quick", "trainer.max_steps=7"])["trainer"][
        "max_steps"] == 7
    with pytest.raises(ValueError, match="preset"):
        compose_config(["experiment=offline_tiny", "preset=quik"])


@pytest.mark.parametrize("override, says", [
    ("train.batch_size=-1", "train.batch_size must be an integer >= 1, got -1"),
    ("diffusion.alpha=abc", "diffusion.alpha must be a finite number in [0.5, 2], got 'abc'"),
    ("diffusion.alpha=2.5", "diffusion.alpha must be a finite number in [0.5, 2], got 2.5"),
    ("stage=encodr", "stage must be one of joint, encoder, decoder, got 'encodr'"),
    ("trainer.max_steps=abc", "trainer.max_steps must be an integer >= -1, got 'abc'"),
    ("train.ema_decay=1.5", "train.ema_decay must be"),
    ("+model.foo=1", "unknown config key 'model.foo'; valid keys of model: encoder, decoder, spk_emb_dim, durations"),
])
def test_bad_values_fail_naming_the_key(capsys, override, says):
    assert says in _error(capsys, override)


def test_missing_resume_checkpoint_fails_before_any_work(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert cli_main(["train", "experiment=offline_tiny", "preset=quick", f"run_dir={run_dir}",
                     f"resume={tmp_path / 'no.ckpt'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"levytts train: error: resume checkpoint not found: {tmp_path / 'no.ckpt'} (resume takes auto, "
                   "null or a checkpoint path)"]
    assert not run_dir.exists()  # nothing written
