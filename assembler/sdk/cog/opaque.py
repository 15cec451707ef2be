"""cog.Opaque (Cog 0.22): in `Annotated[T, Opaque]`, T is any JSON object
passed through as is (an object in the schema; `List[T]` an array of them)."""


class _OpaqueMarker:
    def __repr__(self) -> str:
        return "cog.Opaque"


Opaque = _OpaqueMarker()
