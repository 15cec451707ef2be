#!/usr/bin/env python3
"""Tests of compatgen on saved small samples of the upstream listings
(compat/gen/testdata), and a check that the committed compat/data is exactly
what `compatgen.py reference` makes from Cog's reference JSON (skipped when
../shared/reference/cog is absent).  Run: python3 compat/gen/test_compatgen.py"""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import compatgen  # noqa: E402

TD = os.path.join(HERE, "testdata")


def read(name):
    with open(os.path.join(TD, name), encoding="utf-8") as f:
        return f.read()


def reference_dir():
    for d in (os.path.join(ROOT, "..", "shared", "reference", "cog"), "/work/shared/reference/cog"):
        if os.path.isfile(os.path.join(d, "torch_compatibility.json")):
            return d
    return None


class Samples(unittest.TestCase):
    def test_torch(self):
        rows = compatgen.torch_rows(read("previous-versions.html"), read("torch-index.html"))
        self.assertEqual(compatgen.torch_rows_tsv(rows), read("expected-torch.tsv"))
        keys = {r[0] for r in rows}
        self.assertNotIn("2.1.0+rocm5.6", keys, "ROCm builds are left out")
        self.assertIn("2.1.0+cu121", keys)
        row = [r for r in rows if r[0] == "2.1.0+cu121"][0]
        self.assertEqual(row[4], "https://download.pytorch.org/whl/cu121/")
        self.assertEqual(row[5], "12.1")
        self.assertEqual(row[6], "3.10,3.11", "Pythons from the linux x86_64 wheels")

    def test_tf(self):
        rows = compatgen.tf_rows(read("tf-tested-builds.html"))
        self.assertEqual(compatgen.tf_rows_tsv(rows), read("expected-tf.tsv"))
        self.assertNotIn("1.15.0", [r[0] for r in rows], "CUDA 10 rows are left out")

    def test_cuda(self):
        tags = compatgen.cuda_tags(read("cuda-tags.json")) + compatgen.cuda_tags(read("cuda-tags.txt"))
        out = compatgen.cuda_rows_tsv(compatgen.cuda_rows(tags))
        self.assertEqual(out, read("expected-cuda.tsv"))
        self.assertNotIn("runtime", out)
        self.assertNotIn("10.2", out)

    def test_cuda_pages_followed(self):
        pages = {
            "https://hub/tags?page=1": '{"next": "https://hub/tags?page=2", "results": [{"name": "12.1.1-cudnn8-devel-ubuntu22.04"}]}',
            "https://hub/tags?page=2": '{"next": "https://hub/tags?page=1", "results": [{"name": "11.8.0-cudnn8-devel-ubuntu22.04"}]}',
        }
        saved = compatgen.read
        compatgen.read = lambda src: pages[src]
        try:
            tags = compatgen.cuda_tags_from("https://hub/tags?page=1")
        finally:
            compatgen.read = saved
        self.assertEqual(tags, ["12.1.1-cudnn8-devel-ubuntu22.04", "11.8.0-cudnn8-devel-ubuntu22.04"],
                         "next followed, a loop stops")

    def test_helpers(self):
        self.assertEqual(compatgen.python_range("2.7, 3.3-3.5"), ["3.3", "3.4", "3.5"])
        self.assertEqual(compatgen.python_range("3.9-3.11"), ["3.9", "3.10", "3.11"])
        self.assertLess(compatgen.vkey("2.9.1"), compatgen.vkey("2.10.0"))
        self.assertEqual(compatgen.field(None), "-")
        with self.assertRaises(ValueError):
            compatgen.field("a\tb")
        self.assertEqual(compatgen.cuda_of_index("https://download.pytorch.org/whl/cu118"), "11.8")
        self.assertIsNone(compatgen.cuda_of_index("https://download.pytorch.org/whl/cpu"))


class Reference(unittest.TestCase):
    def test_committed_data_is_generated(self):
        ref = reference_dir()
        if not ref:
            self.skipTest("../shared/reference/cog is absent")
        with tempfile.TemporaryDirectory() as out:
            compatgen.from_reference(ref, out)
            for name in ("torch.tsv", "tf.tsv", "cuda.tsv"):
                with open(os.path.join(out, name)) as a, \
                        open(os.path.join(ROOT, "compat", "data", name)) as b:
                    self.assertEqual(a.read(), b.read(), name + " differs from the generator's output")


if __name__ == "__main__":
    unittest.main()
