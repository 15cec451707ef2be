"""The OpenAPI schema of many predictor shapes, against expected JSON written
by Cog's rules, read statically and by importing."""

import json
import os
import unittest

from helpers import EXPECTED, PREDICTORS, schema

FIXED = {"HTTPValidationError", "Status", "ValidationError", "WebhookEvent",
         "PredictionRequest", "PredictionResponse"}
# ../shared beside the checkout (as CI lays it out), else the usual place
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
REFERENCE = next((d for d in (os.path.join(_ROOT, "..", "shared", "reference", "cog", "schema-example"),
                              "/work/shared/reference/cog/schema-example") if os.path.isdir(d)),
                 "/work/shared/reference/cog/schema-example")

# expected file -> (predict ref, train ref)
CASES = {
    "scalars": ("scalars.py:Predictor", None),
    "defaults": ("defaults.py:Predictor", None),
    "constraints": ("constraints.py:Predictor", None),
    "choices": ("choices.py:Predictor", None),
    "optional": ("optional.py:Predictor", None),
    "lists": ("lists.py:Predictor", None),
    "files": ("files.py:Predictor", None),
    "secret_inputs": ("secret_inputs.py:Predictor", None),
    "iterator": ("iterator.py:Predictor", None),
    "concatenate": ("concatenate.py:Predictor", None),
    "structured": ("structured.py:Predictor", None),
    "structured_named": ("structured_named.py:Predictor", None),
    "training": ("training.py:Predictor", "training.py:Predictor"),
    "train_function": ("train_function.py:predict", "train_function.py:train"),
    "no_inputs": ("no_inputs.py:Predictor", None),
    "dynamic": ("dynamic.py:Predictor", None),
    "literal": ("literal.py:Predictor", None),
    "unions": ("unions.py:Several", None),
    "optional_fields": ("optional_fields.py:Predictor", None),
    "runner": ("runner.py:Runner", None),
    "secret_optional": ("secret_optional.py:Predictor", None),
    "dict_inputs": ("dict_inputs.py:Several", None),
    "optional_no_default": ("optional_no_default.py:Predictor", None),
    "accept_mime_type": ("accept_mime_type.py:Predictor", None),
}


def load(name):
    with open(os.path.join(EXPECTED, name + ".json")) as f:
        return json.load(f)


class TestReference(unittest.TestCase):
    def setUp(self):
        self.want = load("reference_example.full")

    def test_reference_static(self):
        """reference example: identical to Cog's schema (static reading)"""
        self.assertEqual(schema("reference_example.py:Predictor"), self.want)

    def test_reference_import(self):
        """reference example: identical to Cog's schema (import reading)"""
        self.assertEqual(schema("reference_example.py:Predictor", COG_SCHEMA_IMPORT="1"),
                         self.want)

    def test_reference_bytes(self):
        """reference example: byte-identical output, key order included"""
        import subprocess
        from helpers import PYTHON, env_for
        out = subprocess.run([PYTHON, "-m", "cog.command.openapi_schema"],
                             env=env_for("reference_example.py:Predictor"),
                             capture_output=True, timeout=60).stdout
        with open(os.path.join(EXPECTED, "reference_example.full.json"), "rb") as f:
            self.assertEqual(out.strip(), f.read().strip())

    @unittest.skipUnless(os.path.isdir(REFERENCE), "shared reference not present")
    def test_shared_reference(self):
        """the committed reference copy matches ../shared/reference"""
        with open(os.path.join(REFERENCE, "openapi_schema.json")) as f:
            self.assertEqual(json.load(f), self.want)
        with open(os.path.join(REFERENCE, "predict.py")) as f, \
                open(os.path.join(PREDICTORS, "reference_example.py")) as g:
            self.assertEqual(f.read(), g.read())


class TestShapes(unittest.TestCase):
    maxDiff = None

    def check(self, name, **env):
        predict, train = CASES[name]
        doc = schema(predict, train, **env)
        want = load(name)
        ref = load("reference_example.full")["components"]["schemas"]
        got = doc["components"]["schemas"]
        self.assertEqual(list(doc["paths"]), want["paths"])
        for k in FIXED:
            if k in ("PredictionRequest", "PredictionResponse"):
                self.assertEqual(got[k], ref[k], k)
            else:
                self.assertEqual(got[k], ref[k], k)
        self.assertEqual({k: v for k, v in got.items() if k not in FIXED}, want["components"])
        self.assertEqual(doc["openapi"], "3.0.2")
        if train is None:
            self.assertEqual(doc["paths"], load("reference_example.full")["paths"])
        return doc


