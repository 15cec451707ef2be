"""Input validation and output encoding, in process (no server)."""

import base64
import os
import tempfile
import unittest

from cog import BaseModel, File, Input, Path, Secret
from cog.signature import NO_DEFAULT, SignatureError, literal, make_input, simple
from cog.validate import encode, validate_inputs


def opt(t):
    return {"kind": "optional", "item": t}


def lst(t):
    return {"kind": "list", "item": t}


class TestValidate(unittest.TestCase):
    def test_coercion(self):
        """numbers in strings and integral floats are coerced as pydantic 1 does"""
        inputs = [make_input("i", simple("int"), NO_DEFAULT),
                  make_input("f", simple("float"), NO_DEFAULT),
                  make_input("b", simple("bool"), NO_DEFAULT),
                  make_input("s", simple("str"), NO_DEFAULT)]
        values, errors = validate_inputs(inputs, {"i": "7", "f": 2, "b": "yes", "s": 1.5})
        self.assertEqual(errors, [])
        self.assertEqual(values, {"i": 7, "f": 2.0, "b": True, "s": "1.5"})
        values, errors = validate_inputs(inputs, {"i": 2.5, "f": "x", "b": "maybe", "s": []})
        self.assertEqual([e["type"] for e in errors],
                         ["type_error.integer", "type_error.float", "type_error.bool",
                          "type_error.str"])

    def test_defaults_and_optional(self):
        """defaults fill absent inputs; Optional + Input() defaults to None; bare Optional too (Cog 0.22); a bare str is required"""
        inputs = [make_input("a", simple("int"), 3),
                  make_input("b", opt(simple("str")), Input(description="x")),
                  make_input("c", opt(simple("str")), NO_DEFAULT),
                  make_input("d", simple("str"), NO_DEFAULT)]
        self.assertIsNone(inputs[1]["default"])
        self.assertIsNone(inputs[2]["default"])
        values, errors = validate_inputs(inputs, {})
        self.assertEqual([e["loc"] for e in errors], [["body", "input", "d"]])
        values, errors = validate_inputs(inputs, {"c": None, "d": "x"})
        self.assertEqual((values, errors), ({"a": 3, "b": None, "c": None, "d": "x"}, []))
        values, errors = validate_inputs(inputs, {"d": "x"})
        self.assertEqual((values, errors), ({"a": 3, "b": None, "c": None, "d": "x"}, []))

    def test_choices_and_literal(self):
        """choices and Literal accept only their values"""
        inputs = [make_input("c", simple("int"), Input(default=1, choices=[1, 2])),
                  make_input("l", literal(["a", "b"]), "a")]
        self.assertEqual(validate_inputs(inputs, {"c": "2", "l": "b"}), ({"c": 2, "l": "b"}, []))
        _, errors = validate_inputs(inputs, {"c": 3, "l": "z"})
        self.assertEqual([e["type"] for e in errors], ["type_error.enum", "value_error.const"])
        self.assertIn("permitted: 1, 2", errors[0]["msg"])

    def test_choices_rules(self):
        """choices only on str/int (as Cog); empty choices are ignored"""
        with self.assertRaises(SignatureError):
            make_input("x", opt(simple("str")), Input(choices=["a"]))
        with self.assertRaises(SignatureError):
            make_input("x", simple("float"), Input(choices=[1.0]))
        self.assertIsNone(make_input("x", simple("str"), Input(choices=[]))["choices"])

    def test_list_errors_have_index(self):
        """a bad list item is reported with its index"""
        inputs = [make_input("xs", lst(simple("int")), NO_DEFAULT)]
        _, errors = validate_inputs(inputs, {"xs": [1, "two"]})
        self.assertEqual(errors[0]["loc"], ["body", "input", "xs", 1])

    def test_every_constraint(self):
        """ge, le, min_length, max_length and regex: the bounds pass, one past them is refused"""
        inputs = [make_input("i", simple("int"), Input(ge=1, le=5)),
                  make_input("f", simple("float"), Input(ge=0.5, le=1.5)),
                  make_input("s", simple("str"), Input(min_length=2, max_length=4,
                                                       regex="^[a-z]+$"))]
        for good in ({"i": 1, "f": 0.5, "s": "ab"}, {"i": 5, "f": 1.5, "s": "abcd"}):
            self.assertEqual(validate_inputs(inputs, good)[1], [], good)
        cases = [({"i": 0}, "i", "value_error.number.not_ge"),
                 ({"i": 6}, "i", "value_error.number.not_le"),
                 ({"f": 0.4}, "f", "value_error.number.not_ge"),
                 ({"f": 1.6}, "f", "value_error.number.not_le"),
                 ({"s": "a"}, "s", "value_error.any_str.min_length"),
                 ({"s": "abcde"}, "s", "value_error.any_str.max_length"),
                 ({"s": "AB"}, "s", "value_error.str.regex")]
        for bad, field, typ in cases:
            payload = dict({"i": 3, "f": 1.0, "s": "abc"}, **bad)
            _, errors = validate_inputs(inputs, payload)
            self.assertEqual([(e["loc"], e["type"]) for e in errors],
                             [(["body", "input", field], typ)], bad)

    def test_file_inputs(self):
        """Path and File inputs from a path, a data URL and an http URL; bad references refused"""
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "5")
                self.end_headers()
                self.wfile.write(b"hello")

            def log_message(self, *args):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/dir/in.txt" % srv.server_address[1]
        try:
            with tempfile.TemporaryDirectory() as d:
                local = os.path.join(d, "local.txt")
                with open(local, "w") as f:
                    f.write("local")
                self.assertEqual(Path.validate(local).read_text(), "local")
                self.assertEqual(Path.validate("data:text/plain;base64,ZGF0YQ==").read_text(),
                                 "data")
                fetched = Path.validate(url)
                self.assertEqual((fetched.name, fetched.read_bytes()), ("in.txt", b"hello"))
                with File.validate(url) as f:
                    self.assertEqual(f.read(), b"hello")
                self.assertEqual(File.validate("data:,raw").read(), b"raw")
                inputs = [make_input("p", simple("path"), NO_DEFAULT)]
                for ok_ref in (local, url, "data:,x"):
                    self.assertEqual(validate_inputs(inputs, {"p": ok_ref})[1], [], ok_ref)
                for bad in (os.path.join(d, "missing"), "ftp://host/x", "data:nocomma", 3):
                    _, errors = validate_inputs(inputs, {"p": bad})
                    self.assertEqual(len(errors), 1, bad)
                    self.assertEqual(errors[0]["loc"], ["body", "input", "p"])
        finally:
            srv.shutdown()
            srv.server_close()

    def test_secret(self):
        """a Secret input keeps its value but prints redacted"""
        values, _ = validate_inputs([make_input("k", simple("secret"), NO_DEFAULT)], {"k": "pw"})
        self.assertEqual(values["k"].get_secret_value(), "pw")
        self.assertEqual(str(values["k"]), "**********")
        self.assertNotIn("pw", repr(values["k"]))


