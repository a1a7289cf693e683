"""Finding a data set's image files: an ImageFolder tree, a tree already split into train/ and val/, or a
filename,label CSV plus an image folder; hashing them and dropping exact duplicates (the rule: trainables/data.py).
Nothing here decodes an image: folders, file metadata and the CSV are read, and each file's bytes once, to hash them.

What counts as an image: a file whose name has an image extension and does not start with "." and which is a
REGULAR file once symlinks are resolved (checked with stat before anything opens it: a FIFO would block the reader
forever, /dev/zero never ends). An image-named FIFO, device, socket, broken symlink or symlink loop is a DataError
naming it, never skipped in silence.

Symlinks in a tree:
  - the data folder itself, train/ and val/, and each class folder may be symlinks (`root/cats -> /data/cats`);
    a class folder linking to a folder that holds the tree (`root/all -> .`) is a DataError;
  - a symlinked folder INSIDE a class folder is followed only when it leads outside the data folder to a folder
    not read yet for this class; one that leads back into the data folder (`cats/loop -> ..`), to a folder holding
    it or the class folder, or to a folder already read is not followed, and a note says so. Every folder is read
    at most once per class, so loops end and no file is found twice through folder links;
  - a symlinked file is read from its target. Two names for one file (a file symlink, a hard link) are two items
    with the same bytes; load_data keeps one of them (see its exact-duplicate rule).
A CSV row must name a file that lies inside the image folder after every symlink is resolved; an absolute name, a
name escaping the folder (`../x.png`, or a symlink leading out of it) and two rows naming the same real file are
DataErrors naming the line(s). A header naming a column twice is a DataError (which one would be meant?).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


class DataError(ValueError):
    """A user error about the input data: one line naming the file or folder and what to do."""


class ImageFile(NamedTuple):
    key: str  # the path relative to the data root (posix): part of the cache key, the name notes use
    path: Path  # the path as found, opened to read the file and named in errors
    label: str
    split: str | None  # "train" / "val" in a tree already split; None when load_data splits
    real: str  # the path with every symlink resolved: one file reached by two names is hashed once


def scan_tree(root: Path) -> tuple[list[ImageFile], list[str]]:
    """(files, notes) of `root/<class>/...` or `root/train/<class>/...` + `root/val/<class>/...`, in key order."""
    names = {p.name for p in _subfolders(root)}
    if "train" in names and "val" in names:
        parts = [(root / "train", "train/", "train"), (root / "val", "val/", "val")]
    elif "train" in names or "val" in names:
        present, absent = ("train", "val") if "train" in names else ("val", "train")
        raise DataError(f"{root}: has a {present}/ folder but no {absent}/ folder; use {root}/train/<class> and "
                        f"{root}/val/<class>, or a plain {root}/<class> tree")
    else:
        parts = [(root, "", None)]
    classes = [(class_dir, prefix, split) for folder, prefix, split in parts
               for class_dir in _class_folders(folder)]
    # The tree as it lies on disk: the data folder and every class folder, wherever its links lead.
    tree = [os.path.realpath(root)] + [os.path.realpath(class_dir) for class_dir, _, _ in classes]
    files, skipped = [], []
    for (class_dir, prefix, split), real_class in zip(classes, tree[1:]):
        found = _class_files(class_dir, real_class, prefix + class_dir.name, split, tree, skipped)
        if not found:
            raise DataError(f"{class_dir}: class folder holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
                            "add images or remove the folder")
        files.extend(found)
    train_classes = {file.label for file in files if file.split == "train"}
    for file in files:
        if file.split == "val" and file.label not in train_classes:
            raise DataError(f"{root / 'val' / file.label}: class {file.label!r} is in val but not in train; "
                            "add training images for it or remove the folder")
    notes = []
    if skipped:
        notes.append(f"{len(skipped)} symlinked folder(s) inside class folders not followed (they lead back into "
                     f"the data folder or to a folder already read): {_some(skipped)}")
    return files, notes


def read_csv(csv_path: Path, image_dir: Path) -> list[ImageFile]:
    """The rows of a `filename,label` CSV as files inside `image_dir`, sorted by key (the name as listed)."""
    _require_regular(csv_path, "")
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [name.strip().lower() for name in next(reader, [])]
            if not any(header):
                raise DataError(f"{csv_path}: empty CSV; expected a header 'filename,label' and one row per image")
            twice = sorted({name for name in header if name and header.count(name) > 1})
            if twice:
                raise DataError(f"{csv_path}: column {' and '.join(twice)} appears more than once in the header; "
                                "keep one column of each name")
            missing = [col for col in ("filename", "label") if col not in header]
            if missing:
                raise DataError(f"{csv_path}: missing column {' and '.join(missing)}; expected a header "
                                f"'filename,label' (found: {','.join(header)})")
            at_name, at_label = header.index("filename"), header.index("label")
            # a row of blanks (a spreadsheet's trailing ",," or an empty last line) is no row
            rows = [(reader.line_num, _field(row, at_name), _field(row, at_label)) for row in reader
                    if any(field.strip() for field in row)]
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{csv_path}: not a readable UTF-8 CSV ({one_line(err)}); expected 'filename,label' rows")
    if not rows:
        raise DataError(f"{csv_path}: empty CSV (a header and no rows); add one 'filename,label' row per image")

    real_dir = os.path.realpath(image_dir)
    files, line_of = [], {}
    for line, filename, label in rows:
        where = f"{csv_path}, line {line}"
        if not filename or not label:
            raise DataError(f"{where}: empty filename or label; give both on every row")
        if os.path.isabs(filename):
            raise DataError(f"{where}: {filename} is an absolute path; name files relative to the image folder "
                            f"{image_dir}")
        file = image_dir / filename
        real = os.path.realpath(file)
        if not within(real, real_dir):
            raise DataError(f"{where}: {filename} leads outside the image folder {image_dir} (to {real}); "
                            "keep the images inside it")
        _require_regular(file, f" (listed in {csv_path}, line {line})")
        if real in line_of:
            raise DataError(f"{where}: {filename} is the same file as line {line_of[real]}; list every image once")
        line_of[real] = line
        files.append(ImageFile(Path(filename).as_posix(), file, label, None, real))
    return sorted(files, key=lambda file: file.key)


# --- exact duplicates ------------------------------------------------------------------------------------------


def file_digests(files: list[ImageFile], threads: int) -> list[str]:
    """sha256 of each file's bytes, in order; a file reached by two names is read once."""
    first_path = {}
    for file in files:
        first_path.setdefault(file.real, file.path)
    by_real = dict(zip(first_path, in_order(_file_digest, list(first_path.values()), threads)))
    return [by_real[file.real] for file in files]


