"""Issue 14: checked numeric options (every `levytts` subcommand and TTS.synth), `synth --file` line errors,
and the clipping warning."""
import argparse
import math

import numpy as np
import pytest
import torch

from levytts.cli import load_command, main
from levytts.cli_types import (
    SEED_MAX,
    check_number,
    describe,
    nonneg_float,
    number,
    positive_float,
    positive_int,
    seed_int,
    validated,
)
from levytts.image.cli import CONFIG_DIR as IMAGE_CONFIG_DIR
from levytts.tts.synth import (
    CLIP_WARN_FRACTION,
    FULL_SCALE,
    LENGTH_SCALE_MAX,
    check_synth_numbers,
    clipping_warning,
    parse_eta,
)


# ---------------------------------------------------------------------------------------- the shared rule
@pytest.mark.parametrize("kw, text", [
    (dict(integer=True, low=1), "an integer >= 1"),
    (dict(low=0, low_open=True), "a finite number > 0"),
    (dict(low=0, high=10, low_open=True), "a finite number in (0, 10]"),
    (dict(integer=True, low=0, high=SEED_MAX), "an integer in [0, 4294967295]"),
    (dict(high=1, high_open=True), "a finite number < 1"),
    ({}, "a finite number"),
])
def test_describe(kw, text):
    assert describe(**kw) == text


@pytest.mark.parametrize("value", [math.nan, "nan", math.inf, "-inf", "1e999", 0, "0", -1, "-1", "x", "", None, True])
def test_check_number_refuses_non_finite_and_out_of_range(value):
    with pytest.raises(ValueError, match=r"^length_scale must be a finite number > 0, got "):
        check_number(value, "length_scale", low=0, low_open=True)


def test_check_number_accepts_and_converts():
    assert check_number("2.5", "x", low=0, low_open=True) == 2.5
    assert check_number(" 7 ", "steps", integer=True, low=1) == 7
    assert check_number(10.0, "steps", integer=True, low=1) == 10 and isinstance(check_number(10.0, "s", integer=True), int)
    assert check_number(np.int64(3), "steps", integer=True, low=1) == 3
    assert check_number(10, "x", low=0, high=10, low_open=True) == 10.0  # closed upper end
    for bad in ("1.5", 1.5, "1e3", 0, False):
        with pytest.raises(ValueError, match="steps must be an integer >= 1"):
            check_number(bad, "steps", integer=True, low=1)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        check_number(1, "p", low=0, high=1, low_open=True, high_open=True)