def _make(name, importing):
    def t(self):
        self.check(name, **({"COG_SCHEMA_IMPORT": "1"} if importing else {}))
    t.__doc__ = "schema %s (%s)" % (name, "import" if importing else "static")
    return t


for _n in CASES:
    setattr(TestShapes, "test_%s_static" % _n, _make(_n, False))
    if _n != "dynamic":
        setattr(TestShapes, "test_%s_import" % _n, _make(_n, True))


class TestStaticReading(unittest.TestCase):
    def test_heavy_imports_not_imported(self):
        """static reading: a predictor importing absent torch/diffusers still gets its schema"""
        doc = schema("heavy_imports.py:Predictor")
        want = load("heavy_imports")
        self.assertEqual(doc["components"]["schemas"]["Input"], want["components"]["Input"])
        self.assertEqual(doc["components"]["schemas"]["Output"], want["components"]["Output"])

    def test_dynamic_falls_back_to_import(self):
        """static reading: undecidable choices fall back to importing"""
        from cog import static
        with self.assertRaises(static.Undecidable):
            static.read_file(os.path.join(PREDICTORS, "dynamic.py"), "Predictor", "predict")
        doc = schema("dynamic.py:Predictor")
        self.assertEqual(doc["components"]["schemas"]["size"]["enum"], [128, 256, 384])

    def test_static_equals_import(self):
        """static and import readings agree on every importable shape"""
        from cog import config
        for name, (predict, _) in CASES.items():
            ref = os.path.join(PREDICTORS, predict)
            if name == "dynamic":
                continue
            with self.subTest(name=name):
                self.assertEqual(config.read_interface(ref, "predict"),
                                 config.read_interface(ref, "predict", allow_static=False))

    def test_undecidable_sources(self):
        """static reading refuses what only running the module settles"""
        from cog import static
        cases = {
            "star import": "from cog import *\nclass P(BasePredictor):\n"
                           "    def predict(self, x: str) -> str: ...\n",
            "conditional constant": "from cog import BasePredictor, Input\nC = ['a']\n"
                                    "if True:\n    C = ['b']\nclass P(BasePredictor):\n"
                                    "    def predict(self, x: str = Input(choices=C)) -> str: ...\n",
            "rebound import": "from cog import BasePredictor, Path\ntry:\n    Path = str\n"
                              "except Exception:\n    pass\nclass P(BasePredictor):\n"
                              "    def predict(self, x: Path) -> str: ...\n",
            "predict assigned": "from cog import BasePredictor\nclass P(BasePredictor):\n"
                                "    def predict(self, x: str) -> str: ...\n"
                                "    predict = staticmethod(print)\n",
            "base from elsewhere": "from mybase import Base\nclass P(Base):\n    pass\n",
            "pydantic Optional field": "from typing import Optional\nfrom pydantic import BaseModel\n"
                                       "class O(BaseModel):\n    x: Optional[int]\n"
                                       "class P(BasePredictor):\n    def predict(self) -> O: ...\n",
        }
        for what, src in cases.items():
            with self.subTest(case=what):
                with self.assertRaises(static.Undecidable):
                    static.Reader("from cog import BasePredictor\n" + src).read("P", "predict")

    def test_last_definition_wins(self):
        """static reading: the last def of predict and the last binding of a name win"""
        from cog import static
        src = ("from cog import BasePredictor, Input\nN = 1\nN = 5\n"
               "class P(BasePredictor):\n    def predict(self, a: int) -> int: ...\n"
               "    def predict(self, b: str = Input(default='x', max_length=N)) -> str: ...\n")
        got = static.Reader(src).read("P", "predict")
        self.assertEqual([i["name"] for i in got["inputs"]], ["b"])
        self.assertEqual(got["inputs"][0]["max_length"], 5)

    def test_no_predictor(self):
        """no predictor configured: {} as Cog prints"""
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(schema(None, cwd=d), {})

    def test_cog_yaml(self):
        """the predictor named by predict: in ./cog.yaml"""
        import shutil
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(os.path.join(PREDICTORS, "scalars.py"), os.path.join(d, "predict.py"))
            with open(os.path.join(d, "cog.yaml"), "w") as f:
                f.write('build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
            doc = schema(None, cwd=d)
            self.assertEqual(doc["components"]["schemas"]["Input"],
                             load("scalars")["components"]["Input"])

    def test_bad_predictor_fails(self):
        """an input without annotation is an error (exit 1), not a traceback"""
        import subprocess
        import tempfile
        from helpers import PYTHON, env_for
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "predict.py")
            with open(p, "w") as f:
                f.write("from cog import BasePredictor\nclass Predictor(BasePredictor):\n"
                        "    def predict(self, x) -> str:\n        return x\n")
            env = env_for(None)
            env["COG_PREDICT_TYPE_STUB"] = p + ":Predictor"
            r = subprocess.run([PYTHON, "-m", "cog.command.openapi_schema"], env=env,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("No input type provided for parameter `x`", r.stderr)
            self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()


class TestStaticRobustness(unittest.TestCase):
    def test_mutated_sources(self):
        """static reading of mangled sources: a result, Undecidable or SignatureError, nothing else"""
        import random
        from cog import static
        from cog.signature import SignatureError
        rng = random.Random(1234)
        sources = []
        for f in sorted(os.listdir(PREDICTORS)):
            if f.endswith(".py"):
                with open(os.path.join(PREDICTORS, f)) as fh:
                    sources.append(fh.read())
        unexpected = []
        for n in range(600):
            src = rng.choice(sources)
            lines = src.splitlines()
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(lines))
                op = rng.randrange(4)
                if op == 0:
                    del lines[i]
                elif op == 1:
                    lines[i] = lines[i].replace(rng.choice(["str", "int", "Input", "Path",
                                                            "=", ":", "[", "("]), "", 1)
                elif op == 2:
                    lines.insert(i, rng.choice(lines))
                else:
                    j = rng.randrange(len(lines[i]) + 1)
                    lines[i] = lines[i][:j] + rng.choice(["None", "...", "x", "]", ",", "*"]) + \
                        lines[i][j:]
            text = "\n".join(lines) + "\n"
            for name, method in (("Predictor", "predict"), ("Predictor", "train"),
                                 ("train", "train")):
                try:
                    static.Reader(text).read(name, method)
                except (static.Undecidable, SignatureError):
                    pass
                except Exception as e:  # noqa: BLE001 - what the test looks for
                    unexpected.append("%s: %r\n%s" % (type(e).__name__, e, text))
        self.assertEqual(unexpected[:3], [])