def drop_duplicates(files: list[ImageFile], digests: list[str]):
    """(files, digests, [(dropped, kept)]) keeping the first file per content in (train before val, key) order."""
    kept_by_digest: dict[str, ImageFile] = {}
    duplicates, keep = [], [True] * len(files)
    for i in sorted(range(len(files)), key=lambda i: (files[i].split == "val", files[i].key)):
        kept = kept_by_digest.setdefault(digests[i], files[i])
        if kept is files[i]:
            continue
        if kept.label != files[i].label:
            raise DataError(f"{kept.path} (label {kept.label!r}) and {files[i].path} (label {files[i].label!r}) "
                            "are the same image (identical bytes); give both the right label or remove one")
        duplicates.append((files[i], kept))
        keep[i] = False
    if not duplicates:
        return files, digests, duplicates
    return ([f for f, k in zip(files, keep) if k], [d for d, k in zip(digests, keep) if k],
            sorted(duplicates, key=lambda pair: pair[0].key))


def duplicates_note(duplicates, presplit: bool, shown: int = 3) -> str:
    pairs = ", ".join(f"{dropped.key} = {kept.key}" for dropped, kept in duplicates[:shown])
    note = (f"{len(duplicates)} exact duplicate image(s) dropped (same bytes as another file): {pairs}"
            + (", ..." if len(duplicates) > shown else ""))
    across = sum(dropped.split == "val" and kept.split == "train" for dropped, kept in duplicates)
    if presplit and across:
        note += f"; {across} of them in val/ with a copy in train/, removed from val"
    return note


def in_order(function, args, threads: int) -> list:
    """[function(a) for a in args] on `threads` threads; the first error in argument order is raised at once."""
    with ThreadPoolExecutor(threads) as pool:
        try:
            return list(pool.map(function, args))
        except BaseException:  # skip the calls still queued
            pool.shutdown(cancel_futures=True)
            raise


def _file_digest(file: Path) -> str:
    """sha256 of a regular file's bytes. O_NONBLOCK and fstat: a file swapped for a FIFO since the scan can't block."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise DataError(f"{file}: cannot be read ({err.strerror or one_line(err)}); fix its permissions or remove "
                        "it") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataError(f"{file}: not a regular file any more; only regular files are read, remove or rename it")
        if info.st_size == 0:  # else every empty file is "the same image" as every other
            raise DataError(f"{file}: empty file (0 bytes), not an image; remove it or copy the image again")
        with open(fd, "rb", closefd=False) as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as err:
        raise DataError(f"{file}: cannot be read ({one_line(err)}); fix or remove the file") from None
    finally:
        os.close(fd)


def within(path: str, folder: str) -> bool:
    """Whether the real path `path` is `folder` or lies under it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# --- the tree ------------------------------------------------------------------------------------------------


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as err:
        raise DataError(f"{folder}: cannot list this folder ({one_line(err)}); fix its permissions") from None


