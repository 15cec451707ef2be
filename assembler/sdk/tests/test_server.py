"""`python -m cog.server.http`: every endpoint, 422s, failures, cancelation,
async predictions, trainings, setup failure and SIGTERM."""

import base64
import json
import signal
import time
import unittest

from helpers import Server


class TestServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("server_model.py:Predictor")
        cls.s.wait()

    @classmethod
    def tearDownClass(cls):
        cls.log = cls.s.stop()

    def test_root(self):
        """GET / lists the endpoints"""
        code, body = self.s.get("/")
        self.assertEqual(code, 200)
        self.assertEqual(body["predictions_url"], "/predictions")
        self.assertEqual(body["openapi_url"], "/openapi.json")
        self.assertNotIn("trainings_url", body)

    def test_health(self):
        """GET /health-check: READY with the setup logs"""
        code, body = self.s.get("/health-check")
        self.assertEqual(code, 200)
        self.assertEqual(body["status"], "READY")
        self.assertEqual(body["setup"]["status"], "succeeded")
        self.assertIn("setup: loading weights", body["setup"]["logs"])

    def test_openapi(self):
        """GET /openapi.json: the predictor's schema"""
        code, body = self.s.get("/openapi.json")
        self.assertEqual(code, 200)
        inp = body["components"]["schemas"]["Input"]
        self.assertEqual(inp["required"], ["text"])
        self.assertEqual(inp["properties"]["n"]["maximum"], 5.0)
        self.assertEqual(body["components"]["schemas"]["Output"]["type"], "object")

    def test_predict(self):
        """POST /predictions: succeeded with output, logs and metrics"""
        code, body = self.s.post("/predictions", {"input": {"text": "ab", "n": 2}})
        self.assertEqual(code, 200, body)
        self.assertEqual(body["status"], "succeeded")
        self.assertEqual(body["output"], {"text": "abab", "file": None, "items": [0, 1]})
        self.assertIn("predict: mode=echo", body["logs"])
        self.assertIsNone(body["error"])
        self.assertIn("predict_time", body["metrics"])
        self.assertGreaterEqual(body["metrics"]["calls"], 1)
        self.assertEqual(body["input"], {"text": "ab", "n": 2})
        for k in ("id", "created_at", "started_at", "completed_at"):
            self.assertTrue(body[k], k)

    def test_validation_errors(self):
        """POST /predictions with bad input: 422 naming the field and the reason"""
        cases = [
            ({}, ["body", "input", "text"], "field required"),
            ({"text": "x" * 21}, ["body", "input", "text"], "at most 20 characters"),
            ({"text": "a", "n": 9}, ["body", "input", "n"], "less than or equal to 5"),
            ({"text": "a", "n": 0}, ["body", "input", "n"], "greater than or equal to 1"),
            ({"text": "a", "n": "many"}, ["body", "input", "n"], "not a valid integer"),
            ({"text": "a", "mode": "nope"}, ["body", "input", "mode"], "permitted: 'echo'"),
            ({"text": "a", "seconds": "x"}, ["body", "input", "seconds"], "not a valid float"),
            ({"text": "a", "tags": "notalist"}, ["body", "input", "tags"], "not a valid list"),
            ({"text": "a", "tags": ["ok", 3, None]}, ["body", "input", "tags", 2],
             "none is not an allowed value"),
            ({"text": "a", "image": "/nonexistent/file.png"}, ["body", "input", "image"],
             "does not exist"),
            ({"text": None}, ["body", "input", "text"], "none is not an allowed value"),
        ]
        for inp, loc, msg in cases:
            with self.subTest(input=inp):
                code, body = self.s.post("/predictions", {"input": inp})
                self.assertEqual(code, 422, body)
                self.assertEqual(body["detail"][0]["loc"], loc)
                self.assertIn(msg, body["detail"][0]["msg"])
                self.assertTrue(body["detail"][0]["type"])

    def test_put_id_mismatch(self):
        """PUT /predictions/{id} with a different id in the body: 422"""
        code, body = self.s.request("PUT", "/predictions/a1", {"id": "b2", "input": {"text": "x"}})
        self.assertEqual(code, 422)
        self.assertEqual(body["detail"][0]["loc"], ["body", "id"])

    def test_bad_json(self):
        """POST /predictions with a body that is not JSON: 422"""
        code, body = self.s.request("POST", "/predictions", raw=b"{not json")
        self.assertEqual(code, 422)
        self.assertEqual(body["detail"][0]["type"], "value_error.jsondecode")

    def test_failed_prediction_keeps_server(self):
        """a predictor that raises: status failed with the error; the server stays up"""
        code, body = self.s.post("/predictions", {"input": {"text": "a", "mode": "fail"}})
        self.assertEqual(code, 200)
        self.assertEqual(body["status"], "failed")
        self.assertEqual(body["error"], "the model broke")
        self.assertIn("RuntimeError", body["logs"])
        code, body = self.s.post("/predictions", {"input": {"text": "ok"}})
        self.assertEqual((code, body["status"], body["output"]["text"]), (200, "succeeded", "ok"))
        self.assertEqual(self.s.get("/health-check")[1]["status"], "READY")

    def test_file_output_data_url(self):
        """a Path output comes back as a data URL"""
        code, body = self.s.post("/predictions", {"input": {"text": "hi", "n": 3,
                                                            "mode": "file"}})
        self.assertEqual(body["status"], "succeeded", body)
        url = body["output"]["file"]
        self.assertTrue(url.startswith("data:text/plain;base64,"), url)
        self.assertEqual(base64.b64decode(url.split(",", 1)[1]), b"hihihi")

    def test_file_input_data_url(self):
        """a Path input given as a data URL reaches predict() as a file"""
        data = "data:text/plain;base64," + base64.b64encode(b"from a data url").decode()
        code, body = self.s.post("/predictions", {"input": {"text": "x", "mode": "readfile",
                                                            "image": data, "tags": ["a", "b"]}})
        self.assertEqual(body["status"], "succeeded", body)
        self.assertEqual(body["output"]["text"], "from a data url")
        self.assertEqual(body["output"]["items"], [2])

    def test_secret_redacted(self):
        """a Secret is redacted in the echoed input and the logs"""
        code, body = self.s.post("/predictions", {"input": {"text": "x", "key": "hunter2"}})
        self.assertEqual(body["status"], "succeeded", body)
        self.assertEqual(body["input"]["key"], "**********")
        self.assertNotIn("hunter2", body["logs"])
        self.assertIn("key=**********", body["logs"])

    def test_async_and_idempotent_put(self):
        """PUT /predictions/{id} with Prefer: respond-async: 202, then the same id reports"""
        hdr = {"Prefer": "respond-async"}
        code, body = self.s.request("PUT", "/predictions/p-async-1",
                                    {"input": {"text": "z", "mode": "sleep", "seconds": 0.3}},
                                    headers=hdr)
        self.assertEqual(code, 202, body)
        self.assertEqual(body["id"], "p-async-1")
        self.assertIn(body["status"], ("starting", "processing"))
        code, body = self.s.post("/predictions", {"input": {"text": "other"}})
        self.assertEqual(code, 409, body)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            code, body = self.s.request("PUT", "/predictions/p-async-1", {"input": {"text": "z"}},
                                        headers=hdr)
            if body["status"] == "succeeded":
                break
            time.sleep(0.05)
        self.assertEqual(body["status"], "succeeded")
        self.assertEqual(body["output"]["text"], "z")

    def test_cancel(self):
        """POST /predictions/{id}/cancel stops a running prediction: status canceled"""
        code, body = self.s.request("PUT", "/predictions/p-cancel-1",
                                    {"input": {"text": "c", "mode": "sleep", "seconds": 20}},
                                    headers={"Prefer": "respond-async"})
        self.assertEqual(code, 202)
        time.sleep(0.3)
        code, body = self.s.post("/predictions/p-cancel-1/cancel")
        self.assertEqual(code, 200)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            body = self.s.request("PUT", "/predictions/p-cancel-1", {"input": {"text": "c"}},
                                  headers={"Prefer": "respond-async"})[1]
            if body["status"] not in ("starting", "processing"):
                break
            time.sleep(0.05)
        self.assertEqual(body["status"], "canceled")
        self.assertEqual(self.s.post("/predictions/unknown-id/cancel"), (404, {}))
        code, body = self.s.post("/predictions", {"input": {"text": "after"}})
        self.assertEqual((code, body["status"]), (200, "succeeded"))

    def test_webhook(self):
        """webhook: start and completed are POSTed in order with the response"""
        import http.server
        import json
        import threading
        got = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=hook.serve_forever, daemon=True).start()
        try:
            url = "http://127.0.0.1:%d/hook" % hook.server_address[1]
            code, body = self.s.post("/predictions", {"input": {"text": "w"}, "webhook": url,
                                                      "webhook_events_filter": ["start",
                                                                                "completed"]},
                                     headers={"Prefer": "respond-async"})
            self.assertEqual(code, 202)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(got) < 2:
                time.sleep(0.05)
            self.assertEqual([g["status"] for g in got], ["starting", "succeeded"])
            self.assertEqual(got[-1]["output"]["text"], "w")
            del got[:]
            code, body = self.s.post("/predictions", {"input": {"text": "w2"}, "webhook": url},
                                     headers={"Prefer": "respond-async"})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (not got or got[-1]["status"] != "succeeded"):
                time.sleep(0.05)
            self.assertIn("processing", [g["status"] for g in got], "a logs event while running")
            self.assertEqual(got[-1]["status"], "succeeded")
        finally:
            hook.shutdown()
            hook.server_close()

    def test_concurrent_requests(self):
        """concurrent predictions: one runs, the others get 409; the server stays healthy"""
        import concurrent.futures
        body = {"input": {"text": "c", "mode": "sleep", "seconds": 0.5}}
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = sorted(f.result()[0] for f in
                           [ex.submit(self.s.post, "/predictions", body) for _ in range(8)])
        self.assertEqual(codes.count(200), 1, codes)
        self.assertEqual(codes.count(409), 7, codes)
        self.assertEqual(self.s.get("/health-check")[1]["status"], "READY")

    def test_keep_alive(self):
        """a body on an endpoint that ignores it does not desync a keep-alive connection"""
        import http.client
        import json
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        try:
            c.request("POST", "/predictions/nope/cancel", body=b'{"junk": true}',
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 404)
            c.request("GET", "/health-check")
            r = c.getresponse()
            self.assertEqual((r.status, json.loads(r.read())["status"]), (200, "READY"))
        finally:
            c.close()

    def test_not_found_and_method(self):
        """unknown paths 404; wrong methods 405; no /trainings without a trainer"""
        self.assertEqual(self.s.get("/nope")[0], 404)
        self.assertEqual(self.s.get("/predictions")[0], 405)
        self.assertEqual(self.s.post("/trainings", {"input": {}})[0], 404)


