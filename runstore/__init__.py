"""Where a study's files live, and how they are written: one home for every package.

    locations  local paths and URIs (s3://, gs://, file://), their pyarrow filesystem, credentials kept out of
               anything written or printed
    files      atomic, durable writes (temporary name, fsync, rename), reads, existence, a writability probe
               with a time limit
    lock       the run folder's lock: one driver per study, a stale lock recognised and explained

The bottom layer of the project: it imports neither torch, nor Ray, nor any other package of the project, so
`trainables`, `analysis`, `search_spaces` and `ablation` may all use it.
"""
from runstore.files import (StorageError, check_writable, exists, list_names, open_atomic, read_bytes, read_text,
                            remove, remove_tree, upload_folder, write_atomic)
from runstore.locations import filesystem, is_local, join, normalise, redact, split_credentials
from runstore.lock import LockError, RunLock

__all__ = ["LockError", "RunLock", "StorageError", "check_writable", "exists", "filesystem", "is_local", "join",
           "list_names", "normalise", "open_atomic", "read_bytes", "read_text", "redact", "remove", "remove_tree",
           "split_credentials", "upload_folder", "write_atomic"]
