"""Label a dataset's videos from their relative paths alone and write an index CSV.

Columns: path, label (public-list convention: 0 real, 1 print, 2 replay; paper masks count as
1 and keep their finer type in ``attack``), attack, subject, split, conditions (``key=value``
pairs separated by ``;``). Works on an original tree (video files) and on a prepared tree (one
folder of frames per video, named like the video without its extension). A path it cannot
classify is an error that names it: nothing is guessed.

Naming schemes followed (from each dataset's documentation / release notes):

- OULU-NPU (Boulkenafet et al., FG 2017): ``{Train,Dev,Test}_files/P_S_U_F.avi`` = Phone
  (1-6), Session (1-3), User, File: 1 real, 2-3 print (printer 1, 2), 4-5 replay (display 1, 2).
- CASIA-FASD (Zhang et al., ICB 2012): ``{train,test}_release/<subject>/<v>.avi``; 1, 2, HR_1
  real; 3, 4, HR_2 warped photo; 5, 6, HR_3 cut photo; 7, 8, HR_4 video replay; odd numbers low
  quality, even numbers normal quality, HR_* high quality.
- Idiap Replay-Attack (Chingovska et al., BIOSIG 2012): ``{train,devel,test}/real/client001_
  session01_webcam_authenticate_adverse_1.mov`` and ``.../attack/{hand,fixed}/attack_{print,
  mobile,highdef}_client020_session01_{...}_{photo,video}_{adverse,controlled}.mov``; mobile
  and highdef are replays; ``enroll`` videos are real (split "enroll").
- MSU-MFSD (Wen et al., TIFS 2015): ``scene01/real/real_client001_{android,laptop}_SD_
  scene01.mp4`` and ``scene01/attack/attack_client001_<camera>_SD_{printed_photo,ipad_video,
  iphone_video}_scene01.mp4``; subjects split by the release's ``train_sub_list.txt`` and
  ``test_sub_list.txt`` (read from the tree when present, else the 15/20 lists below).
- ROSE-YOUTU (Li et al., TIFS 2018): ``<split>/<subject>/<code>_....mp4``, the subject folder
  possibly decorated (``test/_13/``: its digits are the subject); first field: G
  genuine, Ps still printed paper, Pq quivering printed paper, Vl video of a Lenovo display,
  Vm video of a Mac display, Mc paper mask with eyes and mouth cut out, Mf full paper mask,
  Mu paper mask cut in the middle (upper part); third field: phone (e.g. HS, HW, IP, 5s,
  ZTE). The remaining fields are kept verbatim as conditions.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mpfas_lib.errors import UserError, os_error_line, report_error
from mpfas_lib.files import atomic_write_text, writable_file

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".wmv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")  # frames, in a raw tree and a prepared one
LABEL_NAMES = {0: "real", 1: "print", 2: "replay"}

# MSU-MFSD subject lists as shipped with the release (train_sub_list.txt / test_sub_list.txt).
MSU_TRAIN_SUBJECTS = (2, 3, 5, 6, 7, 8, 9, 11, 12, 21, 22, 34, 53, 54, 55)
MSU_TEST_SUBJECTS = (1, 13, 14, 23, 24, 26, 28, 29, 30, 32, 33, 35, 36, 37, 39, 42, 48, 49, 50,
                     51)

DATASETS = {"oulu": "O", "casia": "C", "replay": "I", "msu": "M", "rose": "Y"}
ALIASES = {
    "o": "oulu", "oulu-npu": "oulu", "oulu_npu": "oulu",
    "c": "casia", "casia-fasd": "casia", "casia_fasd": "casia", "casia-mfsd": "casia",
    "i": "replay", "replay-attack": "replay", "replay_attack": "replay", "idiap": "replay",
    "m": "msu", "msu-mfsd": "msu", "msu_mfsd": "msu",
    "y": "rose", "rose-youtu": "rose", "rose_youtu": "rose", "roseyoutu": "rose",
}


class NamingError(ValueError):
    """A path that does not follow the dataset's naming scheme (chapter 02)."""


@dataclass
class VideoEntry:
    """One video's labels, derived from its relative path."""

    path: str
    label: int  # 0 real, 1 print (incl. paper masks), 2 replay
    attack: str
    subject: str
    split: str
    conditions: dict[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, str]:
        """The CSV row of this entry."""
        cond = ";".join(f"{k}={v}" for k, v in self.conditions.items())
        return {"path": self.path, "label": str(self.label), "attack": self.attack,
                "subject": self.subject, "split": self.split, "conditions": cond}


