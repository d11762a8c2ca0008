"""Many sessions: ``convert_many`` on a dask.distributed cluster, resumable from an event log."""
