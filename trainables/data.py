"""Data sets: find the images, decode each ONCE per study, cache the uint8 tensors on disk, split train/val.

Inputs:
  - None (or the string "digits"): scikit-learn's digits, 1,797 real 8x8 images shipped inside the package;
  - an ImageFolder tree `root/<class>/*.jpg`, split stratified by `split_seed` / `val_fraction`;
  - a tree already split, `root/train/<class>` and `root/val/<class>`, used as it is;
  - a CSV with the columns `filename,label` plus an image folder (default: the CSV's folder), then split.
Which files count as images, and how symlinks are followed: trainables/image_files.py.
Every image is converted to RGB and resized to `size` x `size` (a plain resize to a square, as the original study
did). Augmentation and normalisation live in trainables/augment.py and run batched on the trial's device.

Exact duplicates (files with the same bytes; every file is hashed anyway, for the cache key): one copy per content
is kept, the first in key order, so no image sits in both train and val. In a tree already split that is the copy
in train/: a val image with a copy in train is removed from val. What was dropped is in `ImageData.duplicates` and
a one-line `ImageData.notes` entry. The same bytes under two DIFFERENT labels is a labelling error that no rule can
settle (keeping one guesses the label, dropping both hides the mistake): a DataError naming both files.
Perceptual duplicates (the same picture stored as different bytes: a PNG saved again, a JPEG re-encoded; the test
is in trainables/perceptual.py) follow the same rule once decoded: the later copy is dropped (a val copy of a train
image leaves val), with a note, and two copies under different labels are a DataError.

Memory: the decoded tensor takes N x 3 x size x size bytes, and the train/val parts are copies of it, so a load
needs about twice that. Before anything is hashed or decoded, a load whose tensor would exceed MEMORY_FRACTION of
the memory available (MemAvailable, i.e. free memory plus reclaimable page cache, capped by a cgroup v2 limit) is
refused; N counts the files found, before exact duplicates are dropped. `size` is at most MAX_IMAGE_SIZE.

The cache: one file per content, size, Pillow version and CACHE_FORMAT, written to a temporary file that is fsynced
before it is renamed into place. Temporaries older than STALE_TEMP_SECONDS (a killed writer's) are removed when the
cache folder is used; age rather than the writer's pid, since a cache folder may be shared by several machines.

Bad input raises DataError, a one-line message naming the file or folder and what to do.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import operator
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

import runstore
from trainables.augment import IMAGENET_MEAN, IMAGENET_STD, crop_boxes, train_views, val_views
from trainables.image_files import (IMAGE_EXTENSIONS, DataError, ImageFile, drop_duplicates, duplicates_note,
                                    file_digests, in_order, one_line, read_csv, scan_tree)
from trainables.progress import progress
from trainables.perceptual import perceptual_duplicates

__all__ = ["DIGITS", "DataError", "IMAGE_EXTENSIONS", "IMAGENET_MEAN", "IMAGENET_STD", "ImageData",
           "MAX_IMAGE_SIZE", "crop_boxes", "default_cache_dir", "load_data", "stratified_split", "train_views",
           "val_views"]

DIGITS = "digits"
MAX_IMAGE_SIZE = 1024  # 3 MiB per image: beyond this a ResNet study needs another pipeline, not a bigger tensor
MEMORY_FRACTION = 0.5  # the decoded tensor plus its train/val copies must fit in the available memory
CACHE_FORMAT = 2  # bump when decoding changes, so old caches are not reused
STALE_TEMP_SECONDS = 3600  # a live writer touches its temporary every few seconds
# runstore.open_atomic's temporaries (".images-<key>.pt.<random>.tmp"), and those of earlier versions.
TEMPORARY_PATTERNS = (".images-*.pt.*.tmp", "images-*.pt*.tmp")
_DIGITS_FORMAT = 1  # the digits' own conversion (no Pillow, no cache): fingerprints stay those of earlier studies
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True, eq=False, repr=False)
class ImageData:
    train_images: torch.Tensor  # uint8 (N, 3, S, S), contiguous
    train_labels: torch.Tensor  # int64 (N,)
    val_images: torch.Tensor  # uint8 (M, 3, S, S)
    val_labels: torch.Tensor  # int64 (M,)
    classes: tuple[str, ...]
    source: str  # "digits (embedded)" or the path
    fingerprint: str  # hex hash of the content, the stored size and the split
    content_fingerprint: str = ""  # hex hash of the decoded content and size only: the same whatever the split
    duplicates: tuple[tuple[str, str], ...] = ()  # (dropped key, kept key) of each exact duplicate dropped
    notes: tuple[str, ...] = ()  # one-line messages for the user: what the loader dropped or skipped

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
    does not decode again. `threads` hashing and decoding threads (default: up to 8).
    """
    size = _checked_size(size)
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
        files, notes = scan_tree(path)
    elif path.suffix.lower() == ".csv":
        image_dir = Path(images).expanduser() if images is not None else path.parent
        if not image_dir.is_dir():
            raise DataError(f"{image_dir}: image folder for {path.name} not found; pass the folder holding the images")
        files, notes = read_csv(path, image_dir), []
    else:
        raise DataError(f"{path}: neither a folder nor a .csv file; pass an image folder tree or a filename,label CSV")

    classes = tuple(sorted({file.label for file in files}))
    if len(classes) < 2:
        raise DataError(f"{path}: found only 1 class ({classes[0]!r}); a classifier needs at least 2, add images of "
                        "another class")
    _check_memory(len(files), size, path)  # before hashing: a refusal should not wait for it
    threads = threads or min(8, os.cpu_count() or 1)
    digests = file_digests(files, threads)
    files, digests, duplicates = drop_duplicates(files, digests)
    presplit = files[0].split is not None
    if duplicates:
        notes.append(duplicates_note(duplicates, presplit))
    if presplit and all(file.split == "train" for file in files):
        raise DataError(f"{path / 'val'}: every val image is an exact copy of a train image; add real validation "
                        "images")
    if not presplit:
        _check_splittable(files, path, bool(duplicates))  # before decoding: a user error should not wait for it
    images_u8, key = _decoded(files, digests, size, Path(cache_dir) if cache_dir is not None else default_cache_dir(),
                              threads)
    images_u8, files, notes = _drop_perceptual_duplicates(images_u8, files, notes, path, presplit)
    index = {label: i for i, label in enumerate(classes)}
    labels = torch.tensor([index[file.label] for file in files], dtype=torch.int64)

    if presplit:
        is_val = np.array([file.split == "val" for file in files])
        train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        fingerprint = key
    else:
        train_idx, val_idx = stratified_split(labels.numpy(), val_fraction, split_seed)
        fingerprint = _hash({"data": key, "split_seed": split_seed, "val_fraction": val_fraction})
    return _image_data(images_u8, labels, train_idx, val_idx, classes, str(path), fingerprint, key,
                       tuple((dropped.key, kept.key) for dropped, kept in duplicates), tuple(notes))


