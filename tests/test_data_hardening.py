"""trainables/data.py and image_files.py against hostile or careless inputs: real symlinks, FIFOs, devices,
duplicate files, escaping CSV names, absurd sizes and killed cache writers, all made in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import PIL
import pytest
import torch

from tests.test_data import _counting_decoder, _tree, _write
from trainables import data
from trainables.data import MAX_IMAGE_SIZE, DataError, load_data

REPO = Path(__file__).resolve().parents[1]


def _one_line_error(*args, **kwargs) -> str:
    with pytest.raises(DataError) as caught:
        load_data(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 600, message
    return message


def _all_images(d: data.ImageData) -> torch.Tensor:
    return torch.cat([d.train_images, d.val_images])


def _distinct_rows(images: torch.Tensor) -> int:
    return len({image.numpy().tobytes() for image in images})


# --- symlinks in a tree ----------------------------------------------------------------------------------------


def test_symlink_loop_in_class_folder_is_not_followed(tmp_path):
    root = _tree(tmp_path / "d", {"cls": 4, "other": 4})
    (root / "cls" / "loop").symlink_to("..")
    (root / "other" / "self").symlink_to(".")
    d = load_data(root, size=8, cache_dir=tmp_path / "cache")
    assert len(d.train_labels) + len(d.val_labels) == 8  # was 328 when the loop was followed
    assert _distinct_rows(_all_images(d)) == 8  # no file in both train and val
    assert d.duplicates == ()
    (note,) = d.notes
    assert note.startswith("2 symlinked folder(s)") and "cls/loop" in note and "other/self" in note


def test_symlinked_class_folders_and_outside_folders_are_followed_once(tmp_path):
    outside = _tree(tmp_path / "elsewhere", {"cats": 3, "more": 2}, seed=500)
    root = _tree(tmp_path / "data", {"dogs": 3})
    (root / "cats").symlink_to(outside / "cats")  # a class folder kept elsewhere: the usual reason for a link
    (outside / "cats" / "extra").symlink_to(outside / "more")  # a folder outside the tree: followed
    (outside / "cats" / "extra-again").symlink_to(outside / "more")  # the same folder again: read once
    (root / "dogs" / "cats-too").symlink_to(root / "cats")  # back into the tree: not followed
    d = load_data(root, size=8, cache_dir=tmp_path / "cache")
    assert d.classes == ("cats", "dogs")
    assert torch.cat([d.train_labels, d.val_labels]).bincount().tolist() == [3 + 2, 3]
    assert _distinct_rows(_all_images(d)) == 8
    assert len(d.notes) == 1 and "cats/extra-again" in d.notes[0] and "dogs/cats-too" in d.notes[0]


def test_class_folder_linking_to_the_data_folder_is_refused(tmp_path):
    root = _tree(tmp_path / "data", {"a": 2, "b": 2})
    (root / "all").symlink_to(".")
    message = _one_line_error(root, size=8, cache_dir=tmp_path / "cache")
    assert str(root / "all") in message and "holds" in message


def test_two_class_folders_linked_to_the_same_images_conflict(tmp_path):
    _tree(tmp_path / "pool", {"x": 2})
    root = tmp_path / "data"
    root.mkdir()
    (root / "a").symlink_to(tmp_path / "pool" / "x")
    (root / "b").symlink_to(tmp_path / "pool" / "x")
    message = _one_line_error(root, size=8, cache_dir=tmp_path / "cache")
    assert str(root / "a" / "img0.png") in message and str(root / "b" / "img0.png") in message
    assert "'a'" in message and "'b'" in message


# --- files that are not images -----------------------------------------------------------------------------------


UNUSABLE = {
    "dangling symlink": lambda folder: (folder / "gone.png").symlink_to(folder / "nowhere.png"),
    "symlink loop file": lambda folder: (folder / "loop.png").symlink_to("loop.png"),
}


@pytest.mark.parametrize("case, name, words", [("dangling symlink", "gone.png", "broken symlink"),
                                               ("symlink loop file", "loop.png", "symlink loop")])
def test_unusable_file_is_one_line_naming_it(tmp_path, case, name, words):
    root = _tree(tmp_path / "data", {"a": 2, "b": 2})
    UNUSABLE[case](root / "b")
    message = _one_line_error(root, size=8, cache_dir=tmp_path / "cache")
    assert str(root / "b" / name) in message and words in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway, so it cannot be unreadable")
def test_unreadable_file_is_one_line_naming_it(tmp_path):
    root = _tree(tmp_path / "data", {"a": 2, "b": 2})
    locked = root / "a" / "img1.png"
    locked.chmod(0)
    try:
        message = _one_line_error(root, size=8, cache_dir=tmp_path / "cache")
    finally:
        locked.chmod(0o644)
    assert str(locked) in message and "cannot be read" in message


def test_broken_link_without_an_image_name_is_ignored(tmp_path):
    root = _tree(tmp_path / "data", {"a": 2, "b": 2})
    (root / "a" / "notes.txt").symlink_to("missing.txt")
    assert len(load_data(root, size=8, cache_dir=tmp_path / "cache").val_labels) == 2


_LOAD_EACH = """
import json, sys
from trainables.data import DataError, load_data
out = {}
for name, args in json.loads(sys.argv[1]).items():
    try:
        load_data(*args, size=8, cache_dir=sys.argv[2])
        out[name] = "loaded"
    except DataError as err:
        out[name] = str(err)