class TestTrainingServer(unittest.TestCase):
    def test_streaming_and_training(self):
        """iterator output streams into a list; /trainings runs train(); upload-less Path output"""
        s = Server("server_model.py:Streamer", "server_model.py:Streamer")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {"n": 4}})
            self.assertEqual((code, body["status"]), (200, "succeeded"), body)
            self.assertEqual(body["output"], ["t0", "t1", "t2", "t3"])
            self.assertIn("token 3", body["logs"])
            self.assertEqual(s.get("/")[1]["trainings_url"], "/trainings")
            doc = s.get("/openapi.json")[1]
            self.assertIn("/trainings", doc["paths"])
            code, body = s.post("/trainings", {"input": {"steps": 3}})
            self.assertEqual((code, body["status"]), (200, "succeeded"), body)
            self.assertEqual(base64.b64decode(body["output"].split(",", 1)[1]), b"www")
            code, body = s.post("/trainings", {"input": {"steps": 0}})
            self.assertEqual(code, 422)
            self.assertEqual(body["detail"][0]["loc"], ["body", "input", "steps"])
            code, body = s.post("/trainings", {"input": {"fail": True}})
            self.assertEqual((body["status"], body["error"]), ("failed", "training failed"))
            code, body = s.post("/shutdown")
            self.assertEqual(code, 200)
            s.proc.wait(10)
            self.assertEqual(s.proc.returncode, 0)
        finally:
            s.stop()

    def test_setup_failed(self):
        """setup() raises: health SETUP_FAILED with the logs; predictions refused"""
        s = Server("server_model.py:BrokenSetup", args=["--await-explicit-shutdown", "true"])
        try:
            body = s.wait(status=("SETUP_FAILED",))
            self.assertEqual(body["setup"]["status"], "failed")
            self.assertIn("about to fail", body["setup"]["logs"])
            self.assertIn("cannot load weights", body["setup"]["logs"])
            code, _ = s.post("/predictions", {"input": {}})
            self.assertEqual(code, 503)
            s.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(s.proc.poll(), "SIGTERM is ignored with --await-explicit-shutdown")
            self.assertEqual(s.post("/shutdown")[0], 200)
            s.proc.wait(10)
            self.assertEqual(s.proc.returncode, 0)
        finally:
            s.stop()

    def test_setup_failed_exits(self):
        """setup() raises in an interactive run: the server exits 1 with the logs, as Cog's"""
        s = Server("server_model.py:BrokenSetup")
        try:
            s.proc.wait(20)
            self.assertEqual(s.proc.returncode, 1)
        finally:
            out = s.stop()
        self.assertIn("cannot load weights", out)

    def test_load_failure(self):
        """a predictor that cannot be imported: SETUP_FAILED with the traceback"""
        s = Server("server_model.py:NoSuchClass", args=["--await-explicit-shutdown", "true"])
        try:
            body = s.wait(status=("SETUP_FAILED",))
            self.assertIn("Error while loading predictor", body["setup"]["logs"])
            self.assertIn("NoSuchClass", body["setup"]["logs"])
        finally:
            s.stop()

    def test_starting(self):
        """health is STARTING while setup() runs, then READY"""
        s = Server("server_model.py:SlowSetup")
        try:
            body = s.wait(status=("STARTING", "READY"))
            self.assertEqual(body["status"], "STARTING")
            code, _ = s.post("/predictions", {"input": {}})
            self.assertEqual(code, 503)
            s.wait(status=("READY",))
            code, body = s.post("/predictions", {"input": {"x": "b"}})
            self.assertEqual((code, body["output"]), (200, "b"))
        finally:
            s.stop()

    def test_weights(self):
        """setup(weights: Path) gets COG_WEIGHTS (here a data URL), fetched"""
        data = "data:text/plain;base64," + base64.b64encode(b"w8").decode()
        s = Server("server_model.py:Weighted", COG_WEIGHTS=data)
        try:
            s.wait()
            self.assertEqual(s.post("/predictions", {})[1]["output"], "w8")
        finally:
            s.stop()

    def test_str_for_path_output(self):
        """a str returned where List[Path] is declared is served as files"""
        s = Server("server_model.py:StrPaths")
        try:
            s.wait()
            out = s.post("/predictions", {"input": {"n": 2}})[1]["output"]
            self.assertEqual([base64.b64decode(u.split(",", 1)[1]) for u in out], [b"f0", b"f1"])
        finally:
            s.stop()

    def test_sigterm(self):
        """SIGTERM shuts the server down cleanly (exit 0)"""
        s = Server("server_model.py:Predictor")
        try:
            s.wait()
            s.proc.send_signal(signal.SIGTERM)
            s.proc.wait(10)
            self.assertEqual(s.proc.returncode, 0)
        finally:
            s.stop()

    def test_upload_url(self):
        """--upload-url: async predictions PUT files there (URL returned); sync give data URLs"""
        import http.server
        import threading
        got = {}

        class H(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):  # noqa: N802
                got[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(201)
                self.send_header("Location", "http://files.example/%s?sig=1" % self.path[1:])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=up.serve_forever, daemon=True).start()
        s = Server("server_model.py:Predictor",
                   args=["--upload-url", "http://127.0.0.1:%d/up/" % up.server_address[1]])
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {"text": "u", "mode": "file"}})
            self.assertEqual(body["status"], "succeeded", body)
            self.assertTrue(body["output"]["file"].startswith("data:"),
                            "sync predictions return data URLs, as Cog's")
            code, body = s.request("PUT", "/predictions/up-1",
                                   {"input": {"text": "u", "mode": "file"}},
                                   headers={"Prefer": "respond-async"})
            self.assertEqual(code, 202)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and body["status"] != "succeeded":
                time.sleep(0.05)
                body = s.request("PUT", "/predictions/up-1", {"input": {"text": "u"}})[1]
            self.assertTrue(body["output"]["file"].startswith("http://files.example/up/cog-test"),
                            body["output"])
            self.assertNotIn("?sig", body["output"]["file"])
            self.assertEqual(list(got.values()), [b"u"])
        finally:
            s.stop()
            up.shutdown()
            up.server_close()