def _drop_perceptual_duplicates(images: torch.Tensor, files: list, notes: list, path: Path, presplit: bool):
    """The rule of trainables/perceptual.py: the later copy (a val copy of a train image) dropped, with a note."""
    pairs = perceptual_duplicates(images)
    if not pairs:
        return images, files, notes
    for later, earlier in pairs:
        if files[later].label != files[earlier].label:
            raise DataError(f"{files[earlier].path} (label {files[earlier].label!r}) and {files[later].path} (label "
                            f"{files[later].label!r}) are the same picture (perceptual duplicates: equal image hash, "
                            "pixels within re-encoding noise); give both the right label or remove one")
    dropped = {later for later, _ in pairs}
    shown = ", ".join(f"{files[later].key} ~ {files[earlier].key}" for later, earlier in pairs[:3])
    note = (f"{len(pairs)} perceptual duplicate image(s) dropped (the same picture as another file, stored as "
            f"different bytes): {shown}" + (", ..." if len(pairs) > 3 else ""))
    across = sum(files[later].split == "val" and files[earlier].split == "train" for later, earlier in pairs)
    if presplit and across:
        note += f"; {across} of them in val/ with a copy in train/, removed from val"
    keep = [i for i in range(len(files)) if i not in dropped]
    if presplit and all(files[i].split == "train" for i in keep):
        raise DataError(f"{path / 'val'}: every val image is a copy of a train image; add real validation images")
    return images[keep], [files[i] for i in keep], [*notes, note]


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


def _check_splittable(files: list[ImageFile], path: Path, deduplicated: bool) -> None:
    counts = Counter(file.label for file in files)
    for label, count in sorted(counts.items()):
        if count < 2:
            where = path / label if path.is_dir() else f"{path} (label {label!r})"
            after = " after exact duplicates were dropped" if deduplicated else ""
            raise DataError(f"{where}: class {label!r} has {count} image{after}; it needs at least 2 to appear in "
                            "both train and val; add images or remove the class")


def _checked_size(size) -> int:
    try:
        size = operator.index(size)
    except TypeError:
        raise DataError(f"image size must be a whole number of pixels, got {size!r}") from None
    if not 1 <= size <= MAX_IMAGE_SIZE:
        raise DataError(f"image size must lie between 1 and {MAX_IMAGE_SIZE} pixels, got {size}; pass an "
                        "--image-size in that range")
    return size