print(json.dumps(out))
"""


def test_fifo_and_device_named_like_images_fail_fast_without_reading(tmp_path):
    # In a child process under a timeout: a loader that opens a FIFO blocks forever and one that reads /dev/zero
    # never ends; neither must hang the test run.
    fifo_tree = _tree(tmp_path / "fifo", {"a": 2, "b": 2})
    os.mkfifo(fifo_tree / "a" / "p.jpg")
    zero_tree = _tree(tmp_path / "zero", {"a": 2, "b": 2})
    (zero_tree / "b" / "z.png").symlink_to("/dev/zero")
    images = _tree(tmp_path / "csv", {"a": 2})
    os.mkfifo(images / "p.png")
    (images / "labels.csv").write_text("filename,label\na/img0.png,x\na/img1.png,y\np.png,y\n")
    fifo_csv = tmp_path / "fifo.csv"
    os.mkfifo(fifo_csv)
    cases = {"fifo": [str(fifo_tree)], "zero": [str(zero_tree)], "csv row": [str(images / "labels.csv")],
             "csv itself": [str(fifo_csv), str(images)]}

    started = time.monotonic()
    child = subprocess.run([sys.executable, "-c", _LOAD_EACH, json.dumps(cases), str(tmp_path / "cache")],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    messages = json.loads(child.stdout)
    assert str(fifo_tree / "a" / "p.jpg") in messages["fifo"] and "not a regular file (a FIFO" in messages["fifo"]
    assert str(zero_tree / "b" / "z.png") in messages["zero"] and "a character device" in messages["zero"]
    assert str(images / "p.png") in messages["csv row"] and "line 4" in messages["csv row"]
    assert str(fifo_csv) in messages["csv itself"] and "not a regular file" in messages["csv itself"]
    assert all("\n" not in message for message in messages.values())
    assert time.monotonic() - started < 120


# --- CSV names -----------------------------------------------------------------------------------------------------


def _labels(images: Path, rows: list[str], header: str = "filename,label") -> Path:
    for seed, name in enumerate(["a/0.png", "a/1.png", "b/0.png", "b/1.png"]):
        _write(images / name, seed=seed)
    (images / "labels.csv").write_text("\n".join([header, "a/0.png,x", "a/1.png,x", "b/0.png,y", "b/1.png,y", *rows])
                                       + "\n")
    return images / "labels.csv"


def test_csv_names_escaping_the_image_folder_are_refused(tmp_path):
    images = tmp_path / "deep" / "er" / "images"
    secret = _write(tmp_path / "secret.png", seed=77)
    (images / "b").mkdir(parents=True)
    (images / "b" / "link.png").symlink_to(secret)
    cases = {"../../../../etc/passwd": "leads outside", "../../../secret.png": "leads outside",
             str(secret): "absolute path", "b/link.png": "leads outside"}
    for name, words in cases.items():
        labels = _labels(images, [f"{name},y"])
        message = _one_line_error(labels, size=8, cache_dir=tmp_path / "cache")
        assert f"{labels}, line 6" in message and name in message and words in message, message


def test_csv_same_real_file_twice_names_both_lines(tmp_path):
    images = tmp_path / "images"
    labels = _labels(images, ["a/../a/0.png,x"])
    message = _one_line_error(labels, size=8, cache_dir=tmp_path / "cache")
    assert "line 6" in message and "line 2" in message and "a/../a/0.png" in message

    (images / "alias.png").symlink_to(images / "b" / "1.png")
    labels = _labels(images, ["alias.png,y"])
    assert "line 5" in _one_line_error(labels, size=8, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("header", ["filename,label,label", "filename,Label,label ", "filename,filename,label"])
def test_csv_header_naming_a_column_twice_is_refused(tmp_path, header):
    labels = _labels(tmp_path / "images", [], header=header)
    message = _one_line_error(labels, size=8, cache_dir=tmp_path / "cache")
    assert str(labels) in message and "more than once" in message


def test_csv_inside_the_folder_still_loads_with_trailing_empty_columns(tmp_path):
    labels = _labels(tmp_path / "images", [], header="filename,label,,")
    d = load_data(labels, size=8, cache_dir=tmp_path / "cache")
    assert d.classes == ("x", "y") and len(d.train_labels) + len(d.val_labels) == 4


# --- exact duplicates ------------------------------------------------------------------------------------------


def test_exact_duplicates_keep_one_copy_and_are_reported(tmp_path, monkeypatch):
    root = _tree(tmp_path / "data", {"a": 4, "b": 3})
    (root / "a" / "copy.png").write_bytes((root / "a" / "img0.png").read_bytes())
    (root / "a" / "img9.png").write_bytes((root / "a" / "img2.png").read_bytes())
    (root / "b" / "alias.png").symlink_to("img1.png")  # one file under two names is one image
    calls = _counting_decoder(monkeypatch)
    d = load_data(root, size=8, cache_dir=tmp_path / "cache")
    assert len(calls) == 7  # dropped copies are never decoded
    assert torch.cat([d.train_labels, d.val_labels]).bincount().tolist() == [4, 3]
    assert _distinct_rows(_all_images(d)) == 7
    assert d.duplicates == (("a/img0.png", "a/copy.png"), ("a/img9.png", "a/img2.png"), ("b/img1.png", "b/alias.png"))
    (note,) = d.notes
    assert note.startswith("3 exact duplicate image(s) dropped (same bytes as another file): a/img0.png = "
                           "a/copy.png, a/img9.png = a/img2.png, b/img1.png = b/alias.png")


def test_identical_images_under_two_labels_are_refused(tmp_path):
    root = _tree(tmp_path / "data", {"cat": 3, "dog": 3})
    (root / "dog" / "mislabelled.png").write_bytes((root / "cat" / "img1.png").read_bytes())
    message = _one_line_error(root, size=8, cache_dir=tmp_path / "cache")
    assert str(root / "cat" / "img1.png") in message and str(root / "dog" / "mislabelled.png") in message
    assert "identical bytes" in message


def test_presplit_copy_in_train_and_val_is_removed_from_val(tmp_path):
    root = tmp_path / "split"
    _tree(root / "train", {"a": 3, "b": 3})
    _tree(root / "val", {"a": 2, "b": 2}, seed=1000)
    (root / "val" / "a" / "leak.png").write_bytes((root / "train" / "a" / "img2.png").read_bytes())
    d = load_data(root, size=8, cache_dir=tmp_path / "cache")
    assert d.train_labels.tolist() == [0, 0, 0, 1, 1, 1] and d.val_labels.tolist() == [0, 0, 1, 1]
    assert d.duplicates == (("val/a/leak.png", "train/a/img2.png"),)
    assert "removed from val" in d.notes[0]
    train_rows = {image.numpy().tobytes() for image in d.train_images}
    assert not any(image.numpy().tobytes() in train_rows for image in d.val_images)


def test_presplit_val_made_only_of_copies_is_refused(tmp_path):
    root = tmp_path / "split"
    _tree(root / "train", {"a": 2, "b": 2})
    _tree(root / "val", {"a": 1})  # the same seeds: byte for byte the train images
    assert str(root / "val") in _one_line_error(root, size=8, cache_dir=tmp_path / "cache")


def test_dropping_duplicates_can_leave_a_class_too_small(tmp_path):
    root = _tree(tmp_path / "data", {"a": 3, "b": 1})
    (root / "b" / "again.png").write_bytes((root / "b" / "img0.png").read_bytes())
    message = _one_line_error(root, size=8, cache_dir=tmp_path / "cache")
    assert str(root / "b") in message and "after exact duplicates were dropped" in message


# --- sizes and memory ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -3, MAX_IMAGE_SIZE + 1, 100_000])
def test_image_size_out_of_bounds_is_a_data_error(tmp_path, size):
    root = _tree(tmp_path / "data", {"a": 2, "b": 2})
    for args in ((), (root,)):
        message = _one_line_error(*args, size=size, cache_dir=tmp_path / "cache")
        assert str(MAX_IMAGE_SIZE) in message and str(size) in message
    assert not (tmp_path / "cache").exists()  # refused before anything was decoded or cached


def test_data_larger_than_memory_is_refused_before_hashing(tmp_path, monkeypatch):
    assert data.available_memory() > 0  # this machine reports its memory
    root = _tree(tmp_path / "data", {"a": 2, "b": 2})
    (root / "a" / "img0.png").chmod(0)  # hashing it would fail (when not root): the refusal must come first
    monkeypatch.setattr(data, "available_memory", lambda: 2 * 4 * 3 * 64 * 64 - 1)  # just too little for 4 at 64
    try:
        message = _one_line_error(root, size=64, cache_dir=tmp_path / "cache")
    finally:
        (root / "a" / "img0.png").chmod(0o644)
    assert str(root) in message and "4 images of 64x64" in message and "GiB" in message
    assert load_data(root, size=63, cache_dir=tmp_path / "cache").image_size == 63  # just enough
    assert "digits" in _one_line_error(size=64)


# --- the cache -------------------------------------------------------------------------------------------------


def test_stale_temporary_cache_files_are_removed(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    stale, old_style, fresh, other = (cache / ".images-abc.pt.k1lled.tmp", cache / "images-abc.pt.k1lled.tmp",
                                      cache / ".images-def.pt.wr1ting.tmp", cache / "notes.tmp")
    for file in (stale, old_style, fresh, other):
        file.write_bytes(b"half a tensor")
    hours_ago = time.time() - 2 * data.STALE_TEMP_SECONDS
    for file in (stale, old_style, other):
        os.utime(file, (hours_ago, hours_ago))
    load_data(_tree(tmp_path / "data", {"a": 2, "b": 2}), size=8, cache_dir=cache)
    assert not stale.exists() and not old_style.exists() and fresh.exists() and other.exists()
    assert len(list(cache.glob("images-*.pt"))) == 1


def test_content_fingerprint_ignores_the_split_and_keys_the_cache(tmp_path, monkeypatch):
    root = _tree(tmp_path / "data", {"a": 3, "b": 3})
    cache = tmp_path / "cache"
    d = load_data(root, size=8, cache_dir=cache)
    resplit = load_data(root, size=8, split_seed=7, val_fraction=0.5, cache_dir=cache)
    assert d.fingerprint != resplit.fingerprint and d.content_fingerprint == resplit.content_fingerprint
    assert [p.name for p in cache.glob("*.pt")] == [f"images-{d.content_fingerprint}.pt"]
    assert load_data(root, size=9, cache_dir=cache).content_fingerprint != d.content_fingerprint
    _write(root / "b" / "img0.png", seed=4242)
    assert load_data(root, size=8, cache_dir=cache).content_fingerprint != d.content_fingerprint
    _write(root / "b" / "img0.png", seed=100)  # back as it was
    monkeypatch.setattr(PIL, "__version__", "0.0.0")  # another Pillow may decode differently: another entry
    assert load_data(root, size=8, cache_dir=cache).content_fingerprint != d.content_fingerprint

    digits = load_data(size=8)
    assert len(digits.content_fingerprint) == 64 and digits.content_fingerprint != digits.fingerprint
    assert load_data(size=8, split_seed=1).content_fingerprint == digits.content_fingerprint
    assert load_data(size=9).content_fingerprint != digits.content_fingerprint


# --- perceptual duplicates, empty files, blank CSV rows ---------------------------------------------------------


def _resave(source: Path, target: Path, **options) -> Path:
    """The same picture as other bytes: PNG saved again with other compression, or re-encoded as JPEG."""
    target.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.open(source).save(target, **options)
    assert target.read_bytes() != source.read_bytes()
    return target


def test_presplit_picture_resaved_into_val_is_dropped_from_val_and_reported(tmp_path):
    root = tmp_path / "split"
    _tree(root / "train", {"a": 3, "b": 3})
    _tree(root / "val", {"a": 2, "b": 2}, seed=1000)
    _resave(root / "train" / "a" / "img1.png", root / "val" / "a" / "resaved.png", compress_level=0)
    _resave(root / "train" / "b" / "img0.png", root / "val" / "b" / "recoded.jpg", quality=98)
    d = load_data(root, size=16, cache_dir=tmp_path / "cache")
    assert d.train_labels.tolist() == [0, 0, 0, 1, 1, 1] and d.val_labels.tolist() == [0, 0, 1, 1]
    (note,) = d.notes
    assert note == ("2 perceptual duplicate image(s) dropped (the same picture as another file, stored as different "
                    "bytes): val/a/resaved.png ~ train/a/img1.png, val/b/recoded.jpg ~ train/b/img0.png; 2 of them "
                    "in val/ with a copy in train/, removed from val")


def test_the_same_picture_under_two_labels_is_refused_naming_both(tmp_path):
    root = _tree(tmp_path / "data", {"cat": 3, "dog": 3})
    _resave(root / "cat" / "img2.png", root / "dog" / "wrong.jpg", quality=98)
    message = _one_line_error(root, size=16, cache_dir=tmp_path / "cache")
    assert str(root / "cat" / "img2.png") in message and str(root / "dog" / "wrong.jpg") in message
    assert "perceptual duplicates" in message


def test_flat_images_of_different_colours_are_not_duplicates(tmp_path):
    """A hash alone calls two flat images the same; the pixels decide."""
    root = tmp_path / "flat"
    for c, label in enumerate(("red", "blue")):
        for i in range(3):
            (root / label).mkdir(parents=True, exist_ok=True)
            PIL.Image.new("RGB", (12, 12), (200 - 60 * i, 30 * c, 100 * c + 20 * i)).save(root / label / f"{i}.png")
    d = load_data(root, size=8, cache_dir=tmp_path / "cache")
    assert len(d.train_labels) + len(d.val_labels) == 6 and d.notes == ()


def test_empty_image_files_are_refused_as_empty_not_as_the_same_image(tmp_path):
    root = _tree(tmp_path / "data", {"cat": 3, "dog": 3})
    (root / "cat" / "blank.png").write_bytes(b"")
    (root / "dog" / "blank.png").write_bytes(b"")
    message = _one_line_error(root, size=8, cache_dir=tmp_path / "cache")
    assert message.endswith("blank.png: empty file (0 bytes), not an image; remove it or copy the image again")


def test_blank_rows_at_the_end_of_a_csv_are_skipped(tmp_path):
    labels = _labels(tmp_path / "images", [])
    labels.write_text(labels.read_text() + "\n,\n  ,  \n\n")
    d = load_data(labels, size=8, cache_dir=tmp_path / "cache")
    assert d.classes == ("x", "y") and len(d.train_labels) + len(d.val_labels) == 4
