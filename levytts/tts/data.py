"""Training data for the TTS model: filelist → (ids, mel, speaker, durations) and resumable batching.

Utterances come from a ``wav_path|speaker|text`` filelist (levytts.data). Phones: from the utterance's
TextGrid (``<textgrid_dir>/<speaker>/<utt_id>.TextGrid``) when a TextGrid directory is given — then the
phone durations come with them (teacher forcing) — otherwise from the text through the phonemizer
(durations then come from MAS). With ``add_blank`` the blank id is interspersed — only for MAS: under
TextGrid durations a blank would get 0 frames, whose log duration (Grad-TTS's duration loss) is -18, so
teacher-forced data keep the plain phone sequence (``TTSDataset.add_blank`` tells which was used).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class TTSDataset(Dataset):
    """Items: dict(ids (L,), mel (n_mels, T) raw log-mel, spk int, durations (L,) or None).

    Args:
        utterances: list of :class:`levytts.data.Utterance`.
        symbols: :class:`levytts.text.SymbolTable`; speakers: ordered speaker ids (index = model speaker id).
        mel_cfg: mel definition (MelConfig fields).
        textgrid_dir: TextGrid root or None; add_blank: intersperse blanks.
        cache: keep computed items in memory.
        log: file for the skip lines (None: stdout, with the other ``levytts train`` lines).

    Utterances the model cannot use are dropped when the dataset is built (from the wav headers, no
    decoding), one line per reason, e.g. ``skipped 3 utterances: fewer mel frames than tokens (first:
    LJ001-0001)``: audio shorter than one STFT window, and — under MAS, where a token needs a frame —
    fewer mel frames than tokens, and unspeakable text (levytts.data.validate, which
    ``levytts data validate`` runs ahead of time). ``skipped`` holds reason → [utterance ids].
    An unreadable audio file raises ValueError naming it.
    """

    def __init__(self, utterances, symbols, speakers: list[str], mel_cfg, textgrid_dir: str | None = None,
                 add_blank: bool = True, cache: bool = True, log=None):
        from levytts.audio.mel import MelConfig, MelSpectrogram

        if not utterances:
            raise ValueError("the filelist holds no utterances")
        self.utts = list(utterances)
        self.symbols = symbols
        self.speakers = list(speakers)
        self.spk_index = {s: i for i, s in enumerate(self.speakers)}
        unknown = sorted({u.speaker for u in self.utts} - set(self.spk_index))
        if unknown:
            raise ValueError(f"speakers {unknown} are not in the speaker list {self.speakers}")
        self.mel_cfg = MelConfig.from_cfg(mel_cfg)
        self.mel = MelSpectrogram.from_cfg(self.mel_cfg)
        self.textgrid_dir = None if textgrid_dir in (None, "", "null") else Path(textgrid_dir)
        if self.textgrid_dir is not None and not self.textgrid_dir.is_dir():
            raise FileNotFoundError(f"TextGrid directory not found: {self.textgrid_dir} (set data.textgrid_dir: null "
                                    "to align with MAS instead)")
        self.add_blank = add_blank and self.textgrid_dir is None
        self._cache: dict[int, dict] | None = {} if cache else None
        self._phonemizer = None
        self.skipped = self._drop_unusable(log)

    def _drop_unusable(self, log) -> dict[str, list[str]]:
        import sys

        import soundfile as sf

        from levytts.data.validate import length_problem

        cfg = self.mel_cfg
        kept, skipped = [], {}
        for u in self.utts:
            try:
                info = sf.info(u.wav_path)
            except Exception as err:  # missing or corrupt: name the file (soundfile's message may not)
                raise ValueError(f"cannot read audio file {u.wav_path}: {err} (run `levytts data validate` "
                                 "on the filelist)") from err
            n_phones = None
            if self.textgrid_dir is None:  # MAS: every token needs at least one frame
                try:
                    n_phones = len(self._phones(u.text))
                except ValueError:
                    skipped.setdefault("unspeakable text", []).append(u.utt_id)
                    continue
            problem = length_problem(info.frames, info.samplerate, n_phones, cfg.sample_rate, cfg.n_fft,
                                     cfg.hop_length, self.add_blank, max_frames_per_token=None)
            if problem is None:
                kept.append(u)
            else:
                skipped.setdefault(problem, []).append(u.utt_id)
        for reason, ids in skipped.items():
            print(f"skipped {len(ids)} utterances: {reason} (first: {ids[0]})",
                  file=log or sys.stdout)
        if not kept:
            raise ValueError(f"none of the {len(self.utts)} utterances is usable: "
                             + "; ".join(f"{reason}: {len(ids)}" for reason, ids in skipped.items()))
        self.utts = kept
        return skipped

    def __len__(self) -> int:
        return len(self.utts)

    def _phones(self, text: str) -> list[str]:
        if self._phonemizer is None:
            from levytts.text import Phonemizer

            self._phonemizer = Phonemizer()
        return self._phonemizer(text)[1]

    def _ids(self, phones: list[str], u) -> list[int]:
        try:
            return self.symbols.to_ids(phones)
        except ValueError as err:
            raise ValueError(f"{u.wav_path}: {err}") from err

    def load(self, i: int) -> dict:
        from levytts.audio.io import load_audio
        from levytts.data import textgrid_to_durations

        u = self.utts[i]
        audio, _ = load_audio(u.wav_path, self.mel_cfg.sample_rate)  # its errors name the file
        try:
            with torch.no_grad():
                mel = self.mel(torch.from_numpy(audio))
        except (ValueError, RuntimeError) as err:  # e.g. too short for the reflect padding
            raise ValueError(f"{u.wav_path}: {err}") from err
        durations = None
        if self.textgrid_dir is not None:
            grid = self.textgrid_dir / u.speaker / f"{u.utt_id}.TextGrid"
            phones, durs = textgrid_to_durations(grid, mel.shape[-1], self.mel_cfg.sample_rate,
                                                 self.mel_cfg.hop_length)
            ids = self._ids(phones, u)
            durations = torch.tensor(durs, dtype=torch.long)
        else:
            ids = self._ids(self._phones(u.text), u)
            if self.add_blank:
                ids = self.symbols.intersperse(ids)
        return {"ids": torch.tensor(ids, dtype=torch.long), "mel": mel, "spk": self.spk_index[u.speaker],
                "durations": durations}

    def __getitem__(self, i: int) -> dict:
        if self._cache is None:
            return self.load(i)
        if i not in self._cache:
            self._cache[i] = self.load(i)
        return self._cache[i]

    def mel_statistics(self, max_items: int | None = None) -> tuple[float, float]:
        """Mean and std of all log-mel values over (up to ``max_items``) utterances."""
        n, s, s2 = 0, 0.0, 0.0
        for i in range(len(self) if max_items is None else min(len(self), max_items)):
            m = self[i]["mel"].double()
            n += m.numel()
            s += float(m.sum())
            s2 += float((m**2).sum())
        mean = s / n
        return mean, math.sqrt(max(s2 / n - mean**2, 1e-12))


def collate(items: list[dict]) -> dict:
    """Pad a list of items into a batch.

    Returns:
        dict: ids (B, L) (pad 0), id_lengths (B,), mels (B, n_mels, T) (pad 0), mel_lengths (B,), spk (B,),
        durations (B, L) or None.
    """
    B = len(items)
    L = max(len(it["ids"]) for it in items)
    T = max(it["mel"].shape[-1] for it in items)
    n_mels = items[0]["mel"].shape[0]
    ids = torch.zeros(B, L, dtype=torch.long)
    mels = torch.zeros(B, n_mels, T)
    has_dur = all(it["durations"] is not None for it in items)
    durations = torch.zeros(B, L, dtype=torch.long) if has_dur else None
    for b, it in enumerate(items):
        ids[b, : len(it["ids"])] = it["ids"]
        mels[b, :, : it["mel"].shape[-1]] = it["mel"]
        if has_dur:
            durations[b, : len(it["durations"])] = it["durations"]
    return {"ids": ids, "id_lengths": torch.tensor([len(it["ids"]) for it in items]), "mels": mels,
            "mel_lengths": torch.tensor([it["mel"].shape[-1] for it in items]),
            "spk": torch.tensor([it["spk"] for it in items], dtype=torch.long), "durations": durations}


class ResumableBatchSampler(Sampler):
    """Shuffled batches, one permutation per epoch from (seed, epoch), resumable at any batch.

    The sampler keeps a global batch counter ``position``: one pass of ``__iter__`` yields the rest of the
    current epoch from it, and only a pass that hands out the epoch's last batch moves it on (so an
    iterator created and dropped — Lightning makes one before training starts — changes nothing). After a resume the loader is
    built with ``position`` = batches already trained, and the run continues exactly where it stopped.
    For DDP every rank takes the batches ``rank::world_size`` of the same permutation (set
    ``use_distributed_sampler: false``).
    """

    def __init__(self, n_items: int, batch_size: int, seed: int = 0, drop_last: bool = True, rank: int = 0,
                 world_size: int = 1, position: int = 0):
        if n_items < 1:
            raise ValueError("no training items")
        self.n, self.batch_size, self.seed, self.drop_last = n_items, batch_size, seed, drop_last
        self.rank, self.world_size = rank, world_size
        self.position = position

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of ``epoch``."""
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        perm = torch.randperm(self.n, generator=g).tolist()
        bs = self.batch_size
        batches = [perm[i: i + bs] for i in range(0, self.n, bs)]
        if self.drop_last and len(batches) > 1 and len(batches[-1]) < bs:
            batches = batches[:-1]
        per_rank = len(batches) // self.world_size if self.world_size > 1 else len(batches)
        return batches[self.rank::self.world_size][:per_rank]

    def __len__(self) -> int:
        return len(self.epoch_batches(0))

    def __iter__(self):
        nb = len(self)
        epoch, offset = divmod(self.position, nb)
        batches = self.epoch_batches(epoch)
        for i in range(offset, nb):
            if i == nb - 1:
                # move on when the last batch is handed out: loaders that know their length never ask for more
                self.position = (epoch + 1) * nb
            yield batches[i]


def make_loader(dataset: TTSDataset, batch_size: int, seed: int, shuffle: bool = True, num_workers: int = 0,
                rank: int = 0, world_size: int = 1, position: int = 0) -> DataLoader:
    """Training loader (shuffled, resumable from batch ``position``) or, with ``shuffle=False``, a plain one."""
    if shuffle:
        sampler = ResumableBatchSampler(len(dataset), min(batch_size, len(dataset)), seed, True, rank, world_size,
                                        position)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate, num_workers=num_workers)
