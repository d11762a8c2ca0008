"""The plan stage: a legacy tree and a profile (schemas/) -> a :class:`Plan`, the plain value saying where
every source object goes; the named transforms, derivations, parsers and checks profiles may name; chunk shapes."""