class TestUnionRules(unittest.TestCase):
    def test_refused_unions(self):
        """unions with a Path member, with constraints, or as an output: exit 1 naming the input (static and import)"""
        import subprocess
        import tempfile
        from helpers import PYTHON, env_for
        cases = {
            "from cog import BasePredictor, Path\nclass Predictor(BasePredictor):\n"
            "    def predict(self, x: Path | str) -> str:\n        return ''\n":
                "unsupported union member path",
            "from cog import BasePredictor, Input\nclass Predictor(BasePredictor):\n"
            "    def predict(self, x: int | str = Input(ge=1)) -> str:\n        return ''\n":
                "incompatible input type for ge: x",
            "from cog import BasePredictor\nclass Predictor(BasePredictor):\n"
            "    def predict(self) -> int | str:\n        return 1\n":
                "unions are supported for inputs only",
            "from cog import BasePredictor, Input\nclass Predictor(BasePredictor):\n"
            "    def predict(self, name: str = Input(accept='text/plain')) -> str:\n"
            "        return name\n":
                "accept is only valid on Path or File inputs: name: str",
            "import cog\nclass Predictor(cog.BasePredictor):\n"
            "    @cog.streaming\n    def predict(self) -> str:\n        return 'x'\n":
                "@streaming requires Iterator[...]",
        }
        for src, msg in cases.items():
            for importing in ("0", "1"):
                with self.subTest(msg=msg, importing=importing), \
                        tempfile.TemporaryDirectory() as d:
                    p = os.path.join(d, "predict.py")
                    with open(p, "w") as f:
                        f.write(src)
                    env = env_for(None, COG_SCHEMA_IMPORT=importing)
                    env["COG_PREDICT_TYPE_STUB"] = p + ":Predictor"
                    r = subprocess.run([PYTHON, "-m", "cog.command.openapi_schema"], env=env,
                                       capture_output=True, text=True, timeout=60)
                    self.assertEqual(r.returncode, 1, r.stdout)
                    self.assertIn(msg, r.stderr)