if __name__ == "__main__":
    unittest.main()


class TestConcurrency(unittest.TestCase):
    def test_async_concurrency(self):
        """async predict with COG_MAX_CONCURRENCY=2: two run at once, a third gets 409; logs per job"""
        import concurrent.futures
        s = Server("server_model.py:AsyncModel", COG_MAX_CONCURRENCY="2")
        try:
            body = s.wait()
            self.assertIn("async setup", body["setup"]["logs"])
            t0 = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(3) as ex:
                futs = [ex.submit(s.post, "/predictions", {"input": {"name": n, "seconds": 1.0}})
                        for n in ("a", "b")]
                time.sleep(0.3)
                self.assertEqual(s.get("/health-check")[1]["status"], "BUSY")
                third = s.post("/predictions", {"input": {"name": "c"}})
                results = [f.result() for f in futs]
            self.assertLess(time.monotonic() - t0, 1.9, "the two ran concurrently")
            self.assertEqual(third[0], 409)
            for (code, body), n in zip(results, ("a", "b")):
                self.assertEqual((code, body["status"], body["output"]), (200, "succeeded",
                                                                        ["done-" + n]))
                self.assertEqual(body["logs"], "start %s\nend %s\n" % (n, n))
                self.assertEqual(body["metrics"]["name_len"], 1)
            code, body = s.request("PUT", "/predictions/ac-1", {"input": {"seconds": 10}},
                                   headers={"Prefer": "respond-async"})
            self.assertEqual(code, 202)
            time.sleep(0.2)
            self.assertEqual(s.post("/predictions/ac-1/cancel")[0], 200)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and body["status"] not in ("canceled", "failed"):
                time.sleep(0.05)
                body = s.request("PUT", "/predictions/ac-1", {"input": {}})[1]
            self.assertEqual(body["status"], "canceled")
        finally:
            s.stop()

    def test_async_stream(self):
        """an async generator streams into the output list"""
        s = Server("server_model.py:AsyncStream", COG_MAX_CONCURRENCY="4")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {"n": 3}})
            self.assertEqual((code, body.get("output")), (200, ["w0 ", "w1 ", "w2 "]), body)
        finally:
            s.stop()


