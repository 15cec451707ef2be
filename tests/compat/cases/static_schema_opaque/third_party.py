class ExternalObject:
    pass
