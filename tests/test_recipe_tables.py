"""levytts.experiments.imbalanced: condition parsing, test lists, and the result tables from eval CSVs."""
import csv

import pytest

from levytts.data import Utterance, read_filelist, write_filelist
from levytts.eval.report import SUMMARY_COLUMNS, UTT_COLUMNS
from levytts.experiments.imbalanced import (
    condition_dir,
    paired_differences,
    parse_condition,
    read_eval_csvs,
    select_test_list,
    write_table,
)


def test_conditions_map_to_the_eval_layout():
    assert parse_condition("ode:euler:10") == ("ode", "euler", 10)
    assert parse_condition("ode:30") == ("ode", "euler", 30)
    assert condition_dir(*parse_condition("ode:euler:10")) == "ode_N10"
    assert condition_dir(*parse_condition("sde-e:ei:5")) == "sde-e_ei_N5"
    assert condition_dir(*parse_condition("mu")) == "mu_only"
    for bad in ("ode", "ode:euler:ten", "a:b:c:d", "ode:euler:0", "ode:-1"):
        with pytest.raises(ValueError, match="SAMPLER:SOLVER:N"):
            parse_condition(bad)


def test_synth_grid_mu_only_control_is_the_vocoded_encoder_output(tmp_path):
    import numpy as np
    import soundfile as sf
    import torch

    from levytts.experiments.imbalanced import synth_grid
    from levytts.tts.synth import load_demo_voice

    torch.set_num_threads(1)
    write_filelist(tmp_path / "list.txt", [Utterance("/nowhere/awb_x.wav", "awb", "Words must be weighed.")])
    synth_grid(None, tmp_path / "list.txt", tmp_path / "out", ["mu", "ode:euler:2"], vocoder="universal", log=lambda m: None)
    mu_wav, sr = sf.read(tmp_path / "out" / "mu_only" / "awb_x.wav")
    ode_wav, _ = sf.read(tmp_path / "out" / "ode_N2" / "awb_x.wav")
    tts = load_demo_voice(vocoder="universal")
    ids = torch.tensor([tts.text_to_ids("Words must be weighed.")])
    out = tts.model.synthesise(ids, torch.tensor([ids.shape[1]]), torch.tensor([tts.speaker_id("awb")]), steps=1)
    expected = tts.vocoder(out["mu"])[0].numpy()
    assert sr == 22050 and len(mu_wav) == len(ode_wav) == len(expected)
    np.testing.assert_allclose(mu_wav, np.clip(expected, -1, 1), atol=2 / 32767)  # PCM_16 rounding
    assert np.abs(mu_wav - ode_wav).max() > 1e-2
    # --grid reaches the sampler: the wav is the model's own log-SNR-grid sample with the utterance's generator
    from levytts.levy import sample_generators

    synth_grid(None, tmp_path / "list.txt", tmp_path / "out_log", ["ode:euler:2"], grid="log_snr", log=lambda m: None)
    log_wav, _ = sf.read(tmp_path / "out_log" / "ode_N2" / "awb_x.wav")
    ref = tts.model.synthesise(ids, torch.tensor([ids.shape[1]]), torch.tensor([tts.speaker_id("awb")]), steps=2,
                               grid="log_snr", generator=sample_generators(0, 1, start=0))
    np.testing.assert_allclose(log_wav, np.clip(tts.vocoder(ref["mel"])[0].numpy(), -1, 1), atol=2 / 32767)
    assert np.abs(log_wav - ode_wav).max() > 1e-2


def test_select_test_list_keeps_the_first_k_per_speaker(tmp_path):
    utts = [Utterance(f"/w/{s}_{i}.wav", s, f"text {s} {i}") for i in range(3) for s in ("slt", "awb", "rms")]
    write_filelist(tmp_path / "test.txt", utts)
    keep = select_test_list(tmp_path / "test.txt", tmp_path / "out.txt", 2, ["slt", "awb"])
    assert [u.utt_id for u in read_filelist(tmp_path / "out.txt")] == [u.utt_id for u in keep] == \
        ["slt_0", "awb_0", "slt_1", "awb_1"]
    with pytest.raises(ValueError, match="no utterance of speaker"):
        select_test_list(tmp_path / "test.txt", tmp_path / "out.txt", 1, ["lj"])


def _write(path, columns, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})