class TestUserHealthcheck(unittest.TestCase):
    """A predictor's own healthcheck(), as Cog 0.16.10+ (healthcheck_* fixtures)."""

    def test_user_healthcheck(self):
        """healthcheck(): READY while it passes, also during a prediction; UNHEALTHY with the reason when it returns False, raises or takes over 5 s"""
        import concurrent.futures
        s = Server("healthcheck_model.py:Predictor")
        try:
            body = s.wait()
            self.assertNotIn("user_healthcheck_error", body)
            with concurrent.futures.ThreadPoolExecutor(1) as ex:
                fut = ex.submit(s.post, "/predictions", {"input": {"seconds": 1.0}})
                time.sleep(0.3)
                code, body = s.get("/health-check")
                self.assertEqual((code, body["status"]), (200, "BUSY"), body)
                self.assertNotIn("user_healthcheck_error", body)
                self.assertEqual(fut.result()[1]["output"], "mode=ok")
            self.assertEqual(s.get("/health-check")[1]["status"], "READY")
            cases = [("false", "Healthcheck failed: user-defined healthcheck returned False"),
                     ("raise", "Healthcheck failed: Critical system error")]
            for mode, want in cases:
                self.assertEqual(s.post("/predictions", {"input": {"mode": mode}})[1]["status"],
                                 "succeeded")
                code, body = s.get("/health-check")
                self.assertEqual(code, 200)
                self.assertEqual(body["status"], "UNHEALTHY", body)
                self.assertEqual(body["user_healthcheck_error"], want)
                self.assertEqual(body["setup"]["status"], "succeeded")
            s.post("/predictions", {"input": {"mode": "ok"}})
            self.assertEqual(s.get("/health-check")[1]["status"], "READY")
            s.post("/predictions", {"input": {"mode": "slow"}})
            t0 = time.monotonic()
            code, body = s.get("/health-check")
            took = time.monotonic() - t0
            self.assertEqual(body["status"], "UNHEALTHY", body)
            self.assertEqual(body["user_healthcheck_error"], "Healthcheck failed: user-defined "
                             "healthcheck timed out after 5.0 seconds")
            self.assertTrue(4.5 < took < 8, took)
            # the server still predicts while a healthcheck hangs
            code, body = s.post("/predictions", {"input": {"mode": "ok"}})
            self.assertEqual((code, body["output"]), (200, "mode=ok"))
        finally:
            s.stop()

    def test_async_healthcheck(self):
        """async def healthcheck() is awaited; its exception makes UNHEALTHY"""
        s = Server("healthcheck_model.py:AsyncCheck")
        try:
            s.wait()
            self.assertEqual(s.get("/health-check")[1]["status"], "READY")
            s.post("/predictions", {"input": {"fail": True}})
            body = s.get("/health-check")[1]
            self.assertEqual((body["status"], body["user_healthcheck_error"]),
                             ("UNHEALTHY", "Healthcheck failed: Async healthcheck error"))
        finally:
            s.stop()

    def test_setup_failed_skips_healthcheck(self):
        """no user healthcheck before setup succeeded: SETUP_FAILED stays, with no user_healthcheck_error"""
        s = Server("healthcheck_model.py:BrokenSetup", args=["--await-explicit-shutdown", "true"])
        try:
            body = s.wait(status=("SETUP_FAILED",))
            self.assertNotIn("user_healthcheck_error", body)
        finally:
            s.stop()


