"""trainables/data.py and augment.py: real image files written with PIL into tmp_path, real decoding, real cache."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, features

from trainables import data
from trainables.data import (IMAGENET_MEAN, IMAGENET_STD, DataError, crop_boxes, load_data, stratified_split,
                             train_views, val_views)

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def _normalised(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels.float() / 255 - MEAN) / STD


def _smooth_rgb(seed: int, width: int = 24, height: int = 20) -> np.ndarray:
    """A smooth random image (a colour gradient), uint8 (height, width, 3)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width] / max(width, height)
    colour = [rng.uniform(0, 255) + rng.uniform(-100, 100) * xs + rng.uniform(-100, 100) * ys for _ in range(3)]
    return np.clip(np.stack(colour, axis=-1), 0, 255).astype(np.uint8)


def _write(file: Path, seed: int = 0, mode: str = "RGB") -> Path:
    file.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_smooth_rgb(seed)).convert(mode).save(file)
    return file


def _tree(root: Path, counts: dict[str, int], ext: str = ".png", seed: int = 0) -> Path:
    """Distinct images (exact duplicates are dropped by the loader); another `seed` for another set of images."""
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            _write(root / name / f"img{i}{ext}", seed=seed + 100 * c + i)
    return root


def _counting_decoder(monkeypatch) -> list:
    calls = []
    original = data._decode_image

    def counting(file, size):
        calls.append(file)
        return original(file, size)

    monkeypatch.setattr(data, "_decode_image", counting)
    return calls


def _assert_valid(d: data.ImageData, size: int) -> None:
    for images, labels in ((d.train_images, d.train_labels), (d.val_images, d.val_labels)):
        assert images.dtype == torch.uint8 and images.is_contiguous()
        assert images.shape[1:] == (3, size, size) and len(images) == len(labels)
        assert labels.dtype == torch.int64
        assert set(labels.tolist()) == set(range(d.num_classes))  # every class in both parts
    assert d.image_size == size


# --- inputs ----------------------------------------------------------------------------------------------------


def test_image_folder_tree_with_mixed_modes_and_junk(tmp_path):
    root = tmp_path / "dishes"
    _tree(root, {"rendang": 4, "sate": 5}, ext=".jpg")
    # distinct pictures (the same picture in two modes is a perceptual duplicate, refused across labels)
    _write(root / "rendang" / "grey.png", seed=901, mode="L")
    _write(root / "rendang" / "alpha.png", seed=902, mode="RGBA")
    _write(root / "rendang" / "palette.png", seed=903, mode="P")
    _write(root / "sate" / "print.jpg", seed=904, mode="CMYK")
    _write(root / "sate" / "nested" / "deep.bmp", seed=905)  # class folders are searched recursively, like ImageFolder
    Image.fromarray(np.full((9, 13), 40000, np.uint16)).save(root / "sate" / "sixteen.png")
    (root / "sate" / ".DS_Store").write_bytes(b"\x00\x01junk")
    (root / "sate" / "notes.txt").write_text("not an image")
    (root / "sate" / ".hidden.jpg").write_text("hidden files are ignored, even broken ones")
    (root / ".git").mkdir()
    _write(root / ".git" / "x.png")  # a hidden folder is not a class
    (root / "README.md").write_text("files beside the class folders are ignored")

    d = load_data(root, size=16, cache_dir=tmp_path / "cache")
    assert d.classes == ("rendang", "sate")
    assert len(d.train_labels) + len(d.val_labels) == 7 + 8
    assert (torch.cat([d.train_labels, d.val_labels]).bincount() == torch.tensor([7, 8])).all()
    assert d.source == str(root) and len(d.fingerprint) == 64
    _assert_valid(d, 16)
    copy = pickle.loads(pickle.dumps(d))  # Ray's object store pickles it
    assert torch.equal(copy.train_images, d.train_images) and copy.fingerprint == d.fingerprint
    assert "train=" in repr(d) and "tensor" not in repr(d)