def dataset_key(name: str) -> str:
    """Canonical dataset key (oulu, casia, replay, msu, rose) from a name, alias or letter."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {sorted(DATASETS)} "
                         f"(or M, I, C, O, Y)")
    return key


def _fail(path: str, why: str) -> NamingError:
    return NamingError(f"cannot classify {path!r}: {why}")


def _parts(path: str) -> tuple[list[str], str]:
    """Lower-level folders and the file stem (extension dropped) of a relative path."""
    p = PurePosixPath(path.replace("\\", "/"))
    stem = p.name
    if p.suffix.lower() in VIDEO_SUFFIXES:
        stem = p.stem
    return list(p.parts[:-1]), stem


def parse_oulu(path: str) -> VideoEntry:
    """OULU-NPU: ``Train_files/1_1_01_1.avi`` (Phone_Session_User_File)."""
    folders, stem = _parts(path)
    splits = {"train_files": "train", "dev_files": "val", "test_files": "test"}
    split = next((splits[f.lower()] for f in folders if f.lower() in splits), None)
    m = re.fullmatch(r"([1-6])_([1-3])_(\d+)_([1-5])", stem)
    if split is None or m is None:
        raise _fail(path, "expected {Train,Dev,Test}_files/<phone>_<session>_<user>_<file>")
    phone, session, user, file = m.groups()
    f = int(file)
    label, attack, cond = 0, "live", {}
    if f in (2, 3):
        label, attack, cond = 1, "print", {"printer": str(f - 1)}
    elif f in (4, 5):
        label, attack, cond = 2, "replay", {"display": str(f - 3)}
    return VideoEntry(path, label, attack, user, split,
                      {"phone": phone, "session": session, **cond})


_CASIA = {"1": (0, "live", "low"), "2": (0, "live", "normal"), "HR_1": (0, "live", "high"),
          "3": (1, "print-warped", "low"), "4": (1, "print-warped", "normal"),
          "HR_2": (1, "print-warped", "high"), "5": (1, "print-cut", "low"),
          "6": (1, "print-cut", "normal"), "HR_3": (1, "print-cut", "high"),
          "7": (2, "replay", "low"), "8": (2, "replay", "normal"), "HR_4": (2, "replay", "high")}


def parse_casia(path: str) -> VideoEntry:
    """CASIA-FASD: ``train_release/3/HR_2.avi`` (subject folder, video code)."""
    folders, stem = _parts(path)
    splits = {"train_release": "train", "test_release": "test"}
    idx = next((i for i, f in enumerate(folders) if f.lower() in splits), None)
    if idx is None or idx + 1 >= len(folders) or not folders[idx + 1].isdigit():
        raise _fail(path, "expected {train,test}_release/<subject>/<video>")
    code = stem.upper() if stem.upper().startswith("HR_") else stem
    if code not in _CASIA:
        raise _fail(path, f"unknown CASIA video code {stem!r} (1-8, HR_1..HR_4)")
    label, attack, quality = _CASIA[code]
    return VideoEntry(path, label, attack, folders[idx + 1], splits[folders[idx].lower()],
                      {"quality": quality})


def parse_replay(path: str) -> VideoEntry:
    """Replay-Attack: ``test/attack/hand/attack_highdef_client020_..._adverse.mov`` etc."""
    folders, stem = _parts(path)
    low = [f.lower() for f in folders]
    splits = {"train": "train", "devel": "val", "test": "test"}
    split = next((splits[f] for f in low if f in splits), None)
    if split is None:
        raise _fail(path, "expected a train/, devel/ or test/ folder")
    light = re.search(r"_(adverse|controlled)(?:_|$)", stem)
    client = re.search(r"client(\d+)", stem)
    session = re.search(r"session(\d+)", stem)
    if client is None or light is None:
        raise _fail(path, "expected client<NNN> and adverse/controlled in the name")
    cond = {"light": light.group(1), "session": session.group(1) if session else ""}
    if "attack" in low or stem.startswith("attack_"):
        m = re.match(r"attack_(print|mobile|highdef)_client\d+_session\d+_\w*?(photo|video)_", stem)
        support = next((f for f in low if f in ("hand", "fixed")), None)
        if m is None or support is None:
            raise _fail(path, "expected attack/{hand,fixed}/attack_{print,mobile,highdef}_..."
                              "_{photo,video}_{adverse,controlled}")
        device, medium = m.groups()
        label, attack = (1, "print") if device == "print" else (2, "replay")
        cond.update(device=device, medium=medium, support=support)
        return VideoEntry(path, label, attack, client.group(1), split, cond)
    if "real" in low or "enroll" in low:
        if not re.match(r"client\d+_session\d+_webcam_(authenticate|enroll)_", stem):
            raise _fail(path, "expected client<NNN>_session<NN>_webcam_{authenticate,enroll}_...")
        if "enroll" in low or "_enroll_" in stem:
            split = "enroll"
        return VideoEntry(path, 0, "live", client.group(1), split, cond)
    raise _fail(path, "expected a real/, enroll/ or attack/ folder")


def read_msu_lists(root: Path | None) -> tuple[set[int], set[int]]:
    """MSU train/test subject ids: the release's list files in ``root`` when present."""
    lists = []
    for name, default in (("train_sub_list.txt", MSU_TRAIN_SUBJECTS),
                          ("test_sub_list.txt", MSU_TEST_SUBJECTS)):
        f = next(iter(root.rglob(name)), None) if root is not None and root.is_dir() else None
        if f is not None:
            lists.append({int(x) for x in f.read_text().split() if x.strip().isdigit()})
        else:
            lists.append(set(default))
    return lists[0], lists[1]


