"""Reading an NWB 1.0 source: finding it (paths, URLs, experiment ids, the download cache) and opening it
with h5py as a neutral tree of typed nodes, with normalised attributes and safe store names."""