def test_presplit_tree_is_used_as_is(tmp_path):
    root = tmp_path / "split"
    _tree(root / "train", {"a": 3, "b": 2, "c": 2})
    _tree(root / "val", {"a": 1, "b": 2}, seed=1000)
    _tree(root / "test", {"z": 1})  # a test/ folder beside train/ and val/ is not used
    d = load_data(root, size=8, cache_dir=tmp_path / "cache")
    assert d.classes == ("a", "b", "c")
    assert d.train_labels.tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert d.val_labels.tolist() == [0, 1, 1]
    assert d.fingerprint == load_data(root, size=8, split_seed=7, cache_dir=tmp_path / "cache").fingerprint


def test_csv_with_image_folder(tmp_path):
    images = tmp_path / "pictures"
    rows = [(f"sub/p{i}.png", label) for i, label in enumerate(["soto"] * 5 + ["bakso"] * 4 + ["gado"] * 3)]
    for i, (name, _) in enumerate(rows):
        _write(images / name, seed=i)
    (images / "unlisted.png").write_bytes((images / "sub" / "p0.png").read_bytes())  # not in the CSV: unused
    labels_csv = tmp_path / "labels.csv"
    with open(labels_csv, "w", newline="") as f:
        csv.writer(f).writerows([("filename", "label"), *rows])

    d = load_data(labels_csv, images, size=12, cache_dir=tmp_path / "cache")
    assert d.classes == ("bakso", "gado", "soto")  # the CSV's own labels, sorted
    counts = torch.cat([d.train_labels, d.val_labels]).bincount()
    assert counts.tolist() == [4, 3, 5]
    _assert_valid(d, 12)

    # Default image folder: the CSV's own folder.
    local_csv = images / "labels.csv"
    local_csv.write_text(labels_csv.read_text())
    assert load_data(local_csv, size=12, cache_dir=tmp_path / "cache").fingerprint == d.fingerprint


def test_digits_embedded_default():
    d = load_data(size=16)
    assert d.source == "digits (embedded)" and d.classes == tuple(str(i) for i in range(10))
    assert len(d.train_labels) + len(d.val_labels) == 1797
    _assert_valid(d, 16)
    every = torch.cat([d.train_labels, d.val_labels]).bincount()
    expected_val = torch.floor(every * 0.2 + 0.5).long()  # round(n * 0.2) per class
    assert torch.equal(d.val_labels.bincount(), expected_val)
    assert abs(len(d.val_labels) - 0.2 * 1797) < 5
    assert d.train_images.max() == 255 and d.train_images.min() == 0
    assert torch.equal(d.train_images[:, 0], d.train_images[:, 2])  # grey, replicated to three channels

    again = load_data(size=16)
    other = load_data(size=16, split_seed=43)
    assert torch.equal(again.val_images, d.val_images) and again.fingerprint == d.fingerprint
    assert not torch.equal(other.val_labels, d.val_labels) and other.fingerprint != d.fingerprint
    assert load_data(size=8).train_images.shape[1:] == (3, 8, 8)


def test_stratified_split_by_hand():
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2, 2])
    train, val = stratified_split(labels, 0.2, seed=0)
    # class 0: round(1.0) = 1; class 1: round(0.4) = 0, raised to 1; class 2: round(0.6) = 1
    assert len(val) == 3 and sorted(labels[val].tolist()) == [0, 1, 2]
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(10))
    assert np.array_equal(val, stratified_split(labels, 0.2, seed=0)[1])
    assert len(stratified_split(np.array([5, 5]), 0.9, seed=0)[0]) == 1  # at most n - 1 in val
    with pytest.raises(DataError, match="class 3"):
        stratified_split(np.array([1, 1, 3]), 0.2, seed=0)


# --- decoding --------------------------------------------------------------------------------------------------


def _solid(mode: str, value, size=(13, 9)) -> Image.Image:
    if mode == "P":
        img = Image.new("P", size, 1)
        img.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
        return img
    if mode == "I;16":
        return Image.fromarray(np.full(size[::-1], value, np.uint16))
    return Image.new(mode, size, value)