class Out(BaseModel):
    name: str
    file: Path = None
    secret: Secret = None


class TestEncode(unittest.TestCase):
    def test_encode(self):
        """outputs: models, secrets, files as data URLs, nested values"""
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.txt")
            with open(p, "w") as f:
                f.write("hi")
            v = encode([Out(name="a", file=Path(p), secret=Secret("s")), {"n": float("nan")}])
        self.assertEqual(v[0]["name"], "a")
        self.assertEqual(v[0]["secret"], "**********")
        self.assertEqual(base64.b64decode(v[0]["file"].split(",", 1)[1]), b"hi")
        self.assertTrue(v[0]["file"].startswith("data:text/plain;base64,"))
        self.assertEqual(v[1], {"n": None})

    def test_model_required_fields(self):
        """BaseModel: missing required fields are an error; defaults fill the rest"""
        with self.assertRaises(TypeError):
            Out()
        self.assertEqual(Out(name="x").dict(), {"name": "x", "file": None, "secret": None})


if __name__ == "__main__":
    unittest.main()


class TestDefaultConstraints(unittest.TestCase):
    def test_defaults_checked(self):
        """a default that breaks its own ge, le, min/max_length, regex or choices is refused, naming the input"""
        cases = [
            ("n", simple("int"), Input(default=1, ge=2), "invalid default for n: int: must be at minimum 2"),
            ("f", opt(simple("float")), Input(default=1.5, le=1), "invalid default for f: Optional[float]: must be at maximum 1"),
            ("s", simple("str"), Input(default="ab", min_length=3), "default conflicts with min_length=3 for input: s: str"),
            ("s", simple("str"), Input(default="abcd", max_length=3), "default conflicts with max_length=3 for input: s: str"),
            ("s", simple("str"), Input(default="x1", regex="^[a-z]+$"), "default not a regex match for input: s: str"),
            ("l", lst(simple("int")), Input(default=[5, 0], ge=1), "invalid default for l: List[int]: must be at minimum 1"),
            ("c", simple("str"), Input(default="z", choices=["a", "b"]), "invalid default for c: str: 'z' is not one of the choices"),
        ]
        for name, typ, info, msg in cases:
            with self.subTest(msg=msg):
                with self.assertRaises(SignatureError) as cm:
                    make_input(name, typ, info)
                self.assertIn(msg, str(cm.exception))

    def test_good_defaults_pass(self):
        """defaults on the bounds, None defaults and required inputs pass"""
        make_input("n", simple("int"), Input(default=2, ge=2, le=2))
        make_input("n", simple("int"), Input(default=None, ge=2))
        make_input("s", simple("str"), Input(min_length=3, regex="^a"))
        make_input("l", lst(simple("str")), Input(default=["abc"], max_length=3))


