"""An honestly labelled SYNTHETIC multi-speaker corpus from Debian's flite voices (no recorded speech here).

What it writes under ``out_dir`` (see docs/speech_data.md):
- ``wavs/<speaker>/<utt>.wav``: 22 050 Hz (from flite's 16 kHz, resampled with soxr), leading and
  trailing silence cut at flite's own phone boundaries;
- ``textgrids/<speaker>/<utt>.TextGrid``: MFA-style ``words`` / ``phones`` tiers with flite's phone
  durations (``flite -psdur``), phones relabelled with our phonemizer's stressed ARPAbet;
- ``all.txt`` (``wav_path|speaker|text``), ``test_sentences.txt`` (held out: every speaker says them,
  no speaker trains on them), ``speakers.txt``, ``symbols.json``, ``corpus.json`` (what was built).

How phones and durations agree: every sentence is normalised and phonemised by
:class:`levytts.text.Phonemizer` (only sentences whose words are all in CMUdict are used); flite gets
the normalised text plus a lexicon addendum (``-add_lex``) holding exactly those pronunciations, so
its segment stream equals ours up to stress digits, flite's ``ax`` for ``AH0`` and post-lexical rules
(``the`` before a vowel). The non-pause streams must have equal length (else the sentence is skipped
and counted); labels come from our phonemizer, durations from flite, pauses become silence intervals.

Speakers are flite voices, some pitch-shifted with sox (``pitch`` keeps the duration, so flite's
timings stay valid; formants move too, which is what makes the GE2E encoder hear a different
speaker). Deterministic for a seed: the outputs depend only on (seed, arguments, flite/sox versions).
"""
from __future__ import annotations

import contextlib
import json
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FORTUNE_DIR = "/usr/share/games/fortunes"
# fortunes-min's files first, then categories of Debian `fortunes` that are mostly plain prose
# (left out: ascii-art, code-heavy linux/perl/debian, and the topical ethnic/drugs/politics/men-women).
FORTUNE_FILES = ("fortunes", "literature", "riddles", "wisdom", "science", "people", "platitudes", "humorists",
                 "education", "food", "pets", "sports", "work", "love", "goedel", "paradoxum", "tao", "kids",
                 "magic", "medicine", "law", "miscellaneous", "songs-poems", "computers", "cookie", "news")
_ALLOWED = re.compile(r"[A-Za-z0-9 ,.;:!?'\"-]+")


@dataclass(frozen=True)
class Voice:
    """A corpus speaker: a flite voice, optionally pitch-shifted by ``pitch_cents`` with sox."""

    name: str
    flite_voice: str
    pitch_cents: int = 0

    @classmethod
    def parse(cls, spec: str) -> "Voice":
        """``name=flite_voice[:cents]``, e.g. ``slt_low=slt:-400``."""
        name, sep, rest = spec.partition("=")
        voice, _, cents = rest.partition(":")
        if not sep or not name or not voice:
            raise ValueError(f"voice spec must be NAME=FLITE_VOICE[:CENTS], got {spec!r}")
        try:
            return cls(name, voice, int(cents) if cents else 0)
        except ValueError:
            raise ValueError(f"voice spec {spec!r}: CENTS must be an integer") from None


# Chosen with resemblyzer's GE2E encoder (docs/speech_data.md has the cosine table): cross-speaker
# cosines 0.44-0.71, same-speaker 0.86-0.93. Male voices shifted DOWN (kal16 -300, awb -250
# cents) were rejected: pocketsphinx WER 0.77 against 0.06-0.24 for the others.
DEFAULT_VOICES = ("slt=slt", "awb=awb", "rms=rms", "kal=kal16", "slt_low=slt:-400", "rms_high=rms:300",
                  "kal_high=kal16:300")


def _split_sentences(body: str) -> list[str]:
    """Split at . ! ? followed by space, but not after an abbreviation such as "Mrs." or "Dr."."""
    from levytts.text.normalize import ABBREVIATIONS

    pieces, out = re.split(r"(?<=[.!?])\s+", body), []
    for piece in pieces:
        previous = out[-1].split()[-1].rstrip(".").lower() if out and out[-1].split() else ""
        if out and out[-1].endswith(".") and previous in ABBREVIATIONS:
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


