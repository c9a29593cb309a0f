#!/usr/bin/env python3
"""Writes the PIL goldens of tests/image_transforms_test.cpp (run once; the outputs are
committed, the C++ build and tests never need Python):

    /usr/bin/python3 tests/golden/make_image_transforms_golden.py

Needs Debian's python3-pil (Pillow 9.4) and python3-numpy. torchvision is not installed, so
the few lines of torchvision the transforms use are reproduced below from its source
(torchvision/transforms/functional.py and functional_pil.py): they only decide sizes and
offsets and call PIL, which does the pixel work.

Inputs: the lossless fixtures of tests/fixtures/images (smooth.png, pattern_rgba.png with
its alpha dropped as .convert("RGB") does, and baseline.pil.png, gray.pil.png: PIL's own
decodes of the JPEG fixtures, so both sides start from the same pixels) and input_tall.png,
the pattern rotated to 40x30 (height > width), written here.

Outputs in tests/golden/image_transforms/:
  cases.txt      one line per golden image: <op> <input> <arg1> <arg2> <file>
                 (arg2 is "-" for one-argument ops; floats in Python's repr, which
                 std::stod reads back to the same double), and one line per checksum:
                 checksum <op> <factor> <hex>
  *.png          the PIL outputs (RGB)

The checksums cover every 24-bit colour: the "cube" image is 4096 x 4096 with pixel number
i = y * 4096 + x holding (i >> 16, (i >> 8) & 255, i & 255); the checksum of an output is
sum over its pixels i of (R_i | G_i << 8 | B_i << 16) * (splitmix64(i) | 1) mod 2^64
(splitmix64: Steele et al.'s finaliser of i + 0x9E3779B97F4A7C15). A changed pixel changes
its packed value by some 0 < |delta| < 2^24, and delta times an odd weight is never 0 mod
2^64; mixed weights keep a systematic error (one wrong table entry, repeated over a regular
subset of the cube) from cancelling out.
"""
import os

import numpy as np
from PIL import Image, ImageEnhance

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "images")
OUT = os.path.join(HERE, "image_transforms")


def load(name):
    if name == "tall":
        return Image.open(os.path.join(OUT, "input_tall.png")).convert("RGB")
    files = {"smooth": "smooth.png", "pattern": "pattern_rgba.png", "baseline": "baseline.pil.png",
             "gray": "gray.pil.png"}
    return Image.open(os.path.join(FIXTURES, files[name])).convert("RGB")


# ---- torchvision on PIL images (torchvision 0.14 functional.py / functional_pil.py) ----

def tv_resize(img, h, w):
    # F.resize -> F_pil.resize -> img.resize(size[::-1], BILINEAR)
    return img.resize((w, h), Image.BILINEAR)


def tv_resize_shorter(img, size):
    # F.resize with an int: _compute_resized_output_size, then no-op if the size is unchanged.
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short == size:
        return img
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return img.resize((new_w, new_h), Image.BILINEAR)


def tv_center_crop(img, crop_height, crop_width):
    # F.center_crop: pad with 0 (padding_ltrb) when the crop is larger, then crop at round().
    image_width, image_height = img.size
    if crop_width > image_width or crop_height > image_height:
        left = (crop_width - image_width) // 2 if crop_width > image_width else 0
        top = (crop_height - image_height) // 2 if crop_height > image_height else 0
        right = (crop_width - image_width + 1) // 2 if crop_width > image_width else 0
        bottom = (crop_height - image_height + 1) // 2 if crop_height > image_height else 0
        padded = Image.new("RGB", (image_width + left + right, image_height + top + bottom), 0)
        padded.paste(img, (left, top))  # = ImageOps.expand(img, border, fill=0), F_pil.pad's constant mode
        img = padded
        image_width, image_height = img.size
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return img.crop((crop_left, crop_top, crop_left + crop_width, crop_top + crop_height))


def tv_adjust_brightness(img, f):
    return ImageEnhance.Brightness(img).enhance(f)


def tv_adjust_contrast(img, f):
    return ImageEnhance.Contrast(img).enhance(f)


def tv_adjust_saturation(img, f):
    return ImageEnhance.Color(img).enhance(f)


def tv_adjust_hue(img, hue_factor):
    # F_pil.adjust_hue
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    with np.errstate(over="ignore"):
        np_h += np.uint8(hue_factor * 255)
    h = Image.fromarray(np_h, "L")
    return Image.merge("HSV", (h, s, v)).convert("RGB")