@pytest.mark.parametrize("mode, value, ext, rgb, tol", [
    ("L", 100, ".png", (100, 100, 100), 0),
    ("LA", (77, 10), ".png", (77, 77, 77), 0),
    ("RGB", (10, 200, 30), ".png", (10, 200, 30), 0),
    ("RGBA", (10, 200, 30, 0), ".png", (10, 200, 30), 0),
    ("P", None, ".png", (200, 100, 50), 0),
    ("P", None, ".gif", (200, 100, 50), 0),
    ("RGB", (10, 200, 30), ".jpg", (10, 200, 30), 3),
    ("L", 100, ".jpeg", (100, 100, 100), 2),
    ("CMYK", (0, 0, 0, 0), ".jpg", (255, 255, 255), 2),
    ("RGB", (10, 200, 30), ".bmp", (10, 200, 30), 0),
    ("RGB", (10, 200, 30), ".tif", (10, 200, 30), 0),
    ("I;16", 65535, ".png", (255, 255, 255), 0),  # 16-bit: scaled to 8 bits, not clipped
    ("I;16", 257 * 100, ".png", (100, 100, 100), 0),
    ("I;16", 255, ".png", (1, 1, 1), 0),  # PIL's own conversion would clip this to 255
])
def test_decode_any_mode_to_rgb(tmp_path, mode, value, ext, rgb, tol):
    file = tmp_path / f"solid{ext}"
    _solid(mode, value).save(file)
    pixels = data._decode_image(file, 8)
    assert pixels.shape == (8, 8, 3) and pixels.dtype == np.uint8
    assert np.abs(pixels.astype(int) - np.array(rgb)).max() <= tol


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_decode_webp(tmp_path):
    _solid("RGB", (10, 200, 30)).save(tmp_path / "x.webp", lossless=True)
    assert data._decode_image(tmp_path / "x.webp", 4)[0, 0].tolist() == [10, 200, 30]


def test_sixteen_bit_png_end_to_end(tmp_path):
    root = tmp_path / "scans"
    for name, value in (("bright", 65535), ("dark", 0)):
        for i in range(2):  # two distinct pictures: a solid one and one half the other extreme
            pixels = np.full((8, 12), value, np.uint16)
            pixels[: 4 * i] = 65535 - value
            Image.fromarray(pixels).save(_write(root / name / f"{i}.png"))
    d = load_data(root, size=4, val_fraction=0.5, cache_dir=tmp_path / "cache")
    bright = torch.cat([d.train_images[d.train_labels == 0], d.val_images[d.val_labels == 0]])
    assert any((image == 255).all() for image in bright)  # 16 bits scaled to 8: 65535 -> 255, not clipped


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :10] = (255, 0, 0)  # left half red, right half blue
    pixels[:, 10:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "phone.png", exif=exif.tobytes())
    upright = data._decode_image(tmp_path / "phone.png", 8)
    assert upright[0, 4].tolist() == [255, 0, 0] and upright[7, 4].tolist() == [0, 0, 255]


# --- errors ----------------------------------------------------------------------------------------------------


def _bad_jpeg(root: Path) -> Path:
    _tree(root, {"a": 2, "b": 2})
    (root / "b" / "broken.jpg").write_bytes(b"this is not a jpeg")
    return root / "b" / "broken.jpg"


def _truncated_jpeg(root: Path) -> Path:
    _tree(root, {"a": 2, "b": 2})
    file = root / "a" / "cut.jpg"
    Image.fromarray(_smooth_rgb(0, 64, 64)).save(file, quality=95)
    file.write_bytes(file.read_bytes()[:400])
    return file


def _csv(root: Path, text: str, files: tuple[str, ...] = ()) -> Path:
    for seed, name in enumerate(files):
        _write(root / name, seed=seed)
    (root / "labels.csv").write_text(text)
    return root / "labels.csv"


