"""Shared test set-up."""
import pytest


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The tests run small models on short inputs. On the 2-core CI machine, torch's intra-op threads cost
    more in hand-offs than they save (measured 2-3x slower under load), so the whole suite runs
    torch single-threaded; the previous setting is restored at the end."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def stand_in_mfa(tmp_path):
    """A stand-in for `mfa align CORPUS DICT MODEL OUT` (MFA needs conda Kaldi, not installable here): it writes
    one copy of a two-phone TextGrid per .lab, in MFA's output layout. Returns the folder to put first on PATH."""
    import stat

    from levytts.data import write_textgrid

    template = write_textgrid(tmp_path / "template.TextGrid", [(0.0, 0.5, "HH"), (0.5, 1.0, "OW1")], duration=1.0)
    fake = tmp_path / "bin" / "mfa"
    fake.parent.mkdir()
    fake.write_text(f"""#!/usr/bin/env bash
corpus=${{@: -4:1}}; out=${{@: -1}}
for lab in "$corpus"/*/*.lab; do spk=$(basename "$(dirname "$lab")"); mkdir -p "$out/$spk"
  cp {template} "$out/$spk/$(basename "$lab" .lab).TextGrid"; done
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake.parent
