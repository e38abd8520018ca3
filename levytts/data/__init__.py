"""Corpora → the common filelist ``wav_path|speaker|text``; mixing by minutes; TextGrid durations.

Public API::

    from levytts.data import (Utterance, read_filelist, write_filelist, read_speakers, write_speakers,
                              read_corpus, validate_utterances, mix_by_minutes, textgrid_to_durations)
"""
from levytts.data.durations import read_textgrid_phones, textgrid_to_durations, write_textgrid
from levytts.data.filelists import (
    Utterance,
    read_filelist,
    read_speakers,
    speaker_index,
    write_filelist,
    write_speakers,
)
from levytts.data.mix import mix_by_minutes, sentence_key
from levytts.data.readers import READERS, read_corpus, read_hifitts, read_libritts, read_ljspeech, read_plain_filelist
from levytts.data.validate import validate_utterances

__all__ = [
    "READERS", "Utterance", "mix_by_minutes", "read_corpus", "read_filelist", "read_hifitts", "read_libritts",
    "read_ljspeech", "read_plain_filelist", "read_speakers", "read_textgrid_phones", "sentence_key",
    "speaker_index", "textgrid_to_durations", "validate_utterances", "write_filelist", "write_speakers",
    "write_textgrid",
]