class TestScopeContext(unittest.TestCase):
    def test_context(self):
        """current_scope().context is the request's context; empty without one; not an object of strings: 422"""
        s = Server("scope_context.py:Predictor")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {}, "context": {
                "api_token": "secret123", "region": "us-east-1"}})
            self.assertEqual((code, body["status"]), (200, "succeeded"), body)
            self.assertEqual(body["output"], "api_token:secret123, region:us-east-1")
            code, body = s.post("/predictions", {"input": {"expect_empty": "true"}})
            self.assertEqual(body["output"], "context_is_empty=True")
            code, body = s.post("/predictions", {"input": {}, "context": {"n": 5}})
            self.assertEqual(body["output"], "n:5")
            code, body = s.post("/predictions", {"input": {}, "context": ["x"]})
            self.assertEqual(code, 422)
            self.assertEqual(body["detail"][0]["loc"], ["body", "context"])
            code, body = s.post("/predictions", {"input": {}, "context": {"k": {"x": 1}}})
            self.assertEqual(code, 422)
            self.assertEqual(body["detail"][0]["loc"], ["body", "context", "k"])
        finally:
            s.stop()

    def test_context_async(self):
        """concurrent async predictions each see their own request's context"""
        import concurrent.futures
        s = Server("scope_context.py:AsyncPredictor", COG_MAX_CONCURRENCY="3")
        try:
            s.wait()
            with concurrent.futures.ThreadPoolExecutor(3) as ex:
                futs = [ex.submit(s.post, "/predictions", {"input": {}, "context": {
                    "region": r}}) for r in ("a", "b", "c")]
                outs = [f.result()[1].get("output") for f in futs]
            self.assertEqual(outs, ["a", "b", "c"])
        finally:
            s.stop()


class TestUnions(unittest.TestCase):
    def test_union_input_http(self):
        """str | float | None (Cog's union_input_http): each member keeps its JSON type; omitted is None; null, bool and objects are refused"""
        s = Server("unions.py:Predictor")
        try:
            s.wait()
            for value, want in (("hello", "str:hello"), (1.5, "float:1.5"), (1, "int:1")):
                code, body = s.post("/predictions", {"input": {"value": value}})
                self.assertEqual((code, body.get("output")), (200, want), body)
            self.assertEqual(s.post("/predictions", {"input": {}})[1]["output"], "NoneType:none")
            for bad in (None, True, {"x": 1}):
                code, body = s.post("/predictions", {"input": {"value": bad}})
                self.assertEqual(code, 422, (bad, body))
                self.assertEqual(body["detail"][0]["loc"], ["body", "input", "value"])
        finally:
            s.stop()

    def test_union_input_list_http(self):
        """list[int] | list[float] (Cog's union_input_list_http): [1], [1.5], [] pass; ["3"], [true], 1 are refused"""
        s = Server("unions.py:ListUnion")
        try:
            s.wait()
            for nums, want in (([1], "int:1"), ([1.5], "float:1.5"), ([], "empty")):
                code, body = s.post("/predictions", {"input": {"nums": nums}})
                self.assertEqual((code, body.get("output")), (200, want), body)
            for bad in (["3"], [True], 1):
                code, body = s.post("/predictions", {"input": {"nums": bad}})
                self.assertEqual(code, 422, (bad, body))
            code, body = s.post("/predictions", {"input": {}})
            self.assertEqual((code, body["detail"][0]["msg"]), (422, "field required"))
        finally:
            s.stop()


