"""cog.command.call_graph: the models a pipeline uses (the source of the
run.cog.r8_model_dependencies label, Cog 0.16's build_model_dependencies),
read statically."""

import os
import subprocess
import sys
import tempfile
import unittest

from cog.command.call_graph import uses
from helpers import SDK


class TestCallGraph(unittest.TestCase):
    def test_none(self):
        self.assertEqual(uses("from cog import BasePredictor\n"), [])

    def test_import_forms_in_source_order(self):
        src = ("import replicate\nimport replicate as r\nfrom replicate import use\n"
               "a = use('owner/first')\nb = replicate.use('owner/second')\n"
               "c = r.use('owner/third')\n")
        self.assertEqual(uses(src), ["owner/first", "owner/second", "owner/third"])

    def test_other_use_ignored(self):
        self.assertEqual(uses("def use(x): pass\nuse('a/b')\n"), [])

    def test_not_top_level(self):
        for src in ("from replicate import use\ndef f():\n    use('a/b')\n",
                    "import replicate\nclass C:\n    x = replicate.use('a/b')\n",
                    "from replicate import use\nf = lambda: use('a/b')\n"):
            with self.assertRaises(ValueError):
                uses(src)

    def test_not_a_literal(self):
        with self.assertRaises(ValueError):
            uses("from replicate import use\nname = 'a/b'\nuse(name)\n")

    def test_command(self):
        with tempfile.TemporaryDirectory() as d:
            f = os.path.join(d, "predict.py")
            env = dict(os.environ, PYTHONPATH=SDK)
            cmd = [sys.executable, "-m", "cog.command.call_graph", f]
            with open(f, "w") as fh:
                fh.write("from replicate import use\nA = use('a/b')\nB = use('c/d')\n")
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual((r.returncode, r.stdout), (0, "a/b,c/d\n"))
            with open(f, "w") as fh:
                fh.write("from replicate import use\ndef f():\n    use('a/b')\n")
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertTrue(r.stderr.startswith("cog: "), r.stderr)


if __name__ == "__main__":
    unittest.main()
