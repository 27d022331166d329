"""The time-series database: head, WAL, blocks, compaction (see storage.py for the interfaces)."""
