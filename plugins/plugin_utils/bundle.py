# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""(Controller side.) The routerhad bundle: the daemon and the pyroute2 it is pinned to, in one archive
built on the controller, so that a router needs no package index and no pip.

Layout (extracted into a release directory on the router)::

    lib/routerha/...           the daemon and routerhactl (this collection's src/routerha)
    lib/pyroute2/...           pyroute2, exactly the pinned version
    lib/pyroute2-X.dist-info/  its metadata and licence
    BUNDLE.json                versions and the content digest

The archive is reproducible: same sources, same bytes (sorted members, fixed
owners, modes and times, gzip without a time stamp), and it is named after a
digest of its content, so a router whose release directory already has that name
has nothing to do.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile

#: The pyroute2 version routerhad is tested with (pyproject.toml pins the same).
PYROUTE2_VERSION = "0.9.7"
#: Every member gets this mtime: 2000-01-01, so archives of equal content are equal.
FIXED_MTIME = 946684800
#: dist-info files that describe one installation, not the package.
LOCAL_METADATA = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")


class BundleError(Exception):
    pass


def collection_root():
    """This collection's root (plugin_utils is two levels below it)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def _walk(base, top, prefix):
    """(archive name, file path) of every file under base/top, without byte code."""
    out = []
    for directory, subdirs, files in os.walk(os.path.join(base, top)):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(directory, name)
            out.append((prefix + os.path.relpath(path, base).replace(os.sep, "/"), path))
    return out


def _version(package_dir):
    with open(os.path.join(package_dir, "__init__.py"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("__version__"):
                return line.split("=", 1)[1].strip().strip("\"'")
    raise BundleError(f"no __version__ in {package_dir}/__init__.py")


def find_pyroute2(path=None):
    """(site directory, package directory name, dist-info name or None, version).

    ``path``: a directory holding ``pyroute2/`` (a site-packages or an unpacked
    wheel). Without it, the controller Python's own pyroute2.
    """
    if path is None:
        try:
            import pyroute2  # noqa: PLC0415 (only the controller needs it, and only here)
        except ImportError as exc:
            raise BundleError(
                f"pyroute2 {PYROUTE2_VERSION} is not importable by the controller's Python; "
                f"install it there (pip install pyroute2=={PYROUTE2_VERSION}) or give pyroute2_path"
            ) from exc
        path = os.path.dirname(os.path.dirname(os.path.realpath(pyroute2.__file__)))
    if not os.path.isfile(os.path.join(path, "pyroute2", "__init__.py")):
        raise BundleError(f"{path} holds no pyroute2 package")
    dist_infos = sorted(
        d for d in os.listdir(path) if d.startswith("pyroute2-") and d.endswith(".dist-info")
    )
    version = dist_infos[-1][len("pyroute2-") : -len(".dist-info")] if dist_infos else None
    if version is None:
        raise BundleError(f"{path}: no pyroute2-*.dist-info tells pyroute2's version")
    if version != PYROUTE2_VERSION:
        raise BundleError(
            f"{path} has pyroute2 {version}; routerhad is pinned to {PYROUTE2_VERSION}"
        )
    return path, "pyroute2", dist_infos[-1], version


def _members(root, pyroute2_path):
    site, package, dist_info, pyroute2_version = find_pyroute2(pyroute2_path)
    src = os.path.join(root, "src")
    if not os.path.isfile(os.path.join(src, "routerha", "__init__.py")):
        raise BundleError(f"{src} holds no routerha package: is {root} the collection?")
    files = _walk(src, "routerha", "lib/") + _walk(site, package, "lib/")
    files += [
        (name, path)
        for name, path in _walk(site, dist_info, "lib/")
        if os.path.basename(path) not in LOCAL_METADATA
    ]
    return sorted(files), _version(os.path.join(src, "routerha")), pyroute2_version


def _tar_info(name, size, mode):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build(dest, root=None, pyroute2_path=None):
    """Build the bundle in ``dest`` unless it is there already.

    Returns a dict: path, name (also the release directory's), digest, version,
    pyroute2_version, built (False when an identical bundle existed).
    """
    root = root or collection_root()
    files, version, pyroute2_version = _members(root, pyroute2_path)
    digest = hashlib.sha256()
    contents = []
    for name, path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
        contents.append((name, data))
    short = digest.hexdigest()[:16]
    name = f"routerha-{version}-{short}"
    path = os.path.join(dest, name + ".tar.gz")
    result = {
        "path": path,
        "name": name,
        "digest": digest.hexdigest(),
        "version": version,
        "pyroute2_version": pyroute2_version,
        "built": False,
    }
    if os.path.exists(path):
        return result
    manifest = json.dumps(
        {"routerha": version, "pyroute2": pyroute2_version, "digest": digest.hexdigest()},
        indent=1,
        sort_keys=True,
    ).encode()
    os.makedirs(dest, mode=0o755, exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(_tar_info("BUNDLE.json", len(manifest), 0o644), io.BytesIO(manifest))
        directories = sorted(
            {
                name.rsplit("/", i)[0]
                for name, _data in contents
                for i in range(1, name.count("/") + 1)
            }
        )
        for directory in directories:
            info = _tar_info(directory, 0, 0o755)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        for member, data in contents:
            archive.addfile(_tar_info(member, len(data), 0o644), io.BytesIO(data))
    # Written beside its final name and renamed, so parallel workers never see half a file.
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=".bundle-")
    with (
        os.fdopen(fd, "wb") as handle,
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as zipped,
    ):
        zipped.write(raw.getvalue())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    result["built"] = True
    return result