# Each case builds a bad input under root and returns (load_data arguments, the name the message must contain).
BAD_INPUTS = {
    "missing path": lambda root: ((root / "nowhere",), "nowhere"),
    "not a folder or csv": lambda root: ((_write(root / "photo.png"),), "photo.png"),
    "no classes": lambda root: ((root,), root.name),
    "empty class": lambda root: ((_tree(root, {"a": 2}), (root / "b").mkdir(), (root / "b" / "x.txt").touch())[0:1],
                                 str(root / "b")),
    "one class": lambda root: ((_tree(root, {"only": 3}),), root.name),
    "corrupt image": lambda root: ((_bad_jpeg(root).parents[1],), "broken.jpg"),
    "truncated image": lambda root: ((_truncated_jpeg(root).parents[1],), "cut.jpg"),
    "class too small": lambda root: ((_tree(root, {"a": 3, "lonely": 1}),), "lonely"),
    "val class not in train": lambda root: ((_tree(root / "train", {"a": 2, "b": 2}) and
                                             _tree(root / "val", {"a": 1, "ghost": 1}, seed=1000) and root,),
                                            "ghost"),
    "train without val": lambda root: ((_tree(root / "train", {"a": 2, "b": 2}) and root,), root.name),
    "image folder with a tree": lambda root: ((_tree(root, {"a": 2, "b": 2}), root / "elsewhere"), "elsewhere"),
    "csv names a missing file": lambda root: ((_csv(root, "filename,label\na.png,x\nb.png,y\ngone.png,y\n",
                                                    ("a.png", "b.png")),), "gone.png"),
    "csv without columns": lambda root: ((_csv(root, "file,class\na.png,x\n", ("a.png",)),), "labels.csv"),
    "empty csv": lambda root: ((_csv(root, ""),), "labels.csv"),
    "csv header only": lambda root: ((_csv(root, "filename,label\n"),), "labels.csv"),
    "csv class too small": lambda root: ((_csv(root, "filename,label\na.png,x\nb.png,x\nc.png,y\n",
                                               ("a.png", "b.png", "c.png")),), "labels.csv"),
    "csv image folder missing": lambda root: ((_csv(root, "filename,label\na.png,x\n"), root / "pics"), "pics"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_culprit(tmp_path, case):
    root = tmp_path / "data"
    root.mkdir()
    args, name = BAD_INPUTS[case](root)
    with pytest.raises(DataError) as caught:
        load_data(*args, size=8, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert name in message, message
    assert "\n" not in message and len(message) < 400


# --- the cache -------------------------------------------------------------------------------------------------


def test_cache_second_load_decodes_nothing(tmp_path, monkeypatch):
    root = _tree(tmp_path / "data", {"a": 4, "b": 4}, ext=".jpg")
    cache = tmp_path / "cache"
    calls = _counting_decoder(monkeypatch)
    first = load_data(root, size=16, cache_dir=cache)
    assert len(calls) == 8
    second = load_data(root, size=16, cache_dir=cache)
    resplit = load_data(root, size=16, split_seed=1, cache_dir=cache)
    assert len(calls) == 8  # neither the second load nor a new split decodes anything
    assert second.fingerprint == first.fingerprint != resplit.fingerprint
    for name in ("train_images", "train_labels", "val_images", "val_labels"):
        assert torch.equal(getattr(first, name), getattr(second, name))
    assert [p.suffix for p in cache.iterdir()] == [".pt"]  # one file, no temporary left behind

    load_data(root, size=24, cache_dir=cache)  # another stored size is another entry
    assert len(calls) == 16

    _write(root / "a" / "img0.jpg", seed=999)  # changed content, same name
    changed = load_data(root, size=16, cache_dir=cache)
    assert changed.fingerprint != first.fingerprint and len(calls) == 24


def test_damaged_cache_is_a_miss(tmp_path, monkeypatch):
    root = _tree(tmp_path / "data", {"a": 2, "b": 2})
    cache = tmp_path / "cache"
    first = load_data(root, size=8, cache_dir=cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"garbage")
    calls = _counting_decoder(monkeypatch)
    again = load_data(root, size=8, cache_dir=cache)
    assert len(calls) == 4 and torch.equal(again.train_images, first.train_images)


def test_unwritable_cache_warns_and_still_loads(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="not-a-folder"):
        d = load_data(_tree(tmp_path / "data", {"a": 2, "b": 2}), size=8, cache_dir=blocker)
    assert len(d.train_labels) + len(d.val_labels) == 4


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ABLATION_CACHE", str(tmp_path / "from-env"))
    load_data(_tree(tmp_path / "data", {"a": 2, "b": 2}), size=8)
    assert len(list((tmp_path / "from-env").glob("*.pt"))) == 1


# --- augmentation ----------------------------------------------------------------------------------------------


def _ramp(size: int = 16, batch: int = 1) -> torch.Tensor:
    """uint8 images whose every channel equals 10 * column index."""
    return (torch.arange(size) * 10).to(torch.uint8).expand(batch, 3, size, size).contiguous()


def test_train_views_shape_dtype_and_normalisation():
    images = torch.full((4, 3, 20, 20), 77, dtype=torch.uint8)
    views = train_views(images, torch.Generator().manual_seed(0))
    assert views.shape == (4, 3, 20, 20) and views.dtype == torch.float32 and views.device == images.device
    assert torch.allclose(views, _normalised(images), atol=1e-5)  # a constant image stays constant


def test_train_views_each_image_its_own_crop_and_reproducible():
    images = torch.from_numpy(_smooth_rgb(3, 32, 32)).permute(2, 0, 1).expand(2, 3, 32, 32).contiguous()
    views = train_views(images, torch.Generator().manual_seed(5))
    assert not torch.allclose(views[0], views[1])
    assert torch.equal(views, train_views(images, torch.Generator().manual_seed(5)))
    assert not torch.equal(views, train_views(images, torch.Generator().manual_seed(6)))


def test_crop_geometry_matches_the_drawn_boxes():
    size = 16
    images = _ramp(size, batch=64)
    views = train_views(images, torch.Generator().manual_seed(11))
    boxes, flips = crop_boxes(64, size, size, torch.Generator().manual_seed(11))
    x0, y0, w, h = boxes.unbind(1)
    area, ratio = w * h / size**2, w / h
    assert ((area >= 0.7 - 1e-5) & (area <= 1 + 1e-5)).all()
    assert ((ratio >= 3 / 4 - 1e-5) & (ratio <= 4 / 3 + 1e-5)).all()
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x0 + w <= size + 1e-4).all() and (y0 + h <= size + 1e-4).all()
    assert flips.any() and not flips.all()

    # Bilinear sampling of a linear ramp is exact: output column j samples input column x0 + (j + 0.5) w / S - 0.5
    # (clamped at the border), mirrored when flipped.
    pixels = (views * STD + MEAN) * 255
    j = torch.arange(size).float()
    column = (x0[:, None] + (j + 0.5) * w[:, None] / size - 0.5).clamp(0, size - 1)
    column = torch.where(flips[:, None], column.flip(1), column)
    expected = (10 * column)[:, None, None, :].expand_as(pixels)
    assert torch.allclose(pixels, expected, atol=1e-2)


def test_flip_actually_flips_some_images():
    images = torch.from_numpy(_smooth_rgb(4, 16, 16)).permute(2, 0, 1).expand(32, 3, 16, 16).contiguous()
    # scale (1, 1): no draw fits a 3/4..4/3 ratio except 1, so every crop is the whole image (torchvision's fallback).
    views = train_views(images, torch.Generator().manual_seed(0), scale=(1.0, 1.0))
    plain = val_views(images[:1])
    same = [torch.allclose(v, plain[0], atol=1e-4) for v in views]
    mirrored = [torch.allclose(v, plain[0].flip(-1), atol=1e-4) for v in views]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 0 < sum(mirrored) < 32
    unflipped = train_views(images, torch.Generator().manual_seed(0), scale=(1.0, 1.0), flip=False)
    assert torch.allclose(unflipped, plain.expand_as(unflipped), atol=1e-4)


def test_val_views_deterministic_normalisation():
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    views = val_views(images)
    assert torch.equal(views, val_views(images))
    assert torch.allclose(views, _normalised(images), atol=1e-5)
    with pytest.raises(ValueError):
        val_views(images.float())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_train_views_same_on_cpu_and_gpu():
    images = torch.from_numpy(_smooth_rgb(7, 32, 32)).permute(2, 0, 1).expand(8, 3, 32, 32).contiguous()
    on_cpu = train_views(images, torch.Generator().manual_seed(1))
    on_gpu = train_views(images.cuda(), torch.Generator().manual_seed(1))
    assert on_gpu.device.type == "cuda"
    assert torch.allclose(on_cpu, on_gpu.cpu(), atol=1e-3)
