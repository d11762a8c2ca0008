"""The validate stage, a second opinion that never imports the write stage: a store against its source
(plain h5py reads, transforms from their definitions), or a store alone by its digests and layout schema."""