def load_sentences(source_dir: str = FORTUNE_DIR, files=FORTUNE_FILES, min_words: int = 4, max_words: int = 20,
                   ) -> list[str]:
    """English sentences from fortune files: attributions dropped, split at . ! ?, filtered by length
    (words), charset and CMUdict coverage; de-duplicated in first-seen order."""
    from levytts.text import Phonemizer

    phonemizer = Phonemizer(oov="error")
    root = Path(source_dir)
    present = [root / f for f in files if (root / f).is_file()]
    if not present:
        raise FileNotFoundError(f"no fortune files in {root}: apt-get install fortunes-min fortunes "
                                "(scripts/setup.sh does), or pass --text-dir")
    seen, out = set(), []
    for path in present:
        raw = path.read_text(encoding="utf-8", errors="replace")
        for cookie in raw.split("\n%\n"):
            lines = [ln for ln in cookie.splitlines() if not re.match(r"^\s*(--|\u2014)", ln)]
            body = re.sub(r"-\s+", "-", " ".join(ln.strip() for ln in lines))  # rejoin "user- friendly"
            for sentence in _split_sentences(body):
                sentence = sentence.strip().strip('"').strip()
                n_words = len(re.findall(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?", sentence))
                if not min_words <= n_words <= max_words or not _ALLOWED.fullmatch(sentence):
                    continue
                if not sentence[0].isupper() or sentence[-1] not in ".!?" or ".." in sentence or " -" in sentence:
                    continue
                key = sentence.lower()
                if key in seen:
                    continue
                try:
                    normalised, _ = phonemizer(sentence)
                except ValueError:
                    continue
                words = [w for w in normalised.split() if w[0].isalpha()]
                if _flite_lexicon(words, [phonemizer.word_to_phones(w) for w in words]) is None:
                    continue
                seen.add(key)
                out.append(sentence)
    return out


def _flite_word(word: str) -> str:
    """flite ignores lexicon addenda for words with apostrophes ("doesn't" loses our AH0) and spells
    out unpronounceable tokens: give it the word without apostrophes, with our pronunciation (a
    sentence where this collides with another word, "we'll" / "well", is skipped)."""
    return word.replace("'", "")


def _flite_lexicon(words: list[str], word_phones: list[list[str]]) -> dict[str, str] | None:
    """flite lexicon addenda {flite word: pronunciation}; None when two words collide ("we'll", "well")."""
    lexicon: dict[str, str] = {}
    for word, phones in zip(words, word_phones):
        if lexicon.setdefault(_flite_word(word), _flite_pron(phones)) != _flite_pron(phones):
            return None
    return lexicon


def _flite_text(normalised: str) -> str:
    """'hello , world .' → 'hello, world.' (flite reads punctuation attached to words)."""
    return re.sub(r" ([,.!?;:])", r"\1", " ".join(_flite_word(w) for w in normalised.split()))


def _flite_pron(phones: list[str]) -> str:
    """flite's lexicon knows stress 0/1 only (it drops a vowel marked 2): secondary stress → 1."""
    return " ".join(p.lower().replace("2", "1") for p in phones)


def synthesize(sentence: str, voice: Voice, wav_out: Path, grid_out: Path, sample_rate: int, hop_length: int,
               ) -> tuple[float | None, str | None]:
    """Synthesise one utterance, write its wav and TextGrid.

    Returns:
        (duration in seconds, None) on success; (None, reason) when skipped.
    """
    from levytts.audio.io import load_audio, save_wav
    from levytts.data.durations import textgrid_to_durations, write_textgrid
    from levytts.text import Phonemizer

    phonemizer = Phonemizer(oov="error")
    normalised, _ = phonemizer(sentence)
    words = [w for w in normalised.split() if w[0].isalpha()]
    word_phones = [phonemizer.word_to_phones(w) for w in words]
    lexicon = _flite_lexicon(words, word_phones)
    if lexicon is None:
        return None, "apostrophe-free spelling collides with another word"
    with tempfile.TemporaryDirectory(prefix="levytts_flite_") as tmp:
        tmp = Path(tmp)
        lex = tmp / "lex.txt"
        lex.write_text("".join(f"{w} : {pron}\n" for w, pron in lexicon.items()), encoding="utf-8")
        raw = tmp / "raw.wav"
        proc = subprocess.run(["flite", "-voice", voice.flite_voice, "-add_lex", str(lex),
                               "-t", _flite_text(normalised), "-psdur", "-o", str(raw)],
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0 or not raw.is_file():
            return None, f"flite failed: {proc.stderr.strip()[:200]}"
        segments = [(ph, float(end)) for ph, end in re.findall(r"(\w+):([0-9.]+)", proc.stdout)]
        if voice.pitch_cents:
            shifted = tmp / "shifted.wav"
            # -R: repeatable (sox seeds its dither randomly otherwise); float output: no dither at all.
            subprocess.run(["sox", "-R", str(raw), "-e", "floating-point", "-b", "32", str(shifted),
                            "pitch", str(voice.pitch_cents)], check=True,
                           capture_output=True, timeout=120)
            raw = shifted
        audio, _ = load_audio(raw, sr=sample_rate)
    ours = [p for ph in word_phones for p in ph]
    speech = [(i, ph) for i, (ph, _) in enumerate(segments) if ph != "pau"]
    if len(speech) != len(ours):
        return None, "flite phones differ from the lexicon"
    # Phone intervals from flite end times; cut the leading and trailing pause.
    starts = [0.0] + [end for _, end in segments[:-1]]
    first, last = speech[0][0], speech[-1][0]
    t0, t1 = starts[first], segments[last][1]
    labels = dict(zip((i for i, _ in speech), ours))
    phones = [(starts[i] - t0, segments[i][1] - t0, labels.get(i, "")) for i in range(first, last + 1)]
    audio = audio[int(round(t0 * sample_rate)):int(round(t1 * sample_rate))]
    duration = len(audio) / sample_rate
    phones[-1] = (phones[-1][0], duration, phones[-1][2])
    # Word intervals: consecutive runs of each word's phone count, skipping pauses.
    word_iv, k = [], 0
    speech_iv = [iv for iv in phones if iv[2]]
    for word, ph in zip(words, word_phones):
        word_iv.append((speech_iv[k][0], speech_iv[k + len(ph) - 1][1], word))
        k += len(ph)
    save_wav(wav_out, audio, sample_rate)
    write_textgrid(grid_out, phones, word_iv, duration=duration)
    # The same import path as MFA output: must sum to the mel length.
    try:
        textgrid_to_durations(grid_out, len(audio) // hop_length, sample_rate, hop_length)
    except ValueError:
        wav_out.unlink()
        grid_out.unlink()
        return None, "TextGrid durations do not sum to the mel length"
    return duration, None


def _job(args):
    sentence, voice, wav, grid, sr, hop = args
    return synthesize(sentence, voice, wav, grid, sr, hop)


def build_corpus(out_dir: str | Path, voices: list[Voice], minutes: dict[str, float], n_test: int = 20,
                 n_val: int = 5, seed: int = 1234, sample_rate: int = 22050, hop_length: int = 256, jobs: int = 2,
                 text_dir: str = FORTUNE_DIR, log=print) -> dict:
    """Build the corpus (see module docstring). ``minutes[name]`` is the TRAINING speech per speaker:
    about ``n_val`` more utterances are made for validation (``levytts data mix`` takes them out
    before counting training minutes), and every speaker also says the ``n_test`` held-out test
    sentences. Returns the corpus.json content."""
    from concurrent.futures import ProcessPoolExecutor

    from levytts.audio.io import atomic_write
    from levytts.data.filelists import Utterance, write_filelist, write_speakers
    from levytts.text import SymbolTable

    if shutil.which("flite") is None:
        raise FileNotFoundError("flite not found: apt-get install flite (scripts/setup.sh does)")
    if any(v.pitch_cents for v in voices) and shutil.which("sox") is None:
        raise FileNotFoundError("sox not found (needed for pitch-shifted voices): apt-get install sox")
    missing = [v.name for v in voices if v.name not in minutes]
    if missing:
        raise ValueError(f"no minutes given for speaker(s) {missing}")
    started = time.time()
    out = Path(out_dir)
    sentences = load_sentences(text_dir)
    rng = random.Random(seed)
    rng.shuffle(sentences)
    if len(sentences) <= n_test:
        raise ValueError(f"only {len(sentences)} usable sentences in {text_dir}")
    test_sentences, pool = sentences[:n_test], sentences[n_test:]
    log(f"{len(sentences)} sentences ({n_test} held out for test)")

    utterances: list[Utterance] = []
    skipped: dict[str, int] = {}
    summary: dict[str, dict] = {}
    # jobs=1 runs in this process (no worker start-up: cmudict/inflect are loaded once).
    executor = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else contextlib.nullcontext(None)
    with executor as pool_exec:
        run_map = pool_exec.map if pool_exec is not None else map
        for v_index, voice in enumerate(voices):
            order = list(range(len(pool)))
            random.Random(f"{seed}-{voice.name}").shuffle(order)
            target, seconds, cursor, n_train = 60.0 * minutes[voice.name], 0.0, 0, 0
            done: list[tuple[str, str, float]] = []
            batches = [[(s, f"{voice.name}_test{i:03d}") for i, s in enumerate(test_sentences)]]
            test_seconds = 0.0
            while batches:
                batch = batches.pop()
                jobs_args = [(s, voice, out / "wavs" / voice.name / f"{utt}.wav",
                              out / "textgrids" / voice.name / f"{utt}.TextGrid", sample_rate, hop_length)
                             for s, utt in batch]
                for (sentence, utt), (dur, why) in zip(batch, run_map(_job, jobs_args)):
                    if dur is None:
                        skipped[why] = skipped.get(why, 0) + 1
                        continue
                    done.append((sentence, utt, dur))
                    if "_test" in utt:
                        test_seconds += dur
                    else:
                        seconds += dur
                        n_train += 1
                # n_val extra utterances of average length for the validation split
                wanted = target + n_val * (seconds / n_train if n_train else 3.0)
                if seconds < wanted and cursor < len(pool):
                    # ~13 characters per second of flite speech; 10 % slack; the mix stage cuts exactly.
                    need = max(1, int((wanted - seconds) * 13 * 1.1))
                    batch, chars = [], 0
                    while cursor < len(pool) and chars < need:
                        sentence = pool[order[cursor]]
                        batch.append((sentence, f"{voice.name}_{cursor:05d}"))
                        chars += len(sentence)
                        cursor += 1
                    batches.append(batch)
            utterances.extend(Utterance(str((out / "wavs" / voice.name / f"{utt}.wav").resolve()), voice.name, s, d)
                              for s, utt, d in done)
            summary[voice.name] = {"flite_voice": voice.flite_voice, "pitch_cents": voice.pitch_cents,
                                   "train_minutes": round(seconds / 60, 3), "test_minutes": round(test_seconds / 60, 3),
                                   "utterances": len(done)}
            log(f"[{v_index + 1}/{len(voices)}] {voice.name}: {seconds / 60:.1f} min train + "
                f"{test_seconds / 60:.1f} min test ({len(done)} utterances)")
    write_filelist(out / "all.txt", utterances)
    write_speakers(out / "speakers.txt", [v.name for v in voices])
    SymbolTable.default().save(out / "symbols.json")
    with atomic_write(out / "test_sentences.txt") as tmp:
        tmp.write_text("".join(s + "\n" for s in test_sentences), encoding="utf-8")
    info = {
        "synthetic": True,
        "description": "SYNTHETIC speech from Debian flite voices (some sox pitch-shifted); text from Debian fortunes",
        "seed": seed, "sample_rate": sample_rate, "hop_length": hop_length, "n_test": n_test, "n_val": n_val,
        "speakers": summary, "skipped": skipped,
        "total_minutes": round(sum(u.duration for u in utterances) / 60, 2),
        "n_utterances": len(utterances), "build_seconds": round(time.time() - started, 1),
        "flite": subprocess.run(["flite", "--version"], capture_output=True, text=True).stdout.strip()[:80],
    }
    with atomic_write(out / "corpus.json") as tmp:
        tmp.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {len(utterances)} utterances ({info['total_minutes']} min) to {out} in {info['build_seconds']} s; "
        f"skipped {sum(skipped.values())}")
    return info
