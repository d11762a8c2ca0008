"""The small lab_meta_data extension for Brain Observatory session metadata that core NWB 2 has no field for.

Its definition (namespace, type, fields with dtypes) is data in ``schemas/nwb2_export.json``; the spec is
built from it once per process and cached in every written file, so readers need nothing installed.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .nwb2_mapping import extension

_DOCS = {
    "not_exported": "store paths (and source objects) the export did not map, one a line, each with its reason",
    "source_file": "file name of the NWB 1.0 source",
    "external_data": "source datasets kept outside the NWB 1.0 file (the raw and motion-corrected 2-photon movies), "
                     "one a line with the link target; they stay external and are not in this NWB 2 file",
}


@functools.cache
def metadata_class() -> Any:
    """The pynwb class of the extension type (defined and loaded on first use).

    >>> metadata_class().__name__  # doctest: +SKIP
    'BrainObservatoryMetadata'
    """
    import pynwb
    from pynwb.spec import NWBAttributeSpec, NWBGroupSpec, NWBNamespaceBuilder

    ext = extension()
    builder = NWBNamespaceBuilder(doc=ext["doc"], name=ext["namespace"], version=ext["version"],
                                  author="nwb1zarr", contact="https://github.com/nwb1zarr")
    builder.include_type("LabMetaData", namespace="core")
    attributes = [NWBAttributeSpec(name=name, doc=_DOCS.get(name, name.replace("_", " ")), dtype=dtype,
                                   required=False) for name, dtype in ext["fields"].items()]
    spec = NWBGroupSpec(doc=ext["doc"], neurodata_type_def=ext["type"], neurodata_type_inc="LabMetaData",
                        attributes=attributes)
    with tempfile.TemporaryDirectory(prefix="nwb1zarr-ndx-") as folder:
        source = f"{ext['namespace']}.extensions.yaml"
        builder.add_spec(source, spec)
        namespace_path = Path(folder) / f"{ext['namespace']}.namespace.yaml"
        builder.export(str(namespace_path), outdir=folder)
        pynwb.load_namespaces(str(namespace_path))
    return pynwb.get_class(ext["type"], ext["namespace"])


def session_metadata(values: dict[str, Any]) -> Any:
    """An instance holding the given fields (absent ones omitted; ints as int64, the rest as text)."""
    ext = extension()
    kwargs: dict[str, Any] = {}
    for name, dtype in ext["fields"].items():
        value = values.get(name)
        if value is None:
            continue
        kwargs[name] = np.int64(value) if dtype == "int64" else str(value)
    return metadata_class()(name=ext["name"], **kwargs)
