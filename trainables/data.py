"""Data sets: find the images, decode each ONCE per study, cache the uint8 tensors on disk, split train/val.

Inputs (DESIGN.md section 5):
  - None (or the string "digits"): scikit-learn's digits, 1,797 real 8x8 images shipped inside the package;
  - an ImageFolder tree `root/<class>/*.jpg`, split stratified by `split_seed` / `val_fraction`;
  - a tree already split, `root/train/<class>` and `root/val/<class>`, used as it is;
  - a CSV with the columns `filename,label` plus an image folder (default: the CSV's folder), then split.
Every image is converted to RGB and resized to `size` x `size` (a plain resize to a square, as the original study
did). Augmentation and normalisation live in trainables/augment.py and run batched on the trial's device.

Bad input raises DataError, a one-line message naming the file or folder and what to do.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from trainables.augment import IMAGENET_MEAN, IMAGENET_STD, crop_boxes, train_views, val_views

__all__ = ["DIGITS", "DataError", "IMAGE_EXTENSIONS", "IMAGENET_MEAN", "IMAGENET_STD", "ImageData", "crop_boxes",
           "default_cache_dir", "load_data", "stratified_split", "train_views", "val_views"]

DIGITS = "digits"
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
CACHE_FORMAT = 1  # bump when decoding changes, so old caches are not reused
_EXIF_ORIENTATION = 0x0112


class DataError(ValueError):
    """A user error about the input data: one line naming the file or folder and what to do."""


@dataclass(frozen=True, eq=False, repr=False)
class ImageData:
    train_images: torch.Tensor  # uint8 (N, 3, S, S), contiguous
    train_labels: torch.Tensor  # int64 (N,)
    val_images: torch.Tensor  # uint8 (M, 3, S, S)
    val_labels: torch.Tensor  # int64 (M,)
    classes: tuple[str, ...]
    source: str  # "digits (embedded)" or the path
    fingerprint: str  # hex hash of the content, the stored size and the split

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> int:
        return self.train_images.shape[-1]

    def __repr__(self) -> str:
        return (f"ImageData(source={self.source!r}, classes={self.num_classes}, train={len(self.train_labels)}, "
                f"val={len(self.val_labels)}, size={self.image_size}, fingerprint={self.fingerprint[:12]})")


def default_cache_dir() -> Path:
    return Path(os.environ.get("ABLATION_CACHE") or Path.home() / ".cache" / "resnet-ablation")


def load_data(path: str | os.PathLike | None = None, images: str | os.PathLike | None = None, *, size: int = 32,
              split_seed: int = 42, val_fraction: float = 0.2, cache_dir: str | os.PathLike | None = None,
              threads: int | None = None) -> ImageData:
    """Load a data set as uint8 tensors of `size` x `size` RGB images (see the module docstring for the inputs).

    Decoded images are cached under `cache_dir` (default: $ABLATION_CACHE, else ~/.cache/resnet-ablation), keyed by
    the files' content and `size`; the split is recomputed on every load (it is cheap), so changing `split_seed`
    does not decode again. `threads` decoding threads (default: up to 8).
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    if path is None or (isinstance(path, str) and path == DIGITS):
        if images is not None:
            raise DataError(f"{images}: an image folder is only used with a labels CSV; pass the CSV as the data")
        return _load_digits(size, split_seed, val_fraction)

    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; pass an image folder tree or a filename,label CSV")
    if path.is_dir():
        if images is not None:
            raise DataError(f"{images}: an image folder is only used with a labels CSV, not with the folder {path}")
        items = _scan_tree(path)
    elif path.suffix.lower() == ".csv":
        image_dir = Path(images).expanduser() if images is not None else path.parent
        if not image_dir.is_dir():
            raise DataError(f"{image_dir}: image folder for {path.name} not found; pass the folder holding the images")
        items = _read_csv(path, image_dir)
    else:
        raise DataError(f"{path}: neither a folder nor a .csv file; pass an image folder tree or a filename,label CSV")

    classes = tuple(sorted({label for _, _, label, _ in items}))
    if len(classes) < 2:
        raise DataError(f"{path}: found only 1 class ({classes[0]!r}); a classifier needs at least 2, add images of "
                        "another class")
    presplit = items[0][3] is not None
    if not presplit:
        _check_splittable(items, path)  # before decoding: a user error should not wait for it
    images_u8, key = _decoded(items, size, Path(cache_dir) if cache_dir is not None else default_cache_dir(), threads)
    index = {label: i for i, label in enumerate(classes)}
    labels = torch.tensor([index[label] for _, _, label, _ in items], dtype=torch.int64)

    if presplit:
        is_val = np.array([split == "val" for *_, split in items])
        train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        fingerprint = key
    else:
        train_idx, val_idx = stratified_split(labels.numpy(), val_fraction, split_seed)
        fingerprint = _hash({"data": key, "split_seed": split_seed, "val_fraction": val_fraction})
    return _image_data(images_u8, labels, train_idx, val_idx, classes, str(path), fingerprint)


