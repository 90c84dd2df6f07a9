"""The paper's Tables I-IV as data (HTER % / AUC %), the only hand-typed numbers in the project.

Source: R. Cai, Z. Li, R. Wan, H. Li, Y. Hu, A. C. Kot, "Learning Meta Pattern for Face
Anti-Spoofing", IEEE Transactions on Information Forensics and Security, vol. 17, 2022
(Tables I-IV). All rows are on the *real* datasets (M, I, C, O, Y). The paper does not say at
which threshold its HTER is computed; the authors' code reports, on the target, the minimum
HTER over all thresholds and the HTER at 0.5 (with AUC and EER), and keeps the checkpoint with
the lowest frame-level minimum HTER on the target. Rows of other methods come from their own
papers, with their own thresholds. Table III's domain-adaptation rows report HTER only (AUC is
None). The paper's "NAS-Baesline" typo is written "NAS-Baseline" here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CITATION",
    "PaperTable",
    "SETTING_TO_PROTOCOL",
    "TABLES",
    "paper_rows",
    "paper_table",
]

CITATION = (
    "R. Cai, Z. Li, R. Wan, H. Li, Y. Hu and A. C. Kot, \"Learning Meta Pattern for Face "
    "Anti-Spoofing\", IEEE Trans. Information Forensics and Security, vol. 17, 2022."
)

#: Column label of the paper's tables -> protocol name of mpfas_lib.data.protocols.
SETTING_TO_PROTOCOL: dict[str, str] = {
    "OCI-M": "MICO:OCI-M",
    "OMI-C": "MICO:OMI-C",
    "OCM-I": "MICO:OCM-I",
    "ICM-O": "MICO:ICM-O",
    "MCY-I": "MICY:MCY-I",
    "ICY-M": "MICY:ICY-M",
    "IMY-C": "MICY:IMY-C",
    "ICM-Y": "MICY:ICM-Y",
    "MI-C": "TWO:MI-C",
    "MI-O": "TWO:MI-O",
}

Cell = tuple[float, float | None]  # (HTER %, AUC % or None)


@dataclass(frozen=True)
class PaperTable:
    """One results table of the paper: settings (columns) and method rows of (HTER, AUC)."""

    name: str
    caption: str
    settings: tuple[str, ...]
    headers: tuple[str, ...]  # the paper's own column headers, e.g. "C&I&O to M"
    rows: dict[str, tuple[Cell, ...]]

    @property
    def protocols(self) -> tuple[str, ...]:
        """Protocol names (as in mpfas_lib.data.protocols) of the columns."""
        return tuple(SETTING_TO_PROTOCOL[s] for s in self.settings)


_MICO = ("OCI-M", "OMI-C", "OCM-I", "ICM-O")
_MICO_HEADERS = ("C&I&O to M", "O&M&I to C", "O&C&M to I", "I&C&M to O")
_HFN_MP_MICO: tuple[Cell, ...] = ((5.24, 97.28), (9.11, 96.09), (15.35, 90.67), (12.40, 94.26))

TABLES: dict[str, PaperTable] = {
    "I": PaperTable(
        name="I",
        caption="HFN with the Meta Pattern vs. handcrafted maps on MICO",
        settings=_MICO,
        headers=_MICO_HEADERS,
        rows={
            "HFN+ColorLBP": ((8.31, 96.77), (18.44, 88.72), (20.55, 77.58), (15.92, 90.98)),
            "HFN+Albedo": ((8.70, 96.46), (20.89, 87.69), (21.55, 76.44), (16.78, 88.58)),
            "HFN+Depth": ((7.36, 96.90), (18.67, 89.60), (18.50, 80.40), (15.95, 89.99)),
            "HFN+Reflectance": ((5.65, 97.62), (18.22, 88.57), (20.90, 77.23), (17.16, 88.98)),
            "HFN+MP": _HFN_MP_MICO,
        },
    ),
    "II": PaperTable(
        name="II",
        caption="Comparison with the state of the art on MICO (domain generalisation)",
        settings=_MICO,
        headers=_MICO_HEADERS,
        rows={
            "MMD-AAE": ((27.08, 83.19), (44.59, 58.29), (31.58, 75.18), (40.98, 63.08)),
            "MADDG": ((17.69, 88.06), (24.5, 84.51), (22.19, 84.99), (27.98, 80.02)),
            "RFMetaFAS": ((13.89, 93.98), (20.27, 88.16), (17.30, 90.48), (16.45, 91.16)),
            "NAS-Baseline w/ D-Meta": (
                (11.62, 95.85), (16.96, 89.73), (16.82, 91.68), (18.64, 88.45)
            ),
            "NAS w/ D-Meta": ((16.85, 90.42), (15.21, 92.64), (11.63, 96.98), (13.16, 94.18)),
            "NAS-FAS": ((19.53, 88.63), (16.54, 90.18), (14.51, 93.84), (13.80, 93.43)),
            "SSDG-M": ((16.67, 90.47), (23.11, 85.45), (18.21, 94.61), (25.17, 81.83)),
            "SSDG-R": ((7.38, 97.17), (10.44, 95.94), (11.71, 96.59), (15.61, 91.54)),
            "FAS-DR-BC(MT)": ((11.67, 93.09), (18.44, 89.67), (11.93, 94.95), (16.23, 91.18)),
            "HFN+MP": _HFN_MP_MICO,
        },
    ),
    "III": PaperTable(
        name="III",
        caption="MICY cross-domain benchmark (DA rows use target data and report HTER only)",
        settings=("MCY-I", "ICY-M", "IMY-C", "ICM-Y"),
        headers=("M&C&Y to I", "I&C&Y to M", "I&M&Y to C", "I&C&M to Y"),
        rows={
            "ADDA": ((35.40, None), (34.20, None), (33.40, None), (36.30, None)),
            "DRCN": ((37.20, None), (33.90, None), (31.40, None), (35.70, None)),
            "DupGAN": ((38.10, None), (33.70, None), (26.90, None), (33.40, None)),
            "ADA": ((6.3, None), (12.7, None), (37.8, None), (31.0, None)),
            "DR-UDA": ((3.4, None), (10.2, None), (20.4, None), (29.7, None)),
            "HFN+MP": ((10.42, 95.58), (7.31, 96.79), (9.44, 96.05), (17.24, 89.76)),
        },
    ),
    "IV": PaperTable(
        name="IV",
        caption="Two source domains only (MICO variant)",
        settings=("MI-C", "MI-O"),
        headers=("M&I to C", "M&I to O"),
        rows={
            "MS-LBP": ((51.16, 52.09), (43.63, 58.07)),
            "IDA": ((45.16, 58.80), (54.52, 42.17)),
            "ColorTexture": ((55.17, 46.89), (53.31, 45.16)),
            "LBP-TOP": ((45.27, 54.88), (47.26, 50.21)),
            "MADDG": ((41.02, 64.33), (39.35, 65.10)),
            "SSDG-M": ((31.89, 71.29), (36.01, 66.88)),
            "HFN+MP": ((30.89, 72.48), (20.94, 86.71)),
        },
    ),
}


def paper_table(table: str) -> PaperTable:
    """The paper's table "I", "II", "III" or "IV"."""
    key = str(table).upper().removeprefix("TABLE").strip()
    if key not in TABLES:
        raise ValueError(f"unknown table {table!r}; choose one of {sorted(TABLES)}")
    return TABLES[key]


def paper_rows(table: str) -> list[dict[str, object]]:
    """The table in long format: one dict per (method, setting) with hter, auc, protocol."""
    t = paper_table(table)
    return [
        {
            "table": t.name,
            "method": method,
            "setting": setting,
            "protocol": SETTING_TO_PROTOCOL[setting],
            "hter": cell[0],
            "auc": cell[1],
        }
        for method, cells in t.rows.items()
        for setting, cell in zip(t.settings, cells, strict=True)
    ]