class TestOptionalFields(unittest.TestCase):
    def test_optional_fields_default_none(self):
        """a BaseModel output's Optional fields without a default are None when not given (as pydantic 1)"""
        s = Server("optional_fields.py:Predictor")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {}})
            self.assertEqual((code, body["status"]), (200, "succeeded"), body)
            self.assertEqual(body["output"], {"text": "t", "score": None, "tags": None,
                                              "note": None, "count": 0})
            code, body = s.post("/predictions", {"input": {"full": True}})
            self.assertEqual(body["output"], {"text": "t", "score": 0.5, "tags": ["a"],
                                              "note": "n", "count": 2})
        finally:
            s.stop()


class TestRunnerServer(unittest.TestCase):
    def test_base_runner(self):
        """a BaseRunner's setup() and run() serve /predictions (Cog 0.22's run_new_runner); self.record_metric and self.scope work"""
        s = Server("runner.py:Runner")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {"s": "world"}})
            self.assertEqual((code, body.get("output")), (200, "hello world"), body)
            self.assertEqual(body["metrics"]["greeted"], 1, "self.record_metric")
            code, body = s.post("/predictions", {"input": {"s": "w"}, "context": {"suffix": "!"}})
            self.assertEqual(body.get("output"), "hello w!", "self.scope.context")
            self.assertEqual(s.post("/predictions", {"input": {}})[0], 422)
        finally:
            s.stop()
        s = Server("runner.py:HelperRun")
        try:
            s.wait()
            self.assertEqual(s.post("/predictions", {"input": {"n": 2}})[1]["output"],
                             "predict 2")
        finally:
            s.stop()


class TestCog022Inputs(unittest.TestCase):
    def test_dict_input(self):
        """dict inputs (Cog 0.22's dict_input): any object passes, {} too; not an object: 422"""
        s = Server("dict_inputs.py:Predictor")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {"data": {"greeting": "hello",
                                                                    "count": 3}}})
            self.assertEqual((code, body.get("output")), (200, "count=3, greeting=hello"), body)
            self.assertEqual(s.post("/predictions", {"input": {"data": {}}})[1]["output"], "")
            code, body = s.post("/predictions", {"input": {"data": "x"}})
            self.assertEqual((code, body["detail"][0]["type"]), (422, "type_error.dict"))
        finally:
            s.stop()
        s = Server("dict_inputs.py:Several")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {
                "data": {"name": "alice"}, "messages": [{"role": "user"}, {}],
                "items": [{"id": 1}, {"id": 2}], "payload": {"name": "p", "count": 2}}})
            self.assertEqual(body.get("output"), "data=1 messages=2 items=2 payload=p:2 more=0",
                             body)
            code, body = s.post("/predictions", {"input": {
                "data": {}, "messages": [1], "items": [], "payload": {}}})
            self.assertEqual((code, body["detail"][0]["loc"]),
                             (422, ["body", "input", "messages", 0]))
        finally:
            s.stop()

    def test_optional_input_no_default(self):
        """a bare Optional input may be omitted: None (Cog 0.22's optional_input_no_default)"""
        s = Server("optional_no_default.py:Predictor")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {"value": "world"}})
            self.assertEqual((code, body.get("output")), (200, "type=str value=world"), body)
            code, body = s.post("/predictions", {"input": {}})
            self.assertEqual((code, body.get("output")), (200, "type=NoneType value=none"), body)
        finally:
            s.stop()

    def test_optional_secret(self):
        """a Secret with default=None may be omitted (None); the required one may not"""
        s = Server("secret_optional.py:Predictor")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {"prompt": "p",
                                                           "api_key_required": "k"}})
            self.assertEqual((code, body.get("output")), (200, "p:none"), body)
            code, body = s.post("/predictions", {"input": {"prompt": "p", "api_key": "s3",
                                                           "api_key_required": "k"}})
            self.assertEqual(body.get("output"), "p:s3")  # a str output is not redacted
            self.assertEqual(body["input"]["api_key"], "**********")
            code, body = s.post("/predictions", {"input": {"prompt": "p"}})
            self.assertEqual((code, body["detail"][0]["loc"]),
                             (422, ["body", "input", "api_key_required"]))
        finally:
            s.stop()


class TestSysExit(unittest.TestCase):
    def test_sys_exit(self):
        """sys.exit(1) in predict: that prediction fails with SystemExit, the next one succeeds (Cog 0.22's predict_sys_exit), sync and async"""
        for ref, extra in (("sys_exit.py:Predictor", {}),
                           ("sys_exit.py:AsyncPredictor", {"COG_MAX_CONCURRENCY": "2"})):
            with self.subTest(ref=ref):
                s = Server(ref, **extra)
                try:
                    s.wait()
                    code, body = s.post("/predictions", {"input": {"do_exit": True}})
                    self.assertEqual((code, body["status"], body["error"]),
                                     (200, "failed", "SystemExit: 1"), body)
                    self.assertIn("SystemExit", body["logs"])
                    code, body = s.post("/predictions", {"input": {"do_exit": False}})
                    self.assertEqual((code, body["status"], body["output"]),
                                     (200, "succeeded", "still alive"))
                    self.assertEqual(s.get("/health-check")[1]["status"], "READY")
                    self.assertIsNone(s.proc.poll())
                finally:
                    s.stop()