def stratified_split(labels, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train_idx, val_idx), both sorted int64 and disjoint, class by class.

    A class of n items puts round(n * val_fraction) of them, at least 1 and at most n - 1, in val, chosen by a
    numpy Generator seeded with `seed` (classes in sorted order), so every class appears in both parts.
    Raises DataError when a class has fewer than 2 items.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    val_parts = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            raise DataError(f"class {label.item()!r} has {len(members)} item; it needs at least 2 to appear in "
                            "train and val")
        n_val = min(max(int(np.floor(len(members) * val_fraction + 0.5)), 1), len(members) - 1)
        val_parts.append(rng.permutation(members)[:n_val])
    val_idx = np.sort(np.concatenate(val_parts)).astype(np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx).astype(np.int64)
    return train_idx, val_idx


# --- finding the images --------------------------------------------------------------------------------------
# An item is (key, file, label, split): key = the file's path relative to the data root (posix), the cache key's
# part; split = "train" / "val" for a tree already split, None when load_data splits.


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _class_files(class_dir: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        files.extend(Path(dirpath, name) for name in filenames if _is_image_name(name))
    if not files:
        raise DataError(f"{class_dir}: class folder holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
                        "add images or remove the folder")
    return sorted(files)


def _scan_classes(root: Path, data_root: Path, split: str | None) -> list[tuple[str, Path, str, str | None]]:
    class_dirs = _subfolders(root)
    if not class_dirs:
        raise DataError(f"{root}: no class folders found; expected {root}/<class>/<image>.jpg")
    return [(file.relative_to(data_root).as_posix(), file, class_dir.name, split)
            for class_dir in class_dirs for file in _class_files(class_dir)]


def _scan_tree(root: Path) -> list[tuple[str, Path, str, str | None]]:
    names = {p.name for p in _subfolders(root)}
    if "train" in names and "val" in names:
        train = _scan_classes(root / "train", root, "train")
        val = _scan_classes(root / "val", root, "val")
        train_classes = {label for _, _, label, _ in train}
        for _, _, label, _ in val:
            if label not in train_classes:
                raise DataError(f"{root / 'val' / label}: class {label!r} is in val but not in train; "
                                "add training images for it or remove the folder")
        return train + val
    if "train" in names or "val" in names:
        present, absent = ("train", "val") if "train" in names else ("val", "train")
        raise DataError(f"{root}: has a {present}/ folder but no {absent}/ folder; use {root}/train/<class> and "
                        f"{root}/val/<class>, or a plain {root}/<class> tree")
    return _scan_classes(root, root, None)


def _read_csv(csv_path: Path, image_dir: Path) -> list[tuple[str, Path, str, None]]:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = {name.strip().lower(): name for name in reader.fieldnames or [] if name is not None}
            if not header:
                raise DataError(f"{csv_path}: empty CSV; expected a header 'filename,label' and one row per image")
            missing = [col for col in ("filename", "label") if col not in header]
            if missing:
                raise DataError(f"{csv_path}: missing column {' and '.join(missing)}; expected a header "
                                f"'filename,label' (found: {','.join(reader.fieldnames)})")
            rows = [(reader.line_num, row[header["filename"]], row[header["label"]]) for row in reader]
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{csv_path}: not a readable UTF-8 CSV ({_one_line(err)}); expected 'filename,label' rows")
    if not rows:
        raise DataError(f"{csv_path}: empty CSV (a header and no rows); add one 'filename,label' row per image")
    items, seen = [], set()
    for line, filename, label in rows:
        filename, label = (filename or "").strip(), (label or "").strip()
        if not filename or not label:
            raise DataError(f"{csv_path}, line {line}: empty filename or label; give both on every row")
        file = image_dir / filename
        if not file.is_file():
            raise DataError(f"{file}: listed in {csv_path} (line {line}) but not found; fix the name or pass the "
                            "image folder")
        key = Path(filename).as_posix()
        if key in seen:
            raise DataError(f"{csv_path}, line {line}: {filename} is listed twice; list every image once")
        seen.add(key)
        items.append((key, file, label, None))
    return sorted(items, key=lambda item: item[0])


def _check_splittable(items, path: Path) -> None:
    counts = Counter(label for _, _, label, _ in items)
    for label, count in sorted(counts.items()):
        if count < 2:
            where = path / label if path.is_dir() else f"{path} (label {label!r})"
            raise DataError(f"{where}: class {label!r} has {count} image; it needs at least 2 to appear in both "
                            "train and val; add images or remove the class")


# --- decoding and the cache --------------------------------------------------------------------------------------


def _decode_image(file: Path, size: int) -> np.ndarray:
    """One image file -> uint8 (size, size, 3) RGB. Every decode of the package goes through here."""
    try:
        with Image.open(file) as img:
            img.draft("RGB", (size, size))  # JPEG: let libjpeg decode at 1/2, 1/4, 1/8 scale, never below size
            if img.getexif().get(_EXIF_ORIENTATION, 1) != 1:  # a camera's "rotate me" tag: show it upright
                img = ImageOps.exif_transpose(img)
            img = _to_rgb(img)
            img = img.resize((size, size), Image.Resampling.BILINEAR)  # PIL's bilinear filter is antialiased
            return np.array(img)  # a writable copy: torch.from_numpy warns on PIL's read-only buffer
    except UnidentifiedImageError:
        raise DataError(f"{file}: not an image PIL can read; fix or remove the file") from None
    except Exception as err:  # PIL raises OSError, ValueError, SyntaxError, EOFError... for broken files
        raise DataError(f"{file}: cannot decode this image ({_one_line(err)}); fix or remove the file") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB. PIL's own conversion clips 16- and 32-bit grey to 255; scale those instead."""
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        values = np.asarray(img, dtype=np.float64)
        if img.mode == "F" and values.max(initial=0) <= 1.0:
            values = values * 255.0  # float images in 0..1
        elif img.mode != "F" and (img.mode != "I" or values.max(initial=0) > 255):
            values = values / 257.0  # 16-bit range 0..65535 -> 0..255 (65535 / 257 = 255 exactly)
        img = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")
    elif img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")  # avoids PIL's warning; the colours are the same
    return img.convert("RGB")


def _decoded(items, size: int, cache_dir: Path, threads: int | None) -> tuple[torch.Tensor, str]:
    """uint8 (N, 3, size, size) in item order, from the cache or decoded (then cached), and the cache key."""
    threads = threads or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(threads) as pool:
        digests = list(pool.map(_file_digest, [file for _, file, _, _ in items]))
    key = _hash({"format": CACHE_FORMAT, "size": size,
                 "items": [[k, label, split, digest] for (k, _, label, split), digest in zip(items, digests)]})
    cache_file = cache_dir / f"images-{key}.pt"
    cached = _read_cache(cache_file, key, (len(items), 3, size, size))
    if cached is not None:
        return cached, key

    out = torch.empty((len(items), 3, size, size), dtype=torch.uint8)

    def decode_into(index: int) -> None:
        out[index] = torch.from_numpy(_decode_image(items[index][1], size)).permute(2, 0, 1)

    with ThreadPoolExecutor(threads) as pool:
        try:
            for _ in pool.map(decode_into, range(len(items))):
                pass
        except BaseException:  # the first bad file (in item order) is the error; skip the images still queued
            pool.shutdown(cancel_futures=True)
            raise
    _write_cache(cache_file, {"format": CACHE_FORMAT, "key": key, "images": out})
    return out, key


def _read_cache(cache_file: Path, key: str, shape: tuple[int, ...]) -> torch.Tensor | None:
    if not cache_file.is_file():
        return None
    try:
        payload = torch.load(cache_file, weights_only=True)
        images = payload["images"]
        if payload["key"] == key and images.dtype == torch.uint8 and tuple(images.shape) == shape:
            return images.contiguous()
    except Exception:  # a damaged cache file is a miss, never an error: decode again and overwrite it
        pass
    return None


def _write_cache(cache_file: Path, payload: dict) -> None:
    """Atomically: a temporary file in the same folder, then os.replace. A failed write only costs a re-decode."""
    tmp = None
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache_file.parent, prefix=cache_file.name, suffix=".tmp",
                                         delete=False) as f:
            tmp = f.name
            torch.save(payload, f)
        os.replace(tmp, cache_file)
    except Exception as err:  # disk full, read-only folder...: the data are fine, only the next load decodes again
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        warnings.warn(f"{cache_file.parent}: could not write the image cache ({_one_line(err)}); the next load "
                      "decodes again", stacklevel=2)


