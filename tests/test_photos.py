"""The shipped portraits through the physical attack model (chapters 03, 04, 11)."""

from __future__ import annotations

import numpy as np
import pytest

from mpfas_lib.data.photos import (
    KINDS,
    PORTRAIT_NAMES,
    PORTRAITS,
    _capture_all,
    photo_batch,
    photographs,
    portrait,
)


def test_photographs_are_256_px_captures_of_every_kind() -> None:
    photos = photographs(256)
    assert set(photos) == set(PORTRAIT_NAMES) == {"astronaut", "grace_hopper", "camera"}
    for caps in photos.values():
        assert tuple(caps) == KINDS
        for img in caps.values():
            assert img.shape == (256, 256, 3) and img.dtype == np.uint8
            assert 40 < img.mean() < 220  # exposed, not blank


def test_attacks_change_the_picture_and_are_deterministic() -> None:
    photo = portrait("astronaut", 128)
    a, b = _capture_all(photo, 64, seed=3), _capture_all(photo, 64, seed=3)
    for kind in KINDS:
        np.testing.assert_array_equal(a[kind], b[kind])
    genuine = a["genuine"].astype(float)
    for attack in ("print", "replay"):
        assert np.abs(a[attack].astype(float) - genuine).mean() > 5


def test_photo_batch_and_provenance() -> None:
    images, labels = photo_batch(64)
    assert images.shape == (9, 3, 64, 64) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels[:3] == ["astronaut genuine", "astronaut print", "astronaut replay"]
    for p in PORTRAITS.values():
        assert p.source and ("public domain" in p.licence or "CC0" in p.licence)


def test_bad_portrait_or_size_says_so() -> None:
    with pytest.raises(ValueError, match="unknown portrait 'lena'"):
        portrait("lena")
    with pytest.raises(ValueError, match="multiple of 8"):
        photographs(100)
