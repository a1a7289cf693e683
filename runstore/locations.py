"""Locations: a local path or a URI that every node of a cluster can reach (s3://, gs://, file://).

Credentials may arrive inside a storage URI (`s3://KEY:SECRET@bucket/runs`, `?access_key=...&secret_key=...`).
They must never be written into a study's files or printed: `redact` replaces them with `***` wherever a location
is shown, and `split_credentials` takes them out of the URI so that only the clean location travels (to spec.yaml,
to Ray Tune's experiment state) while the secrets go to the environment variables the filesystem reads.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pyarrow.fs as pafs

# Query parameters that carry secrets in pyarrow's S3/GCS URIs, and the environment variable each maps to.
SECRET_PARAMETERS = {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY",
                     "session_token": "AWS_SESSION_TOKEN", "access_token": None, "token": None, "password": None,
                     "credentials": None}
MASK = "***"


def is_local(location: str | os.PathLike) -> bool:
    return "://" not in str(location)


def normalise(location: str | os.PathLike) -> str:
    """An absolute local path for local storage (file:// included), else the URI unchanged."""
    location = str(location)
    if is_local(location):
        return str(Path(location).expanduser().resolve())
    parsed = urlsplit(location)
    if parsed.scheme == "file":
        # file:///abs/path has an empty host; file://myruns (a relative path written as a URI) puts the first
        # part of the path in the host slot, which must not be dropped (the study would land in the working folder)
        host = "" if parsed.netloc in ("", "localhost") else parsed.netloc
        return str(Path(unquote(host + parsed.path) or ".").expanduser().resolve())
    return location


def join(location: str, *parts: str) -> str:
    """`location`/part/...; a URI's query (`?endpoint_override=...`) stays at the end, where it belongs."""
    location = str(location)
    base, mark, query = location.partition("?") if not is_local(location) else (location, "", "")
    return "/".join([base.rstrip("/"), *parts]) + mark + query


def filesystem(location: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of a local path or URI, and the path within it."""
    location = str(location)
    if is_local(location):
        return pafs.LocalFileSystem(), os.path.abspath(location)
    return pafs.FileSystem.from_uri(location)


# KEY:SECRET@ after a scheme: an AWS secret key may hold "/" (and "+"), so the secret runs to the last "@" of
# the word, not to the first "/".
_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)([^:/@\s'\"]+:[^\s'\"]*@|[^/@\s'\"]+@)")


def redact(text: str) -> str:
    """`text` with every URI's user-info and secret query values replaced by ***."""
    text = _USERINFO.sub(rf"\1{MASK}@", str(text))
    names = "|".join(map(re.escape, SECRET_PARAMETERS))
    return re.sub(rf"([?&](?:{names})=)[^&\s'\"]*", rf"\1{MASK}", text, flags=re.IGNORECASE)


def split_credentials(location: str) -> tuple[str, dict[str, str]]:
    """(the URI without credentials, {environment variable: value}) for an S3 URI's user-info and secret query
    parameters. Other secret parameters are removed from nothing: a URI holding one is refused (ValueError),
    since it could not be used without writing it somewhere."""
    if is_local(location):
        return location, {}
    secrets: dict[str, str] = {}
    found = _USERINFO.match(location)
    if found:  # taken out before urlsplit, which would cut a secret holding "/" at its "/"
        userinfo = found.group(2)[:-1]
        location = found.group(1) + location[found.end():]
        key, _, secret = userinfo.partition(":")
        secrets["access_key"], secrets["secret_key"] = unquote(key), unquote(secret)
    parts = urlsplit(location)
    netloc = parts.netloc
    query = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in SECRET_PARAMETERS:
            secrets[name.lower()] = value
        else:
            query.append((name, value))
    if not secrets:
        return location, {}
    unmapped = [n for n in secrets if SECRET_PARAMETERS[n] is None or parts.scheme != "s3"]
    if unmapped:
        raise ValueError(f"credentials ({', '.join(sorted(unmapped))}) inside the storage URI "
                         f"{redact(location)} cannot be kept out of the study's files; give them through the "
                         "environment (e.g. AWS_ACCESS_KEY_ID, GOOGLE_APPLICATION_CREDENTIALS) instead")
    environment = {SECRET_PARAMETERS[name]: value for name, value in secrets.items() if value}
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment)), environment
