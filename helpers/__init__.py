"""Reference implementations for the Persian deep-learning course.

Every notebook imports from here instead of redefining code. Each module holds
one concept; each public function is tested against its PyTorch equivalent in
``tests/``.
"""
from helpers.device import get_device
from helpers.seeding import set_seed, use_book_numerics

__all__ = ["get_device", "set_seed", "use_book_numerics"]
