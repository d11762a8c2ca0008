"""Where a store is written: a claimed local destination (lock, partial folder, atomic rename) or an object
store (lock object, root document last)."""