def test_argparse_types_give_one_line_errors(capsys):
    p = argparse.ArgumentParser(prog="t")
    p.add_argument("--n", type=positive_int)
    p.add_argument("--x", type=positive_float)
    p.add_argument("--d", type=nonneg_float)
    p.add_argument("--s", type=seed_int)
    p.add_argument("--r", type=number(low=0, high=2, low_open=True))
    p.add_argument("--e", type=validated(parse_eta))
    args = p.parse_args(["--n", "3", "--x", "0.5", "--d", "0", "--s", str(SEED_MAX), "--r", "2", "--e", "popov:0.3,0.5"])
    assert (args.n, args.x, args.d, args.s, args.r, args.e) == (3, 0.5, 0.0, SEED_MAX, 2.0, "popov:0.3,0.5")
    for argv, msg in [(["--n", "0"], "argument --n: must be an integer >= 1, got '0'"),
                      (["--x", "nan"], "argument --x: must be a finite number > 0, got 'nan'"),
                      (["--d", "-0.1"], "argument --d: must be a finite number >= 0, got '-0.1'"),
                      (["--s", str(SEED_MAX + 1)], "argument --s: must be an integer in [0, 4294967295]"),
                      (["--r", "inf"], "argument --r: must be a finite number in (0, 2], got 'inf'"),
                      (["--e", "nan"], "argument --e: bad --eta 'nan'")]:
        with pytest.raises(SystemExit) as exc:
            p.parse_args(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err


@pytest.mark.parametrize("bad", ["nan", "-1", "inf", "popov:nan,1", "popov:0.5,0.3", "popov:0.3,0.3,0.2,1", "power:-1",
                                 "power:nan", "powerful", float("nan"), -0.5, True])
def test_parse_eta_refuses_bad_values(bad):
    with pytest.raises(ValueError, match="bad --eta"):
        parse_eta(bad)


def test_parse_eta_accepts_good_values():
    assert parse_eta("0") == 0.0 and parse_eta(0.3) == 0.3
    assert parse_eta("power:0")(0.5) == 1.0
    assert callable(parse_eta("popov:0.3,0.5,0.8"))


# ------------------------------------------------------------------------- every subcommand's numeric options
BAD_OPTIONS = [
    (["synth", "--length-scale", "nan"], "argument --length-scale: must be a finite number in (0, 10], got 'nan'"),
    (["synth", "--length-scale", "0"], "argument --length-scale: must be a finite number in (0, 10], got '0'"),
    (["synth", "--length-scale", "-1"], "argument --length-scale: must be a finite number in (0, 10], got '-1'"),
    (["synth", "--length-scale", "11"], "argument --length-scale"),
    (["synth", "--steps", "0"], "argument --steps: must be an integer in [1, 1000], got '0'"),
    (["synth", "--steps", "2.5"], "argument --steps: must be an integer in [1, 1000], got '2.5'"),
    (["synth", "--steps", "100000"], "argument --steps: must be an integer in [1, 1000], got '100000'"),
    (["synth", "--temperature", "0"], "argument --temperature: must be a finite number > 0"),
    (["synth", "--temperature", "inf"], "argument --temperature: must be a finite number > 0"),
    (["synth", "--guidance", "-1"], "argument --guidance: must be a finite number in [0, 20], got '-1'"),
    (["synth", "--guidance", "nan"], "argument --guidance: must be a finite number in [0, 20]"),
    (["imbalanced", "synth", "--guidance", "21"], "argument --guidance: must be a finite number in [0, 20]"),
    (["synth", "--t-start", "nan"], "argument --t-start: must be a finite number > 0"),
    (["synth", "--t-start", "-0.5"], "argument --t-start: must be a finite number > 0"),
    (["synth", "--eta", "nan"], "argument --eta: bad --eta 'nan'"),
    (["synth", "--eta", "-1"], "argument --eta: bad --eta '-1'"),
    (["synth", "--seed", "-1"], "argument --seed: must be an integer in [0, 4294967295], got '-1'"),
    (["synth", "--threads", "0"], "argument --threads: must be an integer >= 1, got '0'"),
    (["demo-sampler", "--alpha", "0.3"], "argument --alpha: must be a finite number in [0.5, 2], got '0.3'"),
    (["demo-sampler", "--alpha", "2.5"], "argument --alpha: must be a finite number in [0.5, 2]"),
    (["demo-sampler", "--alpha", "nan"], "argument --alpha: must be a finite number in [0.5, 2]"),
    (["demo-sampler", "--samples", "5"], "argument --samples: must be an integer >= 10, got '5'"),
    (["demo-sampler", "--seed", "x"], "argument --seed: must be an integer in [0, 4294967295], got 'x'"),
    (["eval", "--min-duration", "-1"], "argument --min-duration: must be a finite number >= 0, got '-1'"),
    (["eval", "--min-duration", "nan"], "argument --min-duration: must be a finite number >= 0"),
    (["eval", "--max-refs", "0"], "argument --max-refs: must be an integer >= 1, got '0'"),
    (["toy2d", "--stage", "0"], "argument --stage: must be an integer in [1, 5], got '0'"),
    (["toy2d", "--stop-stage", "6"], "argument --stop-stage/--stop_stage: must be an integer in [1, 5], got '6'"),
    (["toy2d", "--seeds", "1"], "argument --seeds: must be an integer >= 2, got '1'"),
    (["toy2d", "--threads", "0"], "argument --threads: must be an integer >= 1, got '0'"),
    (["imbalanced", "test-list", "--per-speaker", "0"], "argument --per-speaker: must be an integer >= 1, got '0'"),
    (["imbalanced", "synth", "--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got '0'"),
    (["imbalanced", "synth", "--threads", "-2"], "argument --threads: must be an integer >= 1, got '-2'"),
    (["imbalanced", "synth", "--t-start", "nan"], "argument --t-start: must be a finite number > 0"),
    (["imbalanced", "synth", "--temperature", "-1"], "argument --temperature: must be a finite number > 0"),
    (["imbalanced", "synth", "--seed", "-1"], "argument --seed: must be an integer in [0, 4294967295]"),
    (["imbalanced", "synth", "--eta", "inf"], "argument --eta: bad --eta 'inf'"),
    (["imbalanced", "synth", "--conditions", "ode:euler:0"], "argument --conditions: bad condition 'ode:euler:0'"),
    (["imbalanced", "mel-figure", "--steps", "2", "0"], "argument --steps: must be an integer >= 1, got '0'"),
    (["imbalanced", "mel-figure", "--seed", "1.5"], "argument --seed: must be an integer in [0, 4294967295]"),
]


@pytest.mark.parametrize("argv, msg", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_every_numeric_option_is_checked(argv, msg, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1


def _parser(name):
    add_arguments, _main = load_command(name)
    parser = argparse.ArgumentParser(prog=f"levytts {name}")
    add_arguments(parser)
    return parser


def test_good_values_still_parse():
    a = _parser("synth").parse_args(["--steps", "4", "--length-scale", "1.2", "--temperature", "1.5", "--t-start",
                                     "0.8", "--seed", "7", "--threads", "1", "--eta", "popov:0.3,0.3"])
    assert (a.steps, a.length_scale, a.temperature, a.t_start, a.seed, a.threads, a.eta) == \
        (4, 1.2, 1.5, 0.8, 7, 1, "popov:0.3,0.3")
    d = _parser("synth").parse_args([])
    assert (d.steps, d.length_scale, d.seed, d.temperature, d.t_start) == (None, 1.0, 0, None, None)
    t = _parser("toy2d").parse_args(["--stage", "2", "--stop-stage", "3", "--seeds", "2"])
    assert (t.stage, t.stop_stage, t.seeds, t.threads) == (2, 3, 2, 1)
    m = _parser("imbalanced").parse_args(["mel-figure", "--text", "x", "--speaker", "s", "--out", "o.png",
                                          "--steps", "2", "10"])
    assert m.steps == [2, 10] and m.seed == 0
    g = _parser("imbalanced").parse_args(["synth", "--filelist", "f", "--out-dir", "o", "--conditions", "mu",
                                          "ode:10", "sde-e:ei:5"])
    assert g.conditions == ["mu", "ode:10", "sde-e:ei:5"] and g.batch_size == 16
    e = _parser("demo-sampler").parse_args(["--alpha", "2", "--samples", "10"])
    assert (e.alpha, e.samples) == (2.0, 10)


def test_help_still_exits_zero(capsys):
    assert main(["synth", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "FILE:LINE" in out and "blank lines are skipped" in out and "no wav written" in out
    assert "full scale" in out


# ---------------------------------------------------------------------------------- TTS.synth (the Python API)
@pytest.mark.parametrize("kw, name", [
    (dict(steps=0), "steps"), (dict(steps=2.5), "steps"), (dict(steps=True), "steps"),
    (dict(length_scale=math.nan), "length_scale"), (dict(length_scale=0), "length_scale"),
    (dict(length_scale=-1), "length_scale"), (dict(length_scale=LENGTH_SCALE_MAX * 2), "length_scale"),
    (dict(temperature=0), "temperature"), (dict(temperature=math.inf), "temperature"),
    (dict(guidance=-0.5), "guidance"), (dict(guidance=math.nan), "guidance"), (dict(guidance=100), "guidance"),
    (dict(t_start=math.nan), "t_start"), (dict(t_start=-1.0), "t_start"),
    (dict(pause_seconds=-0.1), "pause_seconds"), (dict(pause_seconds=math.nan), "pause_seconds"),
    (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"),
])
def test_check_synth_numbers_names_the_parameter(kw, name):
    base = dict(steps=4, sampler="ode", solver="ei", eta="0", grid="uniform", t_start=None, temperature=1.0,
                guidance=1.0)
    sampler_kw = {**base, **{k: v for k, v in kw.items() if k in base}}
    rest = dict(length_scale=1.0, pause_seconds=0.2, seed=0)
    rest.update({k: v for k, v in kw.items() if k in rest})
    with pytest.raises(ValueError, match=rf"^{name} must be "):
        check_synth_numbers(sampler_kw, **rest)


def test_check_synth_numbers_converts():
    kw, ls, pause, seed = check_synth_numbers(dict(steps=4.0, eta="0", t_start="0.8", temperature=2, guidance="2"), 1, 0,
                                              None)
    assert kw["steps"] == 4 and isinstance(kw["steps"], int) and kw["t_start"] == 0.8 and kw["temperature"] == 2.0
    assert kw["guidance"] == 2.0
    assert (ls, pause, seed) == (1.0, 0.0, None)
    with pytest.raises(ValueError, match="bad --eta"):
        check_synth_numbers(dict(steps=4, eta=math.nan, t_start=None, temperature=1.0, guidance=1.0), 1.0, 0.2, 0)


@pytest.fixture(scope="module")
def demo_tts():
    from levytts.pretrained import demo_voice_path
    from levytts.tts.synth import TTS

    return TTS(demo_voice_path(), vocoder=None)


@pytest.mark.parametrize("kw, name", [(dict(length_scale=math.nan), "length_scale"), (dict(length_scale=0), "length_scale"),
                                      (dict(steps=0), "steps"), (dict(temperature=-1.0), "temperature"),
                                      (dict(seed=-3), "seed"), (dict(eta="popov:nan,1", sampler="sde-e"), "eta")])
def test_tts_synth_rejects_bad_numbers(demo_tts, kw, name):
    with pytest.raises(ValueError, match=name):
        demo_tts.synth("Hello.", speaker="slt", **kw)


# ------------------------------------------------------------------------------------------ clipping warning
def test_clipping_warning_decides_on_the_fraction_at_full_scale():
    sr = 22050
    sine = 0.5 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr).astype(np.float32)
    assert clipping_warning(sine) is None
    assert clipping_warning(np.zeros(0, np.float32)) is None
    # a waveform with 29 % of its samples at ±full scale (as the 2-step SDE-A render of the issue)
    clipped = sine.copy()
    n = int(0.29 * clipped.size)
    clipped[:n] = np.where(np.arange(n) % 2, 1.0, -1.0)
    msg = clipping_warning(clipped, defaults={"steps": 4, "sampler": "ode", "solver": "ei"})
    assert msg.startswith("29.0 % of the audio samples are at full scale (clipped)")
    assert "more --steps" in msg and "--sampler ode" in msg and "N=4, ode/ei" in msg
    # the threshold: 0.1 % is tolerated, just above is not; |x| > 1 and the PCM_16 extreme 32767/32768 both count
    at = sine.copy()
    k = int(CLIP_WARN_FRACTION * at.size)
    at[:k] = FULL_SCALE
    assert clipping_warning(at) is None
    at[k:k + 2] = -3.0
    assert clipping_warning(at) is not None
    assert clipping_warning(torch.tensor(clipped)) is not None and clipping_warning(clipped, threshold=0.5) is None


class _SquareVocoder:
    """Stands in for HiFi-GAN: a full-scale square wave, the loudest clipping there is."""
    name = "square"

    def __init__(self, hop):
        self.hop = hop

    def __call__(self, mel):
        n = mel.shape[-1] * self.hop
        return torch.where(torch.arange(n) % 100 < 50, 1.0, -1.0)[None]


@pytest.fixture
def square_vocoder(monkeypatch):
    import levytts.tts.synth

    monkeypatch.setattr(levytts.tts.synth, "load_vocoder", lambda spec, cfg, device="cpu", **kw: _SquareVocoder(int(cfg["hop_length"])))


def test_synth_cli_warns_on_clipping_and_still_writes(tmp_path, square_vocoder):
    wav = tmp_path / "x.wav"
    with pytest.warns(RuntimeWarning, match=r"100\.0 % of the audio samples are at full scale"):
        assert main(["synth", "--text", "Hi.", "--speaker", "slt", "--steps", "1", "--out", str(wav)]) == 0
    assert wav.is_file()


# ------------------------------------------------------------------------------------------------ synth --file
def test_synth_file_bad_line_stops_before_any_output(tmp_path, capsys, monkeypatch):
    from levytts.tts.synth import TTS

    def never(*a, **k):
        raise AssertionError("synthesised before every line was checked")

    monkeypatch.setattr(TTS, "synth", never)
    texts = tmp_path / "texts.txt"
    texts.write_text("Hello there.\n\n-\nGood bye.\n", encoding="utf-8")  # line 3 is the bad one (line 2 blank)
    out = tmp_path / "out"
    assert main(["synth", "--file", str(texts), "--speaker", "slt", "--vocoder", "griffin-lim", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"levytts synth: error: {texts}:3: no speakable words in text '-'")
    assert not out.exists()


def test_synth_file_numbers_outputs_in_order_skipping_blank_lines(tmp_path, capsys, square_vocoder):
    texts = tmp_path / "texts.txt"
    texts.write_text("Hello.\n\n   \nGood bye.\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.warns(RuntimeWarning, match="full scale"):
        assert main(["synth", "--file", str(texts), "--speaker", "slt", "--steps", "1", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["0001.wav", "0002.wav"]


def test_synth_file_bom_and_non_utf8(tmp_path, capsys, monkeypatch):
    from levytts.tts.synth import TTS

    seen = []
    monkeypatch.setattr(TTS, "synth", lambda self, text, **k: seen.append(text) or (_ for _ in ()).throw(SystemExit(0)))
    texts = tmp_path / "bom.txt"
    texts.write_bytes(b"\xef\xbb\xbfHello there.\n")  # a Windows editor's byte-order mark must not reach the text
    with pytest.raises(SystemExit):
        main(["synth", "--file", str(texts), "--speaker", "slt", "--vocoder", "griffin-lim",
              "--out", str(tmp_path / "o")])
    assert seen == ["Hello there."]
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Hello.\nCaf\u00e9 au lait.\n".encode("latin-1"))
    assert main(["synth", "--file", str(latin1), "--speaker", "slt", "--vocoder", "griffin-lim",
                 "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"levytts synth: error: {latin1}:2: not UTF-8 (byte 0xe9 at byte offset 10); save it as UTF-8"]


# ------------------------------------------------------------------------------ dispatch and error handling
def test_image_options_anywhere_among_overrides():
    p = _parser("image")
    for argv in (["train", "--config-dir", "D", "a=1", "b=2"], ["train", "a=1", "--config-dir", "D", "b=2"],
                 ["--config-dir", "D", "train", "a=1", "b=2"], ["train", "a=1", "b=2", "--config-dir", "D"]):
        a = p.parse_args(argv)
        assert (a.action, a.config_dir, a.overrides) == ("train", "D", ["a=1", "b=2"]), argv
    assert p.parse_args(["sample"]).config_dir == str(IMAGE_CONFIG_DIR)
    f = p.parse_args(["make-fixture", "--kind", "cifar10", "--out", "x"])
    assert (f.kind, f.out) == ("cifar10", "x")


def test_user_error_is_one_line_and_a_bug_keeps_its_traceback(tmp_path, capsys, monkeypatch):
    assert main(["data", "mix", "--source", "nope=/x", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("levytts data mix: error: --source takes KIND=PATH")
    import levytts.data.cli

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(levytts.data.cli, "prepare", broken)  # dispatched through set_defaults(func=prepare)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["data", "prepare", "--source", "ljspeech=/x", "--out-dir", str(tmp_path)])


def test_shared_runtime_options():
    for name in ("synth", "serve"):
        a = _parser(name).parse_args(["--device", "cuda:1", "--threads", "2"])
        assert (a.device, a.threads) == ("cuda:1", 2)
    with pytest.raises(SystemExit):
        _parser("synth").parse_args(["--device", "gpu"])
    assert _parser("data").parse_args(["mix", "--source", "a=b", "--out-dir", "o"]).seed == 1234


def test_synth_text_and_file_conflicts(tmp_path, capsys):
    texts = tmp_path / "t.txt"
    texts.write_text("Hello.\n", encoding="utf-8")
    for argv, said in ((["--text", "a", "--file", str(texts), "--out", str(tmp_path / "d")], "give --text or --file, not both"),
                       (["--file", str(texts), "--out", str(tmp_path / "one.wav")], "give a directory, not")):
        assert main(["synth", "--speaker", "slt", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0], err
    assert not (tmp_path / "one.wav").exists() and not (tmp_path / "d").exists()


def test_synth_eta_without_the_sde_e_sampler_is_refused(tmp_path, capsys):
    """--eta weights SDE-E's noise only: given with the voice's ODE default it would be ignored silently."""
    out = tmp_path / "x.wav"
    assert main(["synth", "--text", "Hi.", "--speaker", "slt", "--eta", "popov(0.1,0.1)", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--eta applies to the SDE-E sampler only; this run samples with ode" in err[0]
    assert not out.exists()