def parse_msu(path: str, train: set[int] | None = None, test: set[int] | None = None
              ) -> VideoEntry:
    """MSU-MFSD: ``scene01/attack/attack_client001_android_SD_printed_photo_scene01.mp4``."""
    train = set(MSU_TRAIN_SUBJECTS) if train is None else train
    test = set(MSU_TEST_SUBJECTS) if test is None else test
    _, stem = _parts(path)
    m = re.fullmatch(r"(real|attack)_client(\d+)_(android|laptop)_SD_(?:(printed_photo|"
                     r"ipad_video|iphone_video)_)?scene(\d+)", stem)
    if m is None:
        raise _fail(path, "expected {real,attack}_client<NNN>_{android,laptop}_SD_"
                          "[{printed_photo,ipad_video,iphone_video}_]scene<NN>")
    kind, client, camera, medium, _scene = m.groups()
    if (kind == "real") != (medium is None):
        raise _fail(path, "real videos have no attack medium and attacks need one")
    subject = int(client)
    split = "train" if subject in train else "test" if subject in test else None
    if split is None:
        raise _fail(path, f"subject {subject} is in neither MSU subject list")
    if kind == "real":
        return VideoEntry(path, 0, "live", client, split, {"camera": camera})
    label, attack = (1, "print") if medium == "printed_photo" else (2, "replay")
    return VideoEntry(path, label, attack, client, split,
                      {"camera": camera, "medium": medium or ""})


_ROSE = {"G": (0, "live", ""), "Ps": (1, "print", "still"), "Pq": (1, "print", "quivering"),
         "Vl": (2, "replay", "lenovo"), "Vm": (2, "replay", "mac"),
         "Mc": (1, "mask-cut", "eyes-mouth-cut"), "Mf": (1, "mask", "full"),
         "Mu": (1, "mask-upper", "upper-part")}


def parse_rose(path: str) -> VideoEntry:
    """ROSE-YOUTU: ``train/9/Vm_NT_ZTE_wg_E_15_153.mp4`` or ``test/_13/G_NT_5s_g_E_4_1.mp4``."""
    folders, stem = _parts(path)
    low = [f.lower() for f in folders]
    split = next((s for s in ("train", "test") if s in low), None)
    fields = stem.split("_")
    if split is None or len(fields) < 3:
        raise _fail(path, "expected {train,test}/<subject>/<code>_<...>_<phone>_....mp4")
    if fields[0] not in _ROSE:
        raise _fail(path, f"unknown ROSE-YOUTU attack code {fields[0]!r} "
                          f"(one of {sorted(_ROSE)})")
    label, attack, detail = _ROSE[fields[0]]
    i = low.index(split)
    # real trees decorate the subject folder (e.g. test/_13/): its digits are the subject
    digits = re.search(r"\d+", folders[i + 1]) if i + 1 < len(folders) else None
    if digits is None:
        raise _fail(path, "expected a subject folder with digits after train/ or test/")
    subject = digits.group()
    cond = {"code": fields[0], "phone": fields[2], "fields": "_".join(fields[1:])}
    if detail:
        cond["instrument"] = detail
    return VideoEntry(path, label, attack, subject, split, cond)


