"""PNG images for the bundled digits model, as a client would upload them (examples/digits/ at the
repository's top: inside models/ the server would take a folder for a model).

The first holdout row of each digit 0-9 (models/digits/holdout.json: scikit-learn's own 8x8 images,
pixel values 0..16) rendered as an 8x8 gray PNG whose pixel is the value x 15 (0..240). The digits
model.json preprocesses PNGs with scale 1/15, so a PNG asks exactly what its row of values asks.

Run with Debian's interpreter: /usr/bin/python3 models/build_examples.py (needs python3-pil).
PNG is lossless and written without timestamps, so a rebuild writes the same bytes.
"""
import json
import os

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    with open(os.path.join(HERE, "digits", "holdout.json")) as f:
        holdout = json.load(f)
    out = os.path.join(os.path.dirname(HERE), "examples", "digits")
    os.makedirs(out, exist_ok=True)
    for digit in map(str, range(10)):
        row = holdout["rows"][holdout["targets"].index(digit)]
        image = Image.new("L", (8, 8))
        image.putdata([int(v) * 15 for v in row])
        path = os.path.join(out, f"digit_{digit}.png")
        image.save(path, optimize=False)
        print(path)


if __name__ == "__main__":
    main()