class TestWire(unittest.TestCase):
    def test_compact_responses(self):
        """responses are compact JSON with UTF-8 unescaped, as FastAPI's (no ", " or ": ")"""
        import http.client
        import json
        s = Server("server_model.py:Predictor")
        try:
            s.wait()
            raws = []
            for method, path, body in (("GET", "/health-check", None), ("GET", "/", None),
                                       ("POST", "/predictions", {"input": {"text": "é ü"}}),
                                       ("POST", "/predictions", {"input": {}})):
                c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
                try:
                    c.request(method, path, body=json.dumps(body) if body else None,
                              headers={"Content-Type": "application/json"})
                    r = c.getresponse()
                    raw = r.read()
                finally:
                    c.close()
                raws.append(raw)
                with self.subTest(path=path, body=body):
                    doc = json.loads(raw)
                    self.assertEqual(raw, json.dumps(doc, ensure_ascii=False,
                                                     separators=(",", ":")).encode("utf-8"))
                    self.assertEqual(r.getheader("Content-Type"), "application/json")
            self.assertIn('"output":{"text":"é ü"'.encode("utf-8"), raws[2])
            self.assertIn(b'"status":"READY"', raws[0])
        finally:
            s.stop()


class TestMetrics(unittest.TestCase):
    def test_record_metric_modes(self):
        """record_metric replace/incr/append, dotted names nest, None deletes, scope.metrics[...] and emit_metric (Cog 0.22's coglet_metrics)"""
        s = Server("metrics.py:Predictor")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {}})
            self.assertEqual((code, body["status"]), (200, "succeeded"), body)
            m = dict(body["metrics"])
            self.assertGreaterEqual(m.pop("predict_time"), 0)
            self.assertEqual(m, {"temperature": 0.7, "token_count": 3, "tags": ["fast", "cached"],
                                 "timing": {"preprocess": 0.1}, "dict_metric": "hello",
                                 "output_tokens": 42, "input_tokens": 10})
        finally:
            s.stop()


class TestCog022Api(unittest.TestCase):
    def test_imports_and_decorators(self):
        """ExperimentalFeatureWarning, CancelationException, @streaming and @concurrent(max=2) import and work; the schema is read without importing"""
        import concurrent.futures
        from helpers import schema
        for ref in ("cog022_api.py:Streamed", "cog022_api.py:Concurrent"):
            from cog import static
            import os
            from helpers import PREDICTORS
            static.read_file(os.path.join(PREDICTORS, "cog022_api.py"), ref.split(":")[1],
                             "predict")  # no Undecidable for cog's decorators
            self.assertIn("Input", schema(ref)["components"]["schemas"])
        s = Server("cog022_api.py:Predictor")
        try:
            s.wait()
            self.assertEqual(s.post("/predictions", {"input": {"s": "world"}})[1]["output"],
                             "hello world")
        finally:
            s.stop()
        s = Server("cog022_api.py:Streamed")
        try:
            s.wait()
            self.assertEqual(s.post("/predictions", {})[1]["output"], ["chunk-1", "chunk-2"])
        finally:
            s.stop()
        s = Server("cog022_api.py:Concurrent")
        try:
            s.wait()
            t0 = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(2) as ex:
                res = [f.result() for f in [ex.submit(s.post, "/predictions", {"input": {}})
                                            for _ in range(2)]]
            self.assertEqual([(c, b.get("output")) for c, b in res], [(200, "done")] * 2)
            self.assertLess(time.monotonic() - t0, 1.1, "the two ran at once")
        finally:
            s.stop()


class TestMetricNames(unittest.TestCase):
    def test_record_metric_names(self):
        """record_metric refuses names Cog 0.22 refuses: the prediction fails saying why (coglet_metrics_validation); emit_metric takes any name"""
        s = Server("metrics_validation.py:Predictor")
        try:
            s.wait()
            cases = {"underscore_prefix": "must start with a letter",
                     "consecutive_underscore": "must not contain consecutive underscores",
                     "trailing_underscore": "must end with a letter or digit",
                     "leading_dot": "must not start with a dot",
                     "consecutive_dot": "empty segments",
                     "predict_time": "predict_time",
                     "cog_prefix": "cog.",
                     "too_many_segments": "at most 4 dot-separated segments",
                     "name_too_long": "128 characters"}
            for test, msg in cases.items():
                code, body = s.post("/predictions", {"input": {"test": test}})
                with self.subTest(test=test):
                    self.assertEqual((code, body["status"]), (200, "failed"), body)
                    self.assertIn(msg, body["error"])
            code, body = s.post("/predictions", {"input": {"test": "valid"}})
            self.assertEqual((body["status"], body["metrics"]["valid_name"]), ("succeeded", 1))
            code, body = s.post("/predictions", {"input": {"test": "emit"}})
            self.assertEqual((body["status"], body["metrics"]["_any_name_"]), ("succeeded", 1))
        finally:
            s.stop()


