class ExternalObject:
    """Cog 0.22's static_schema_opaque: a type from a library cog knows nothing of."""