class TestBaseModelFields(unittest.TestCase):
    def test_optional_without_default(self):
        """BaseModel: Optional[X] / X | None without a default is None; other fields without one stay required"""
        from typing import ClassVar, List, Optional

        class Out(BaseModel):
            a: str
            b: Optional[int]
            c: "Optional[List[str]]"
            d: "float | None"
            e: ClassVar[int] = 3

        o = Out(a="x")
        self.assertEqual(o.dict(), {"a": "x", "b": None, "c": None, "d": None})
        self.assertEqual(Out(a="x", b=2).b, 2)
        with self.assertRaises(TypeError) as cm:
            Out(b=1)
        self.assertIn("missing field(s) a", str(cm.exception))


class TestDecorators(unittest.TestCase):
    def test_concurrent_rules(self):
        """@concurrent: max an int >= 1; max > 1 only on async functions (Cog 0.22)"""
        from cog import concurrent, streaming

        def sync():
            pass

        async def asy():
            pass
        self.assertIs(streaming(sync), sync)
        self.assertIs(streaming()(sync), sync)
        self.assertEqual(concurrent(max=3)(asy).__cog_concurrent_max__, 3)
        self.assertEqual(concurrent(sync).__cog_concurrent_max__, 1)
        with self.assertRaises(TypeError):
            concurrent(max=2)(sync)
        with self.assertRaises(ValueError):
            concurrent(max=0)
        with self.assertRaises(TypeError):
            concurrent(max=True)


class TestPydanticHooks(unittest.TestCase):
    def test_hooks(self):
        """cog types answer pydantic 1's and 2's hooks (validators, core schema, JSON schema) without importing pydantic"""
        for cls, fmt in ((Path, "uri"), (File, "uri"), (Secret, "password")):
            with self.subTest(cls=cls.__name__):
                self.assertEqual(list(cls.__get_validators__()), [cls.validate])
                js = {"title": "X"}
                cls.__modify_schema__(js)
                self.assertEqual((js["title"], js["type"], js["format"]), ("X", "string", fmt))
                core = cls.__get_pydantic_core_schema__(cls, None)
                self.assertEqual(core, {"type": "function-plain",
                                        "function": {"type": "no-info",
                                                     "function": cls.validate}})
                self.assertEqual(cls.__get_pydantic_json_schema__(core, None)["format"], fmt)
        self.assertEqual(Secret.validate("k").get_secret_value(), "k")