def _has_pydantic():
    import subprocess
    from helpers import PYTHON
    return subprocess.run([PYTHON, "-c", "import pydantic"], capture_output=True).returncode == 0


class TestPydanticModels(unittest.TestCase):
    @unittest.skipUnless(_has_pydantic(), "no pydantic for this python (PYTHON=... with pydantic runs it)")
    def test_cog_types_in_pydantic_models(self):
        """cog.Path and cog.Secret inside the model's own pydantic models (Cog 0.16's complex_output)"""
        s = Server("pydantic_output.py:Predictor")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {"msg": "test error"}})
            self.assertEqual((code, body.get("output")), (200, {"success": False, "error":
                                                                 "test error",
                                                                 "segmentedImage": None}), body)
            code, body = s.post("/predictions", {"input": {"msg": "x", "with_file": True}})
            self.assertTrue(body["output"]["segmentedImage"].startswith("data:text/plain"), body)
        finally:
            s.stop()


class TestOpaque(unittest.TestCase):
    def test_opaque(self):
        """Annotated[T, Opaque] inputs and output fields pass JSON objects through (Cog 0.22's static_schema_opaque)"""
        s = Server("opaque.py:Predictor")
        try:
            s.wait()
            code, body = s.post("/predictions", {"input": {
                "payload": {"name": "alice", "count": 2},
                "items": [{"name": "first"}, {"name": "second"}]}})
            self.assertEqual((code, body.get("output")), (200, {
                "result": {"name": "alice", "count": 2},
                "results": [{"name": "first"}, {"name": "second"}]}), body)
            code, body = s.post("/predictions", {"input": {"payload": "x", "items": []}})
            self.assertEqual((code, body["detail"][0]["loc"]), (422, ["body", "input", "payload"]))
        finally:
            s.stop()


def sse_events(text):
    """[(event, data)] of an SSE body"""
    out = []
    for block in text.split("\n\n"):
        lines = dict(l.split(": ", 1) for l in block.split("\n") if ": " in l)
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


class TestSSE(unittest.TestCase):
    SSE = {"Accept": "text/event-stream"}

    def test_stream(self):
        """POST with Accept: text/event-stream: start, logs, metric, outputs, completed (Cog 0.22)"""
        s = Server("sse_model.py:Predictor", "sse_model.py:Predictor")
        try:
            s.wait()
            code, text = s.request_text("POST", "/predictions", {"input": {"n": 2}},
                                        {"Accept": "application/json, text/event-stream;q=0.9"})
            self.assertEqual(code, 200, text)
            ev = sse_events(text)
            names = [e[0] for e in ev]
            self.assertEqual((names[0], names[-1]), ("start", "completed"), text)
            self.assertEqual(ev[0][1]["status"], "processing")
            self.assertIn(("log", {"source": "stdout", "data": "to stdout"}), ev)
            self.assertIn(("log", {"source": "stderr", "data": "to stderr\n"}), ev)
            self.assertIn(("metric", {"name": "tokens", "value": 1, "mode": "increment"}), ev)
            self.assertEqual([d for n, d in ev if n == "output"],
                             [{"chunk": "tok-0", "index": 0}, {"chunk": "tok-1", "index": 1}])
            done = ev[-1][1]
            self.assertEqual((done["status"], done["output"], done["metrics"]["tokens"]),
                             ("succeeded", ["tok-0", "tok-1"], 1))
            doc = s.get("/openapi.json")[1]  # Cog 0.22 marks the operation
            self.assertIs(doc["paths"]["/predictions"]["post"]["x-cog-streaming"], True)
            self.assertNotIn("x-cog-streaming", doc["paths"]["/trainings"]["post"])
            # a bad input is still a 422 in JSON; trainings never stream (406)
            code, text = s.request_text("POST", "/predictions", {"input": {"n": -1}}, self.SSE)
            self.assertEqual(code, 422, text)
            code, text = s.request_text("POST", "/trainings", {"input": {}}, self.SSE)
            self.assertEqual((code, json.loads(text)), (406, {
                "error": "Training endpoints do not support streaming responses."}))
            # without the header: JSON as before
            code, body = s.post("/predictions", {"input": {"n": 1}})
            self.assertEqual((code, body["output"]), (200, ["tok-0"]))
        finally:
            s.stop()

    def test_async_stream(self):
        """an async generator under concurrency streams too; @streaming() with parentheses"""
        s = Server("sse_model.py:AsyncStreamer", COG_MAX_CONCURRENCY="2")
        try:
            s.wait()
            code, text = s.request_text("PUT", "/predictions/as1", {"input": {"n": 3}}, self.SSE)
            ev = sse_events(text)
            self.assertEqual([d["chunk"] for n, d in ev if n == "output"], ["a0", "a1", "a2"], text)
            self.assertEqual(ev[-1][1]["status"], "succeeded")
            # the same id again, finished: its events replayed
            code, text = s.request_text("PUT", "/predictions/as1", {"input": {"n": 3}}, self.SSE)
            self.assertEqual([n for n, d in sse_events(text)][-1], "completed", text)
        finally:
            s.stop()
