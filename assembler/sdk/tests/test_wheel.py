"""The wheel: deterministic, valid (METADATA, WHEEL, RECORD hashes), and
installable offline into a fresh venv where `pip show cog` reports it."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

from helpers import EXPECTED, PREDICTORS, SDK

HOST_PYTHON = os.environ.get("SDK_VENV_PYTHON", "/usr/bin/python3")
REPO = os.path.dirname(os.path.dirname(SDK))


def build(out, pinion_version="0.1.0"):
    name_file = out + ".name"
    subprocess.run([sys.executable, os.path.join(SDK, "build_wheel.py"), "--out", out,
                    "--name-file", name_file, "--pinion-version", pinion_version],
                   check=True, timeout=60)
    with open(name_file) as f:
        return f.read().strip()


class TestWheel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sdk-wheel-")
        cls.whl = os.path.join(cls.tmp, "a.whl")
        cls.name = build(cls.whl)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_deterministic(self):
        """two builds give byte-identical wheels"""
        other = os.path.join(self.tmp, "b.whl")
        build(other)
        with open(self.whl, "rb") as f, open(other, "rb") as g:
            self.assertEqual(f.read(), g.read())

    def test_name_and_version(self):
        """named cog-<cog api>+pinion.<pinion>-py3-none-any.whl"""
        from cog import _version
        self.assertEqual(self.name, "cog-%s+pinion.0.1.0-py3-none-any.whl" %
                         _version.COG_API_VERSION)
        self.assertTrue(_version.COG_API_VERSION.startswith("0.16."))

    def test_record(self):
        """RECORD lists every file with its sha256 and size; METADATA and WHEEL are right"""
        with zipfile.ZipFile(self.whl) as z:
            names = z.namelist()
            dist = [n for n in names if n.endswith(".dist-info/RECORD")][0].rsplit("/", 1)[0]
            rows = [r.split(",") for r in z.read(dist + "/RECORD").decode().splitlines()]
            listed = {r[0] for r in rows}
            self.assertEqual(listed, set(names))
            for path, digest, size in rows:
                if path.endswith("RECORD"):
                    self.assertEqual((digest, size), ("", ""))
                    continue
                data = z.read(path)
                want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                self.assertEqual(digest, "sha256=" + want.decode(), path)
                self.assertEqual(int(size), len(data), path)
            meta = z.read(dist + "/METADATA").decode()
            self.assertIn("Name: cog\n", meta)
            self.assertIn("Version: 0.16.", meta)
            self.assertIn("pinion 0.1.0", meta)
            self.assertIn("Tag: py3-none-any", z.read(dist + "/WHEEL").decode())
            self.assertIn("cog/server/http.py", names)
            self.assertIn("cog/command/openapi_schema.py", names)
            self.assertFalse([n for n in names if "__pycache__" in n or "/tests/" in n])
            ver = z.read("cog/_version.py").decode()
            self.assertIn('PINION_VERSION = "0.1.0"', ver)
            for info in z.infolist():
                self.assertEqual(info.date_time, (1980, 1, 1, 0, 0, 0))

    def test_built_by_make(self):
        """the wheel make embedded ($PINION_BUILD/sdk/cog.whl) is this wheel"""
        built = os.path.join(REPO, os.environ.get("PINION_BUILD", "build"), "sdk", "cog.whl")
        if not os.path.exists(built):
            self.skipTest("no wheel built by make at %s" % built)
        newest = max(os.path.getmtime(os.path.join(r, f))
                     for r, _, fs in os.walk(os.path.join(SDK, "cog")) for f in fs
                     if f.endswith(".py"))
        if os.path.getmtime(built) < newest:
            self.skipTest("the wheel at %s is older than the sources (run make)" % built)
        with open(built + ".name") as f:
            name = f.read().strip()
        pv = name.split("+pinion.", 1)[1].split("-", 1)[0]
        fresh = os.path.join(self.tmp, "fresh.whl")
        build(fresh, pv)
        with open(built, "rb") as f, open(fresh, "rb") as g:
            self.assertEqual(f.read(), g.read())

    def test_venv_install(self):
        """pip install --no-index into a fresh venv; pip show, pip freeze and the schema work"""
        venv = os.path.join(self.tmp, "venv")
        subprocess.run([HOST_PYTHON, "-m", "venv", venv], check=True, timeout=120)
        whl = os.path.join(self.tmp, self.name)
        shutil.copy(self.whl, whl)
        py = os.path.join(venv, "bin", "python")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL")}
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", whl], check=True,
                       timeout=120, env=env)
        show = subprocess.run([py, "-m", "pip", "show", "cog"], capture_output=True, text=True,
                              timeout=60, env=env)
        self.assertEqual(show.returncode, 0, show.stderr)
        self.assertIn("Name: cog", show.stdout)
        self.assertIn("Version: 0.16.", show.stdout)
        freeze = subprocess.run([py, "-m", "pip", "freeze"], capture_output=True, text=True,
                                timeout=60, env=env)
        self.assertIn("cog", freeze.stdout)
        env["COG_PREDICT_TYPE_STUB"] = os.path.join(PREDICTORS, "reference_example.py:Predictor")
        out = subprocess.run([py, "-m", "cog.command.openapi_schema"], capture_output=True,
                             timeout=60, env=env, cwd=self.tmp)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(os.path.join(EXPECTED, "reference_example.full.json")) as f:
            self.assertEqual(json.loads(out.stdout), json.load(f))
        loc = subprocess.run([py, "-c", "import cog; print(cog.__file__, cog.__version__)"],
                             capture_output=True, text=True, timeout=60, env=env, cwd=self.tmp)
        self.assertIn(venv, loc.stdout)


if __name__ == "__main__":
    unittest.main()


class TestSource(unittest.TestCase):
    def test_python310_grammar(self):
        """every module parses with Python 3.10's grammar and imports only the stdlib"""
        import ast
        stdlib = set(sys.stdlib_module_names) | {"cog"}
        for root, _, files in os.walk(os.path.join(SDK, "cog")):
            for f in files:
                if not f.endswith(".py"):
                    continue
                path = os.path.join(root, f)
                with open(path) as fh:
                    tree = ast.parse(fh.read(), path, feature_version=(3, 10))
                for node in ast.walk(tree):
                    mods = []
                    if isinstance(node, ast.Import):
                        mods = [a.name for a in node.names]
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        mods = [node.module]
                    for m in mods:
                        self.assertIn(m.split(".")[0], stdlib, "%s imports %s" % (path, m))