def _check_memory(count: int, size: int, what) -> None:
    need, available = count * 3 * size * size, available_memory()
    if available is not None and need > MEMORY_FRACTION * available:
        raise DataError(f"{what}: {count} images of {size}x{size} take {need / 2**30:.1f} GiB decoded (twice that "
                        f"with the train/val copies), but only {available / 2**30:.1f} GiB of memory is available; "
                        "pass a smaller --image-size or fewer images")


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None when unknown.

    Linux's MemAvailable (free memory plus the page cache the kernel can drop; the free pages alone,
    SC_AVPHYS_PAGES, read near zero on a machine that has read a lot of files), else the free pages, else the
    physical memory; capped by the cgroup v2 limit of a container.
    """
    available = None
    try:
        with open("/proc/meminfo") as f:
            available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, ValueError, IndexError, StopIteration):
        for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):  # macOS has only the second
            try:
                available = os.sysconf("SC_PAGE_SIZE") * os.sysconf(pages)
                break
            except (ValueError, OSError):
                pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            room = int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text())
            available = room if available is None else min(available, room)
    except (OSError, ValueError):
        pass
    return available


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
        raise DataError(f"{file}: cannot decode this image ({one_line(err)}); fix or remove the file") from None


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


def _decoded(files: list[ImageFile], digests: list[str], size: int, cache_dir: Path,
             threads: int) -> tuple[torch.Tensor, str]:
    """uint8 (N, 3, size, size) in file order, from the cache or decoded (then cached), and the cache key."""
    key = _hash({"format": CACHE_FORMAT, "pillow": PIL.__version__, "size": size,
                 "items": [[file.key, file.label, file.split, digest] for file, digest in zip(files, digests)]})
    _remove_stale_temporaries(cache_dir)
    cache_file = cache_dir / f"images-{key}.pt"
    cached = _read_cache(cache_file, key, (len(files), 3, size, size))
    if cached is not None:
        return cached, key

    out = torch.empty((len(files), 3, size, size), dtype=torch.uint8)
    with progress(len(files), f"decoding {len(files)} images at {size}x{size} (cached afterwards)", "img") as step:

        def decode_into(index: int) -> None:
            out[index] = torch.from_numpy(_decode_image(files[index].path, size)).permute(2, 0, 1)
            step()

        in_order(decode_into, range(len(files)), threads)
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
    """Atomically and durably (runstore.open_atomic). A failed write only costs a re-decode."""
    try:
        with runstore.open_atomic(cache_file) as stream:
            torch.save(payload, stream)
    except Exception as err:  # disk full, read-only folder...: the data are fine, only the next load decodes again
        warnings.warn(f"{cache_file.parent}: could not write the image cache ({one_line(err)}); the next load "
                      "decodes again", stacklevel=2)


def _remove_stale_temporaries(cache_dir: Path) -> None:
    """Delete the temporary files of cache writers that were killed (untouched for STALE_TEMP_SECONDS)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    try:
        with os.scandir(cache_dir) as entries:
            stale = [entry.path for entry in entries if any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in TEMPORARY_PATTERNS)
                     and entry.stat(follow_symlinks=False).st_mtime < cutoff]
    except OSError:  # no cache folder yet, or one we cannot list: nothing to clean
        return
    for tmp in stale:
        try:
            os.unlink(tmp)
        except OSError:  # another process removed it first, or we may not: it costs only disk space
            pass


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


# --- the embedded default ------------------------------------------------------------------------------------


def _load_digits(size: int, split_seed: int, val_fraction: float) -> ImageData:
    """scikit-learn's digits: 8x8 grey values 0..16 -> 0..255, bilinear resize to `size`, three equal channels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    _check_memory(len(digits.images), size, DIGITS)
    grey = torch.from_numpy(digits.images).float().mul_(255.0 / 16.0).unsqueeze(1)  # (N, 1, 8, 8), 0..255
    if size != grey.shape[-1]:
        grey = F.interpolate(grey, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    images = grey.round_().clamp_(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.from_numpy(digits.target).to(torch.int64)
    train_idx, val_idx = stratified_split(labels.numpy(), val_fraction, split_seed)
    content = {"format": _DIGITS_FORMAT, "digits": hashlib.sha256(digits.images.tobytes()).hexdigest(), "size": size}
    fingerprint = _hash({**content, "split_seed": split_seed, "val_fraction": val_fraction})
    classes = tuple(str(name) for name in digits.target_names)
    return _image_data(images, labels, train_idx, val_idx, classes, f"{DIGITS} (embedded)", fingerprint,
                       _hash(content))


def _image_data(images, labels, train_idx, val_idx, classes, source, fingerprint, content_fingerprint,
                duplicates=(), notes=()) -> ImageData:
    train_idx, val_idx = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    return ImageData(train_images=images.index_select(0, train_idx), train_labels=labels.index_select(0, train_idx),
                     val_images=images.index_select(0, val_idx), val_labels=labels.index_select(0, val_idx),
                     classes=classes, source=source, fingerprint=fingerprint, content_fingerprint=content_fingerprint,
                     duplicates=duplicates, notes=notes)