def test_tables_average_over_seeds_and_pair_by_utterance(tmp_path):
    # similarity of utterance u under α, seed: base + bonus(α) + seed offset
    bonus = {2.0: 0.0, 1.5: 0.05}
    for alpha in (2.0, 1.5):
        for seed in (0, 1):
            summ, utts = [], []
            for spk in ("slt", "awb"):
                sims = [0.6 + bonus[alpha] + 0.01 * seed + 0.1 * (spk == "slt") + 0.02 * u for u in range(3)]
                summ.append({"condition": "ode_N10", "sampler": "ode", "steps": 10, "speaker": spk, "n_ok": 3,
                             "similarity": sum(sims) / 3, "wer": 0.5 - bonus[alpha], "mcd_db": 7.0})
                summ.append({"condition": "reference", "speaker": spk, "similarity": 0.9, "wer": 0.1})
                utts += [{"condition": "ode_N10", "speaker": spk, "utt": f"{spk}_{u}", "status": "ok",
                          "similarity": s} for u, s in enumerate(sims)]
            _write(tmp_path / f"a{alpha}_seed{seed}.csv", SUMMARY_COLUMNS, summ)
            _write(tmp_path / f"a{alpha}_seed{seed}_utts.csv", UTT_COLUMNS, utts)
    (tmp_path / "unrelated.csv").write_text("x\n1\n")  # not an a<alpha>_seed<k> summary: ignored
    assert {(r["alpha"], r["seed"]) for r in read_eval_csvs(tmp_path)} == {(2.0, 0), (2.0, 1), (1.5, 0), (1.5, 1)}
    pairs = paired_differences(tmp_path)
    assert [(r["speaker"], r["alpha"], r["n"], r["wins"]) for r in pairs] == [("awb", 1.5, 6, 6), ("slt", 1.5, 6, 6)]
    assert all(r["mean_diff"] == pytest.approx(0.05) and r["se"] == pytest.approx(0.0, abs=1e-9) for r in pairs)
    paths = write_table(tmp_path, tmp_path / "tables.md", tmp_path / "fig", ["slt", "awb"])
    text = paths["table"].read_text()
    # slt α=1.5: per seed 0.6 + 0.05 + 0.1 + mean(0, .02, .04) + 0.01 s = 0.77 + 0.01 s → 0.775 ± 0.005 (half-range), best
    assert "**0.775 ± 0.005**" in text and "| 0.725 ± 0.005 |" in text
    assert "**+0.050 [+0.050, +0.050]** (6/6)" in text and "| reference |" in text
    assert all(p.is_file() for p in paths.values())
    with pytest.raises(FileNotFoundError, match="levytts eval"):
        read_eval_csvs(tmp_path / "fig")


def test_from_truth_small_start_is_resynthesis_and_from_T_is_not(tmp_path):
    import numpy as np
    import torch

    from levytts.audio.io import save_wav
    from levytts.data import write_textgrid
    from levytts.experiments.imbalanced import from_truth_grid
    from levytts.tts.synth import load_demo_voice

    torch.set_num_threads(1)
    tts = load_demo_voice(vocoder="universal")
    sr = tts.sample_rate
    phones = ["W", "ER1", "D", "Z"]
    dur = 0.6
    t = np.arange(int(dur * sr)) / sr
    audio = sum(0.2 / k * np.sin(2 * np.pi * k * 110.0 * t) for k in range(1, 8)) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    wav = tmp_path / "wavs" / "awb" / "awb_x.wav"
    save_wav(wav, audio, sr)
    step = dur / len(phones)
    write_textgrid(tmp_path / "tg" / "awb" / "awb_x.TextGrid",
                   [(k * step, (k + 1) * step, p) for k, p in enumerate(phones)], duration=dur)
    write_filelist(tmp_path / "list.txt", [Utterance(str(wav), "awb", "Words.")])
    dirs = from_truth_grid(None, tmp_path / "list.txt", tmp_path / "tg", tmp_path / "out", starts=[0.002, 1.0],
                           log=lambda m: None)
    assert [d.name for d in dirs] == ["ts0.002", "ts1"]
    from levytts.audio.io import load_audio
    from levytts.audio.mel import MelSpectrogram

    mel_of = MelSpectrogram.from_cfg(tts.cfg["data"])
    true = mel_of(torch.from_numpy(load_audio(wav, sr)[0]))
    err = {d.name: float((mel_of(torch.from_numpy(load_audio(d / "awb_x.wav", sr)[0])) - true).abs().mean())
           for d in dirs}
    # HiFi-GAN's resynthesis error (log-mel L1) bounds the small start; from T the decoder draws its own mel
    resynth = float((mel_of(torch.from_numpy(tts.vocoder(true[None])[0].numpy())) - true).abs().mean())
    assert err["ts0.002"] < resynth + 0.1
    assert err["ts1"] > err["ts0.002"] + 0.2
    for bad in (1.5, 0.0005, 0.001):
        with pytest.raises(ValueError, match=rf"start time {bad!r} outside \(0.001, T=1\]"):
            from_truth_grid(None, tmp_path / "list.txt", tmp_path / "tg", tmp_path / "out2", starts=[bad],
                            log=lambda m: None)
    # the dir names hold only t_s: a rerun with other settings is refused, the same settings resume (a repeated
    # t_s runs once)
    with pytest.raises(ValueError, match=r"steps_per_unit=10 \(this run: 100\).*another --out-dir"):
        from_truth_grid(None, tmp_path / "list.txt", tmp_path / "tg", tmp_path / "out", starts=[1.0],
                        steps_per_unit=100, log=lambda m: None)
    said = []
    again = from_truth_grid(None, tmp_path / "list.txt", tmp_path / "tg", tmp_path / "out", starts=[1.0, 1.0, 0.002],
                            log=said.append)
    assert [d.name for d in again] == ["ts1", "ts0.002"] and said == []  # nothing left to do
    for bad_steps in (0, 1001):
        with pytest.raises(ValueError, match="steps_per_unit must be an integer in"):
            from_truth_grid(None, tmp_path / "list.txt", tmp_path / "tg", tmp_path / "out4", starts=[0.5],
                            steps_per_unit=bad_steps, log=lambda m: None)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        from_truth_grid(None, tmp_path / "list.txt", tmp_path / "tg", tmp_path / "afile", starts=[0.5], log=lambda m: None)
    with pytest.raises(FileNotFoundError, match="TextGrid directory not found"):
        from_truth_grid(None, tmp_path / "list.txt", tmp_path / "nowhere", tmp_path / "out3", starts=[0.5],
                        log=lambda m: None)