COLOUR = {"brightness": tv_adjust_brightness, "contrast": tv_adjust_contrast,
          "saturation": tv_adjust_saturation, "hue": tv_adjust_hue}


# ---- cases ------------------------------------------------------------------------------

RESIZE = {
    # down x2, odd, 1 pixel, 1-pixel rows/columns, slight up, up, x3 up, mixed up/down
    "smooth": [(15, 20), (7, 13), (1, 1), (1, 40), (30, 1), (29, 41), (47, 61), (90, 120), (11, 100), (3, 2)],
    "pattern": [(15, 20), (7, 13), (1, 1), (1, 40), (30, 1), (29, 41), (47, 61), (90, 120), (11, 100), (3, 2)],
    "baseline": [(15, 20), (47, 61)],
    "gray": [(13, 7)],
    "tall": [(10, 10), (57, 19)],
}
RESIZE_SHORTER = {"smooth": [16, 30, 45, 7, 1], "tall": [16, 30, 45]}
CENTER_CROP = {
    # even and odd margins ((n - c) = 1, 3, 5: Python's half-to-even round), no-op, padding on
    # both axes (even, odd), padding on one axis only, 1 pixel
    "smooth": [(20, 30), (29, 39), (27, 35), (30, 40), (36, 50), (33, 47), (20, 45), (45, 20), (1, 1)],
    "pattern": [(27, 35), (33, 47), (20, 45), (45, 20), (1, 1)],
    "tall": [(25, 21)],
}
FACTORS = {
    "brightness": [0.0, 0.35, 1.6],
    "contrast": [0.0, 0.4, 1.7],
    "saturation": [0.0, 0.5, 1.8],
    "hue": [-0.5, -0.3, -0.01, 0.0, 0.15, 0.5],
}
COLOUR_INPUTS = ["smooth", "pattern"]
CUBE_FACTORS = {  # brightness / contrast are byte tables: one factor each is enough there
    "brightness": [1.6],
    "contrast": [0.4],
    "saturation": [0.0, 1.8],
    "hue": [-0.3, 0.5],
}


def cube():
    i = np.arange(4096 * 4096, dtype=np.uint32)
    rgb = np.stack([(i >> 16) & 255, (i >> 8) & 255, i & 255], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb.reshape(4096, 4096, 3), "RGB")


def splitmix64(k):
    z = k + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def checksum(img):
    a = np.asarray(img, dtype=np.uint8).reshape(-1, 3).astype(np.uint64)
    packed = a[:, 0] | (a[:, 1] << np.uint64(8)) | (a[:, 2] << np.uint64(16))
    total = np.uint64(0)
    chunk = 1 << 22
    with np.errstate(over="ignore"):
        for start in range(0, packed.size, chunk):
            i = np.arange(start, min(start + chunk, packed.size), dtype=np.uint64)
            w = splitmix64(i) | np.uint64(1)
            total = total + np.sum(packed[start:start + chunk] * w, dtype=np.uint64)
    return int(total)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.endswith(".png") or name == "cases.txt":
            os.remove(os.path.join(OUT, name))
    load("pattern").transpose(Image.Transpose.ROTATE_90).save(os.path.join(OUT, "input_tall.png"))

    lines = ["# made by tests/golden/make_image_transforms_golden.py with Pillow " + Image.__version__,
             "# op input arg1 arg2 file | checksum op factor hex"]

    def emit(op, inp, a, b, img):
        fname = f"{op}_{inp}_{a}_{b}.png".replace("-", "m") if b != "-" else f"{op}_{inp}_{a}.png".replace("-", "m")
        img.save(os.path.join(OUT, fname))
        lines.append(f"{op} {inp} {a} {b} {fname}")

    for inp, sizes in RESIZE.items():
        for h, w in sizes:
            emit("resize", inp, h, w, tv_resize(load(inp), h, w))
    for inp, sizes in RESIZE_SHORTER.items():
        for s in sizes:
            emit("resize_shorter", inp, s, "-", tv_resize_shorter(load(inp), s))
    for inp, sizes in CENTER_CROP.items():
        for h, w in sizes:
            emit("center_crop", inp, h, w, tv_center_crop(load(inp), h, w))
    for op, factors in FACTORS.items():
        for inp in COLOUR_INPUTS:
            for f in factors:
                emit(op, inp, repr(f), "-", COLOUR[op](load(inp), f))

    c = cube()
    for op, factors in CUBE_FACTORS.items():
        for f in factors:
            lines.append(f"checksum {op} {f!r} {checksum(COLOUR[op](c, f)):016x}")

    with open(os.path.join(OUT, "cases.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