def parse(dataset: str, path: str, msu_lists: tuple[set[int], set[int]] | None = None
          ) -> VideoEntry:
    """Labels of one video of a dataset from its relative path (error naming it if unknown)
    (chapter 02)."""
    key = dataset_key(dataset)
    if key == "msu":
        return parse_msu(path, *(msu_lists or (None, None)))
    return {"oulu": parse_oulu, "casia": parse_casia, "replay": parse_replay,
            "rose": parse_rose}[key](path)


def find_videos(root: Path) -> list[str]:
    """Relative paths of the videos under ``root``: video files, or prepared frame folders."""
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {root} does not exist")
    found = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            found.append(p.relative_to(root).as_posix())
        elif p.is_dir() and any(c.suffix.lower() in IMAGE_SUFFIXES for c in p.iterdir()
                                if c.is_file()):
            found.append(p.relative_to(root).as_posix())
    return found


def index_tree(dataset: str, root: str | Path) -> list[VideoEntry]:
    """Index every video under ``root`` (errors list every unclassifiable path)."""
    root = Path(root)
    key = dataset_key(dataset)
    msu = read_msu_lists(root) if key == "msu" else None
    entries, errors = [], []
    for rel in find_videos(root):
        try:
            entries.append(parse(key, rel, msu))
        except NamingError as err:
            errors.append(str(err))
    if errors:
        raise NamingError(f"{len(errors)} path(s) under {root} do not follow the {key} naming "
                          "scheme:\n  " + "\n  ".join(errors[:20]))
    if not entries:
        raise FileNotFoundError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) or frame folders "
                                f"found under {root}")
    return entries


def write_index(entries: list[VideoEntry], out: str | Path) -> Path:
    """Write index entries as CSV (atomically: a failed write keeps the previous file)."""
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=["path", "label", "attack", "subject", "split",
                                         "conditions"])
    w.writeheader()
    w.writerows(e.row() for e in entries)
    return atomic_write_text(text.getvalue(), out)


def read_index(path: str | Path) -> list[VideoEntry]:
    """Read an index CSV back."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"index file not found: {path}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        cond = dict(kv.split("=", 1) for kv in r.get("conditions", "").split(";") if "=" in kv)
        out.append(VideoEntry(r["path"], int(r["label"]), r["attack"], r["subject"], r["split"],
                              cond))
    return out


def outside_root(out: str | Path, root: str | Path, out_option: str, root_option: str) -> None:
    """Refuse an output inside the dataset's tree: it would replace a video there, or be taken
    for one by the next run (a UserError naming both options)."""
    inside, tree = Path(out).resolve(), Path(root).resolve()
    if inside == tree or tree in inside.parents:
        raise UserError(f"{out_option} {out} is inside {root_option} {root} (the dataset's own "
                        f"tree, which is only read): choose a path outside it, e.g. in "
                        f"{tree.parent}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options of ``python -m mpfas_lib index``."""
    parser.add_argument("--dataset", required=True,
                        help="oulu | casia | replay | msu | rose (or O, C, I, M, Y)")
    parser.add_argument("--root", required=True, help="the dataset's (original or prepared) root")
    parser.add_argument("--out", required=True, help="index CSV to write")


def main(args: argparse.Namespace) -> int:
    """Index a dataset tree and write the CSV; print a per-split, per-label summary."""
    try:
        dataset_key(args.dataset)
        outside_root(args.out, args.root, "--out", "--root")  # before writable_file makes folders
        writable_file(args.out, "--out")
        entries = index_tree(args.dataset, args.root)
    except (NamingError, FileNotFoundError, ValueError, UserError) as err:
        report_error(err)
        return 2
    try:
        write_index(entries, args.out)
    except OSError as err:
        report_error(err, os_error_line(err))
        return 1
    counts: dict[tuple[str, str], int] = {}
    for e in entries:
        k = (e.split, LABEL_NAMES[e.label])
        counts[k] = counts.get(k, 0) + 1
    print(f"{len(entries)} videos -> {args.out}")
    for (split, label), n in sorted(counts.items()):
        print(f"  {split:6s} {label:7s} {n}")
    return 0