def _file_digest(file: Path) -> str:
    with open(file, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# --- the embedded default ------------------------------------------------------------------------------------


def _load_digits(size: int, split_seed: int, val_fraction: float) -> ImageData:
    """scikit-learn's digits: 8x8 grey values 0..16 -> 0..255, bilinear resize to `size`, three equal channels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    grey = torch.from_numpy(digits.images).float().mul_(255.0 / 16.0).unsqueeze(1)  # (N, 1, 8, 8), 0..255
    if size != grey.shape[-1]:
        grey = F.interpolate(grey, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    images = grey.round_().clamp_(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.from_numpy(digits.target).to(torch.int64)
    train_idx, val_idx = stratified_split(labels.numpy(), val_fraction, split_seed)
    fingerprint = _hash({"format": CACHE_FORMAT, "digits": hashlib.sha256(digits.images.tobytes()).hexdigest(),
                         "size": size, "split_seed": split_seed, "val_fraction": val_fraction})
    classes = tuple(str(name) for name in digits.target_names)
    return _image_data(images, labels, train_idx, val_idx, classes, f"{DIGITS} (embedded)", fingerprint)


def _image_data(images, labels, train_idx, val_idx, classes, source, fingerprint) -> ImageData:
    train_idx, val_idx = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    return ImageData(train_images=images.index_select(0, train_idx), train_labels=labels.index_select(0, train_idx),
                     val_images=images.index_select(0, val_idx), val_labels=labels.index_select(0, val_idx),
                     classes=classes, source=source, fingerprint=fingerprint)
