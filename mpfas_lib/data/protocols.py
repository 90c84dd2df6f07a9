"""Leave-one-domain-out protocols of the paper (Sec. IV-A; Tables I-IV).

MICO: three of MSU-MFSD (M), Replay-Attack (I), CASIA (C), OULU (O) train, the fourth tests.
MICY: the same with ROSE-YOUTU (Y) instead of OULU. TWO: only M and I train (Table IV).
``build_protocol`` gives the same object for the synthetic benchmark and for prepared real data.
Its ``scope`` says which videos take part: ``"splits"`` (ours, the default) trains on the
sources' train splits, holds out their validation splits (for an honest threshold) and tests on
the target's test split; ``"all"`` (the authors' data lists) trains on every video of each
source and tests on every video of the target, leaving no source validation set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mpfas_lib.data.datasets import MANIFEST, FrameDataset, PreparedDataset
from mpfas_lib.data.synthetic import check_shift, from_profile
from mpfas_lib.paths import data_dir
from mpfas_lib.profile import Profile, get_profile

SCOPES = ("splits", "all")

# name -> (source domains, target domain)
PROTOCOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "MICO:OCI-M": (("O", "C", "I"), "M"),
    "MICO:OMI-C": (("O", "M", "I"), "C"),
    "MICO:OCM-I": (("O", "C", "M"), "I"),
    "MICO:ICM-O": (("I", "C", "M"), "O"),
    "MICY:MCY-I": (("M", "C", "Y"), "I"),
    "MICY:ICY-M": (("I", "C", "Y"), "M"),
    "MICY:IMY-C": (("I", "M", "Y"), "C"),
    "MICY:ICM-Y": (("I", "C", "M"), "Y"),
    "TWO:MI-C": (("M", "I"), "C"),
    "TWO:MI-O": (("M", "I"), "O"),
}


@dataclass
class Protocol:
    """Source train sets, source validation sets and the target test set of one protocol."""

    name: str
    sources: dict[str, FrameDataset]
    source_val: dict[str, FrameDataset]
    target: FrameDataset
    target_domain: str

    @property
    def source_domains(self) -> list[str]:
        """Names of the source domains."""
        return list(self.sources)


def protocol_domains(name: str) -> tuple[tuple[str, ...], str]:
    """(source domains, target domain) of a protocol name (clear error when unknown)."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}: choose one of {list(PROTOCOLS)}")
    return PROTOCOLS[name]


def check_real_root(root: Path, domains: tuple[str, ...]) -> None:
    """Fail early, saying what is missing where, when prepared real data is incomplete."""
    if not root.is_dir():
        raise FileNotFoundError(f"real dataset root {root} does not exist")
    missing = [d for d in domains if not (root / d / MANIFEST).is_file()]
    if missing:
        expected = ", ".join(f"{root / d / MANIFEST}" for d in missing)
        raise FileNotFoundError(
            f"prepared data missing for domain(s) {missing}: expected {expected} "
            f"(run `python -m mpfas_lib index` then `python -m mpfas_lib prepare` for each "
            f"dataset into {root}/<M|I|C|O|Y>)"
        )


def build_protocol(
    name: str, source: str = "synthetic", profile: Profile | None = None,
    root: str | Path | None = None, seed: int = 0, scope: str = "splits",
    shift: float | None = None,
) -> Protocol:
    """Build a protocol on the synthetic benchmark or on prepared real data under ``root``
    (chapter 02).

    ``shift`` is the synthetic benchmark's domain-shift dial (None: ``DEFAULT_SHIFT``; real data
    has none).
    """
    sources_d, target_d = protocol_domains(name)
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {list(SCOPES)}, got {scope!r}")
    if shift is not None:
        check_shift(shift)
    profile = profile if profile is not None else get_profile()
    size = profile.image_size
    every = scope == "all"
    train, test = ("all", "all") if every else ("train", "test")
    if source == "synthetic":
        bench = from_profile(profile, seed=seed, root=root, shift=shift)
        parts = [(d, train) for d in sources_d] + [(target_d, test)]
        parts += [] if every else [(d, "val") for d in sources_d]
        sets = bench.datasets(parts)
        tr = {d: sets[d, train] for d in sources_d}
        va = {} if every else {d: sets[d, "val"] for d in sources_d}
        te = sets[target_d, test]
    elif source == "real":
        base = Path(root) if root is not None else data_dir()
        if base is None:
            raise ValueError("real data needs root=... or $MPFAS_DATA pointing at prepared data")
        check_real_root(base, (*sources_d, target_d))
        tr = {d: PreparedDataset(base, d, train, size) for d in sources_d}
        va = {}
        for d in () if every else sources_d:
            try:
                va[d] = PreparedDataset(base, d, "val", size)
            except ValueError:  # no val split in the manifest: validate on the test split
                va[d] = PreparedDataset(base, d, "test", size)
        te = PreparedDataset(base, target_d, test, size)
    else:
        raise ValueError(f"source must be 'synthetic' or 'real', got {source!r}")
    return Protocol(name, tr, va, te, target_d)
