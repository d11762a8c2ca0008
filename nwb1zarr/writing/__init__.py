"""The write stage: a Plan -> a lazy DataTree over the source -> a Zarr store (staged metadata and small
arrays, chunked copies of the large ones, provenance)."""
