"""Device selection used by every notebook: CUDA, then Apple MPS, then CPU."""
import os

import torch

from helpers.checks import check_choice


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device.

    Order: CUDA, then Apple MPS, then CPU. ``prefer`` (or the environment
    variable ``DLFA_DEVICE``) forces one of ``"cuda"``, ``"mps"``, ``"cpu"``;
    asking for an unavailable device raises ``ValueError``.
    """
    choice = prefer or os.environ.get("DLFA_DEVICE")
    if choice is not None:
        check_choice("device", choice, ("cuda", "mps", "cpu"))
        if choice == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but torch.cuda.is_available() is False")
        if choice == "mps" and not _mps_available():
            raise ValueError("device 'mps' was asked for but torch.backends.mps.is_available() is False")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())
