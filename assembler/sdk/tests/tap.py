"""Run the SDK's unittest suites and print TAP (`ok N - ...`, a plan), so
tests/run.sh counts them.  usage: python3 tap.py [test_module ...]"""

import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the package under test: assembler/sdk/cog
sys.path.insert(0, HERE)


class TapResult(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def _line(self, ok: bool, test: unittest.TestCase, note: str = "") -> None:
        self.n += 1
        desc = test.shortDescription() or test.id().split(".", 1)[-1]
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, desc, note), flush=True)

    def startTest(self, test):  # noqa: N802
        super().startTest(test)
        self._t0 = time.monotonic()

    def addSuccess(self, test):  # noqa: N802
        super().addSuccess(test)
        self._line(True, test, " (%.2fs)" % (time.monotonic() - self._t0))

    def _fail(self, test, err):
        self._line(False, test)
        for line in "".join(traceback.format_exception(*err)).splitlines():
            print("# " + line)

    def addFailure(self, test, err):  # noqa: N802
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):  # noqa: N802
        super().addError(test, err)
        self._fail(test, err)

    def addSkip(self, test, reason):  # noqa: N802
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP %s" % reason)

    def addSubTest(self, test, subtest, err):  # noqa: N802
        super().addSubTest(test, subtest, err)
        if err is None:
            self.n += 1
            print("ok %d - %s %s" % (self.n, subtest.shortDescription() or subtest.id(),
                                     subtest._subDescription()), flush=True)
        else:
            self._fail(subtest, err)


def main(argv) -> int:
    names = argv or sorted(f[:-3] for f in os.listdir(HERE)
                           if f.startswith("test_") and f.endswith(".py"))
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for n in names:
        suite.addTests(loader.loadTestsFromName(n))
    result = TapResult()
    suite.run(result)
    print("1..%d" % result.n)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