class TestInvalidDefault(unittest.TestCase):
    def test_default_below_minimum(self):
        """default=1 with ge=2 (Cog's invalid_int_validation): exit 1, the message names the input and the bound"""
        import subprocess
        from helpers import PYTHON, env_for
        for importing in ("0", "1"):
            with self.subTest(importing=importing):
                r = subprocess.run([PYTHON, "-m", "cog.command.openapi_schema"],
                                   env=env_for("invalid_default.py:Predictor",
                                               COG_SCHEMA_IMPORT=importing),
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual((r.returncode, r.stdout), (1, ""))
                self.assertIn("invalid default for num: int: must be at minimum 2", r.stderr)
                self.assertNotIn("Traceback", r.stderr)


class TestRunner(unittest.TestCase):
    def test_run_in_cog_yaml(self):
        """`run:` in cog.yaml names a BaseRunner (Cog 0.22), also as a bare `run.py`; predict() wins over a helper run()"""
        import shutil
        import tempfile
        want = load("runner")["components"]["Input"]
        for entry in ("run.py:Runner", "run.py"):
            for importing in ("0", "1"):
                with self.subTest(entry=entry, importing=importing), \
                        tempfile.TemporaryDirectory() as d:
                    shutil.copy(os.path.join(PREDICTORS, "runner.py"), os.path.join(d, "run.py"))
                    with open(os.path.join(d, "cog.yaml"), "w") as f:
                        f.write('build:\n  python_version: "3.12"\nrun: "%s"\n' % entry)
                    doc = schema(None, cwd=d, COG_SCHEMA_IMPORT=importing)
                    self.assertEqual(doc["components"]["schemas"]["Input"], want)
        for importing in ("0", "1"):
            doc = schema("runner.py:HelperRun", COG_SCHEMA_IMPORT=importing)
            self.assertEqual(list(doc["components"]["schemas"]["Input"]["properties"]), ["n"])

    def test_no_entry(self):
        """a class with neither run() nor predict(): exit 1 saying so"""
        import subprocess
        import tempfile
        from helpers import PYTHON, env_for
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "run.py")
            with open(p, "w") as f:
                f.write("from cog import BaseRunner\nclass Runner(BaseRunner):\n    pass\n")
            env = env_for(None)
            env["COG_PREDICT_TYPE_STUB"] = p + ":Runner"
            r = subprocess.run([PYTHON, "-m", "cog.command.openapi_schema"], env=env,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("run or predict method not found: Runner", r.stderr)


def label(predict, importing="0"):
    import subprocess
    from helpers import PYTHON, env_for
    r = subprocess.run([PYTHON, "-m", "cog.command.openapi_schema", "--label"],
                       env=env_for(predict, COG_SCHEMA_IMPORT=importing),
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("schema --label failed: %s" % r.stderr.decode())
    return r.stdout.decode("utf-8")


class TestLabel(unittest.TestCase):
    def test_label_is_go_marshal(self):
        """--label: one line, keys sorted at every level, no spaces, integral numbers without .0 (Cog's CLI re-marshals the schema in Go)"""
        out = label("reference_example.py:Predictor")
        self.assertTrue(out.endswith("\n") and "\n" not in out[:-1])
        text = out[:-1]
        doc = json.loads(text)
        self.assertEqual(doc, load("reference_example.full"))
        # an independent serialiser: sorted, compact; the reference has no
        # characters Go escapes and no exponents, so the bytes agree
        self.assertEqual(text, json.dumps(doc, sort_keys=True, separators=(",", ":"),
                                          ensure_ascii=False))
        self.assertIn('"default":1,"maximum":10,"minimum":1,"title":"Repeats"', text)
        self.assertIn('"default":0.7,"maximum":2,"minimum":0,"title":"Temperature"', text)

    def test_label_cog_assertions(self):
        """--label carries the substrings Cog's build_openapi_schema, dict_input, static_schema_opaque and static_schema_secret_optional tests grep for"""
        cases = {
            "build_openapi_schema.py:Predictor": ['"title":"Input"', '"required":["text","path"]',
                                                  '"text":', '"path":', '"type":"string"',
                                                  '"format":"uri"', '"openapi":"3.0.2"'],
            "dict_inputs.py:Predictor": ['"data":{"title":"Data","type":"object","x-order":0}',
                                         '"required":["data"]'],
            "accept_mime_type.py:Predictor": ['"x-cog-accept":"image/*"',
                                              '"x-cog-accept":"audio/wav,audio/mp3"',
                                              '"x-cog-accept":".safetensors,.bin"',
                                              '"prompt":', '"format":"uri"'],
            "opaque.py:Predictor": [
                '"payload":{"title":"Payload","type":"object","x-order":0}',
                '"items":{"items":{"type":"object"},"title":"Items","type":"array","x-order":1}',
                '"result":{"title":"Result","type":"object"}',
                '"results":{"items":{"type":"object"},"title":"Results","type":"array"}',
                '"required":["payload","items"]', '"required":["result","results"]'],
            "secret_optional.py:Predictor": ['"api_key":', '"format":"password"',
                                             '"x-cog-secret":true', '"nullable":true',
                                             '"default":null',
                                             '"required":["prompt","api_key_required"]'],
        }
        for ref, wants in cases.items():
            for importing in ("0", "1"):
                text = label(ref, importing)
                for want in wants:
                    with self.subTest(ref=ref, want=want, importing=importing):
                        self.assertIn(want, text)

    def test_go_formatting(self):
        """label numbers and strings as Go's encoding/json writes them"""
        from cog.schema import label_text
        cases = [(5.0, "5"), (0.0, "0"), (-2.5, "-2.5"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"),
                 (1e-6, "0.000001"), (1e-5, "0.00001"), (1e20, "100000000000000000000"),
                 (1e21, "1e+21"), (2.0 ** 60, "1152921504606847000"), (3, "3"), (True, "true"),
                 (None, "null"), ("<a&b>", '"\\u003ca\\u0026b\\u003e"'), ("é", '"é"'),
                 ("\u2028", '"\\u2028"'), ("\b\f\n\x01", '"\\b\\f\\n\\u0001"'),
                 ({"b": 1, "a": [1.0, {"d": 0, "c": 2}]}, '{"a":[1,{"c":2,"d":0}],"b":1}')]
        for value, want in cases:
            with self.subTest(value=value):
                self.assertEqual(label_text(value), want)


class TestSchemaFailure(unittest.TestCase):
    def test_exit_at_import(self):
        """a module that calls sys.exit(0) while imported: exit 1 and a message, nothing on stdout"""
        import subprocess
        import tempfile
        from helpers import PYTHON, env_for
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "predict.py")
            with open(p, "w") as f:
                f.write("import sys\nfrom cog import BasePredictor\nsys.exit(0)\n"
                        "class Predictor(BasePredictor):\n"
                        "    def predict(self, x: str) -> str:\n        return x\n")
            env = env_for(None, COG_SCHEMA_IMPORT="1")
            env["COG_PREDICT_TYPE_STUB"] = p + ":Predictor"
            for args in ([], ["--label"]):
                r = subprocess.run([PYTHON, "-m", "cog.command.openapi_schema"] + args, env=env,
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual((r.returncode, r.stdout), (1, ""))
                self.assertIn("exited while it was imported", r.stderr)


class TestTypedDictOutput(unittest.TestCase):
    def test_typeddict_output_fields(self):
        """a TypedDict output lists its fields, NotRequired ones not required (Cog 0.22's typeddict_output); as an input it is a plain object"""
        import tempfile
        src = ("from typing import TypedDict\nfrom cog import BasePredictor\n\n\n"
               "class Out(TypedDict, total=False):\n    score: float\n\n\n"
               "class Output(TypedDict):\n    name: str\n    extra: Out\n\n\n"
               "class Predictor(BasePredictor):\n"
               "    def predict(self, data: Out) -> Output:\n"
               "        return {'name': 'x', 'extra': data}\n")
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "predict.py")
            with open(p, "w") as f:
                f.write(src)
            docs = [schema(p + ":Predictor", COG_SCHEMA_IMPORT=m) for m in ("0", "1")]
        self.assertEqual(docs[0], docs[1])
        comps = docs[0]["components"]["schemas"]
        self.assertEqual(comps["Output"], {
            "title": "Output", "type": "object",
            "properties": {"name": {"title": "Name", "type": "string"},
                           "extra": {"title": "Extra", "type": "object"}},
            "required": ["name", "extra"]})
        self.assertEqual(comps["Input"]["properties"]["data"]["type"], "object")
