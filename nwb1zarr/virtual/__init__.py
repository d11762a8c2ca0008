"""Virtual stores: the labelled DataTree in an Icechunk repository whose plain-copy arrays are chunk references
into the original NWB 1.0 file (needs ``pip install "nwb1zarr[virtual]"``).

Modules, one job each: ``eligible`` (which plan entries can be references), ``manifests`` (h5py chunk index ->
VirtualiZarr ``ManifestArray``), ``repository`` (Icechunk storage, virtual chunk container, credentials, claiming
a destination), ``convert_virtual`` (the conversion), ``open`` (:func:`open_store`, :func:`array_kinds`).
icechunk and virtualizarr are imported only when a virtual store is made or opened.

>>> import nwb1zarr
>>> nwb1zarr.convert("570014520.nwb", "570014520.icechunk", virtual=True)   # doctest: +SKIP
>>> dt = nwb1zarr.open_store("570014520.icechunk")                          # doctest: +SKIP
"""
