"""Input and output types of the Cog API: Path, File, Secret, URLPath and the
iterators used for streamed output.  Standard library only."""

import base64
import io
import mimetypes
import os
import pathlib
import shutil
import tempfile
import urllib.parse
import urllib.request
from typing import Any, AsyncIterator, Iterator, TypeVar

Item = TypeVar("Item")

# limits for fetching input files
DOWNLOAD_TIMEOUT = 120
MAX_DATA_URL = 1 << 30


class CogError(Exception):
    """An error in the model's interface, reported to the user as is."""


class CancelationException(Exception):
    """Raised inside predict() when the prediction is canceled."""


class ExperimentalFeatureWarning(Warning):
    """Cog 0.16's category for experimental features; models filter it."""


class _PydanticHooks:
    """Lets the model's own pydantic (1 or 2, if the image has it) hold cog
    types in its models, as Cog 0.16's types allow: `class Out(pydantic.
    BaseModel): image: Optional[cog.Path]`.  Nothing here imports pydantic."""

    _json_schema: Any = {"type": "string", "format": "uri"}

    @classmethod
    def __get_validators__(cls) -> Any:  # pydantic 1
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: Any) -> None:  # pydantic 1
        field_schema.update(cls._json_schema)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:  # pydantic 2
        # pydantic_core's core_schema.no_info_plain_validator_function(), which
        # is this plain dict (a TypedDict): no pydantic import needed
        return {"type": "function-plain",
                "function": {"type": "no-info", "function": cls.validate}}

    @classmethod
    def __get_pydantic_json_schema__(cls, core: Any, handler: Any) -> Any:  # pydantic 2
        return dict(cls._json_schema)


class Secret(_PydanticHooks):
    """A string that is redacted in logs, reprs and outputs."""

    _json_schema = {"type": "string", "format": "password", "writeOnly": True,
                    "x-cog-secret": True}

    REDACTED = "**********"

    def __init__(self, value: Any = None) -> None:
        if isinstance(value, Secret):
            value = value.get_secret_value()
        self._value = value

    def get_secret_value(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return "Secret(%r)" % (self.REDACTED if self._value else "")

    def __str__(self) -> str:
        return self.REDACTED if self._value else ""

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def validate(cls, value: Any) -> "Secret":
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            raise TypeError("str type expected")
        return cls(value)


def _download_dir() -> str:
    return tempfile.mkdtemp(prefix="cog-input-")


def _filename_from_url(url: str, default: str = "file") -> str:
    path = urllib.parse.urlparse(url).path
    name = os.path.basename(urllib.parse.unquote(path))
    # keep names safe and short
    name = "".join(c for c in name if c.isalnum() or c in "._-")[:200].lstrip(".")
    return name or default


def _data_url_bytes(url: str):
    """Decode a data: URL into (bytes, mime type)."""
    if len(url) > MAX_DATA_URL:
        raise ValueError("data URL too large")
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise ValueError("invalid data URL")
    parts = header.split(";")
    mime = parts[0] or "text/plain"
    if "base64" in parts[1:]:
        try:
            data = base64.b64decode(payload, validate=False)
        except Exception as e:
            raise ValueError("invalid base64 in data URL: %s" % e) from None
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    return data, mime


def fetch_to_file(value: str) -> str:
    """Materialise an input given as an http(s) URL, a data URL or a path into
    a local file and return its path."""
    if value.startswith("data:"):
        data, mime = _data_url_bytes(value)
        ext = mimetypes.guess_extension(mime) or ""
        dest = os.path.join(_download_dir(), "file" + ext)
        with open(dest, "wb") as f:
            f.write(data)
        return dest
    scheme = urllib.parse.urlparse(value).scheme
    if scheme in ("http", "https"):
        dest = os.path.join(_download_dir(), _filename_from_url(value))
        req = urllib.request.Request(value, headers={"User-Agent": "cog-pinion"})
        with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f)
        return dest
    if scheme == "file":
        value = urllib.parse.unquote(urllib.parse.urlparse(value).path)
    elif scheme and len(scheme) > 1:
        raise ValueError("unsupported URL scheme %r" % scheme)
    if not os.path.exists(value):
        raise ValueError("file %r does not exist" % value)
    return value


class Path(_PydanticHooks, pathlib.PosixPath):
    """A file: inputs may be http(s) URLs, data URLs or local paths; an output
    Path is sent back as a data URL or uploaded."""

    @classmethod
    def validate(cls, value: Any) -> "Path":
        if isinstance(value, pathlib.Path):
            return cls(value)
        if not isinstance(value, str):
            raise TypeError("value is not a valid path")
        return cls(fetch_to_file(value))


class URLPath(Path):
    """Kept for compatibility: a Path that was fetched from a URL."""


class File(_PydanticHooks, io.IOBase):
    """Deprecated in Cog in favour of Path; an input opened as a binary file."""

    @classmethod
    def validate(cls, value: Any) -> io.IOBase:
        if isinstance(value, io.IOBase):
            return value
        if not isinstance(value, str):
            raise TypeError("value is not a valid file")
        if value.startswith("data:"):
            data, _ = _data_url_bytes(value)
            f = io.BytesIO(data)
            f.name = "file"  # type: ignore[attr-defined]
            return f
        return open(fetch_to_file(value), "rb")


class ConcatenateIterator(Iterator[Item]):
    """An output iterator whose items are meant to be concatenated (tokens)."""

    def __next__(self) -> Item:  # pragma: no cover - a marker type
        raise StopIteration


class AsyncConcatenateIterator(AsyncIterator[Item]):
    """The async flavour of ConcatenateIterator."""

    async def __anext__(self) -> Item:  # pragma: no cover - a marker type
        raise StopAsyncIteration