def _class_folders(folder: Path) -> list[Path]:
    class_dirs = _subfolders(folder)
    if not class_dirs:
        raise DataError(f"{folder}: no class folders found; expected {folder}/<class>/<image>.jpg")
    real_folder = os.path.realpath(folder)
    for class_dir in class_dirs:
        real_class = os.path.realpath(class_dir)
        if within(real_folder, real_class):
            raise DataError(f"{class_dir}: links to {real_class}, which holds {folder} itself; link class folders "
                            "to folders of images outside the data folder")
    return class_dirs


def _class_files(class_dir: Path, real_class: str, class_key: str, split: str | None, tree: list[str],
                 skipped: list[str]) -> list[ImageFile]:
    """The images under one class folder, depth first in name order (the order of sorted paths)."""
    label, files, visited = class_dir.name, [], {real_class}

    def leads_back(target: str) -> bool:  # into the tree, to a folder holding part of it, or to one already read
        return target in visited or any(within(target, part) or within(part, target) for part in tree)

    def walk(folder: str, real: str, key: str) -> None:
        for entry in _entries(folder):
            if entry.name.startswith("."):
                continue
            entry_key, image_name = f"{key}/{entry.name}", _is_image_name(entry.name)
            if entry.is_symlink():
                try:
                    mode = os.stat(entry.path).st_mode
                except OSError as err:
                    if image_name:
                        raise _unusable(entry.path, err, "") from None
                    continue  # a broken link without an image name is ignored like any other non-image
                target = os.path.realpath(entry.path)
                if stat.S_ISDIR(mode):
                    if leads_back(target):
                        skipped.append(entry_key)
                    else:
                        visited.add(target)
                        walk(entry.path, target, entry_key)
                elif image_name:
                    if not stat.S_ISREG(mode):
                        raise _not_regular(entry.path, mode, f", a symlink to {target}")
                    files.append(ImageFile(entry_key, Path(entry.path), label, split, target))
            elif entry.is_dir(follow_symlinks=False):
                target = os.path.join(real, entry.name)
                if target not in visited:  # only a folder link read earlier in this class can hold it
                    visited.add(target)
                    walk(entry.path, target, entry_key)
            elif image_name:
                if not entry.is_file(follow_symlinks=False):  # d_type from the folder listing: no extra stat
                    raise _not_regular(entry.path, entry.stat(follow_symlinks=False).st_mode, "")
                files.append(ImageFile(entry_key, Path(entry.path), label, split, os.path.join(real, entry.name)))

    walk(str(class_dir), real_class, class_key)
    return files


def _entries(folder: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError as err:
        raise DataError(f"{folder}: cannot list this folder ({one_line(err)}); fix its permissions or remove "
                        "it") from None


# --- checks ----------------------------------------------------------------------------------------------------


def _require_regular(file: Path, context: str) -> None:
    """stat (never open) `file`: a DataError unless it is a regular file after symlinks."""
    try:
        mode = os.stat(file).st_mode
    except FileNotFoundError as err:
        if not os.path.islink(file):
            raise DataError(f"{file}: not found{context}; fix the name or pass the image folder") from None
        raise _unusable(file, err, context) from None
    except OSError as err:
        raise _unusable(file, err, context) from None
    if not stat.S_ISREG(mode):
        raise _not_regular(file, mode, context)


def _unusable(file, err: OSError, context: str) -> DataError:
    if err.errno == errno.ENOENT:
        try:
            target = os.readlink(file)
        except OSError:
            target = "?"
        return DataError(f"{file}: broken symlink{context} (its target {target} does not exist); fix or remove it")
    if err.errno == errno.ELOOP:
        return DataError(f"{file}: symlink loop{context} (the link leads back to itself); fix or remove it")
    return DataError(f"{file}: cannot be read{context} ({err.strerror or one_line(err)}); fix its permissions or "
                     "remove it")


def _not_regular(file, mode: int, context: str) -> DataError:
    kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a folder" if stat.S_ISDIR(mode) else "not a plain file")
    return DataError(f"{file}: not a regular file ({kind}{context}); only regular files are read, remove or rename "
                     "it")


def _field(row: list[str], at: int) -> str:
    return row[at].strip() if at < len(row) else ""


def _some(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")
