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
