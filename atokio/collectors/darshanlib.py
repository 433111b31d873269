"""libdarshan-util through cffi, loaded once per process (for :mod:`atokio.collectors.darshanlog`).

The library is loaded straight from the ``darshan`` wheel (its own cffi
declarations and its bundled library), which spares each process the import
of pandas that ``import darshan`` brings; where that is not possible the
package's own ``darshan.backend.cffi_backend`` is used.  :class:`_Library`
also knows each module's counter names and the numpy view of its records.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import logging
import os
import re
from typing import Any

from atokio.collectors.darshanfile import DarshanLogError

__all__ = ["GENERIC", "direct_reader_available"]

logger = logging.getLogger(__name__)

#: Modules whose records are the generic ``base_rec, counters[], fcounters[]`` layout,
#: with the cffi struct type of each.
GENERIC = {
    "POSIX": "struct darshan_posix_file",
    "MPI-IO": "struct darshan_mpiio_file",
    "H5F": "struct darshan_hdf5_file",
    "H5D": "struct darshan_hdf5_dataset",
    "PNETCDF_FILE": "struct darshan_pnetcdf_file",
    "PNETCDF_VAR": "struct darshan_pnetcdf_var",
    "BG/Q": "struct darshan_bgq_record",
    "STDIO": "struct darshan_stdio_file",
    "DFS": "struct darshan_dfs_file",
    "DAOS": "struct darshan_daos_object",
}


class _Library:
    """libdarshan-util through cffi: the ``ffi`` declarations and the loaded ``lib``."""

    def __init__(self, ffi: Any, lib: Any) -> None:
        self.ffi = ffi
        self.lib = lib
        self._names: dict[tuple[str, bool], tuple[str, ...]] = {}
        self._dtypes: dict[str, Any] = {}

    def counter_names(self, module: str, floats: bool = False) -> tuple[str, ...]:
        """Counter names of a module as the library spells them (``POSIX_OPENS``)."""
        found = self._names.get((module, floats))
        if found is None:
            found = self._names[module, floats] = self._counter_names(module, floats)
        return found

    def _counter_names(self, module: str, floats: bool) -> tuple[str, ...]:
        stem = module.replace("-", "").replace("/", "")
        f = "f_" if floats else ""
        end = f"{stem.upper()}_{f.upper()}NUM_INDICES"
        try:
            table = getattr(self.lib, f"{stem.lower()}_{f}counter_names")
        except AttributeError:
            return ()
        names: list[str] = []
        while True:
            name = self.ffi.string(table[len(names)]).decode()
            if name == end:
                return tuple(names)
            names.append(name)

    def record_dtype(self, module: str) -> Any:
        """A numpy record type viewing the module's C struct (id, rank, counters, fcounters)."""
        found = self._dtypes.get(module)
        if found is None:
            found = self._dtypes[module] = self._record_dtype(module)
        return found

    def _record_dtype(self, module: str) -> Any:
        import numpy

        ctype = self.ffi.typeof(GENERIC[module])
        fields = dict(ctype.fields)
        names = ["id", "rank"]
        formats: list[Any] = ["<u8", "<i8"]
        offsets = [0, 8]
        for field, fmt in (("file_rec_id", "<u8"), ("counters", "<i8"), ("fcounters", "<f8")):
            if field not in fields:
                continue
            names.append(field)
            offsets.append(fields[field].offset)
            length = getattr(fields[field].type, "length", None)
            formats.append(fmt if length is None else (fmt, (length,)))
            if length is not None:
                expected = len(self.counter_names(module, floats=field == "fcounters"))
                if expected != length:
                    raise DarshanLogError(
                        f"libdarshan-util declares {length} {field} for {module} "
                        f"but names {expected}"
                    )
        return numpy.dtype(
            {
                "names": names,
                "formats": formats,
                "offsets": offsets,
                "itemsize": self.ffi.sizeof(ctype),
            }
        )


@functools.cache
def _library() -> _Library:
    """libdarshan-util, loaded once per process (see the module docstring)."""
    try:
        return _load_from_wheel()
    except Exception as error:  # any surprise: use the package's own loader
        logger.debug("loading libdarshan-util from the darshan wheel failed: %s", error)
    try:
        from darshan.backend import cffi_backend
    except ImportError as error:
        raise DarshanLogError(
            f"the direct Darshan reader needs the 'darshan' package: {error}"
        ) from error
    return _Library(cffi_backend.ffi, cffi_backend.libdutil)


def _load_from_wheel() -> _Library:
    import cffi

    spec = importlib.util.find_spec("darshan")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("no 'darshan' package")
    package = list(spec.submodule_search_locations)[0]
    libraries = glob.glob(
        os.path.join(os.path.dirname(package), "darshan.libs", "libdarshan-util*.so*")
    )
    if not libraries:
        raise ImportError("the darshan package bundles no libdarshan-util")
    api_spec = importlib.util.spec_from_file_location(
        "atokio_darshan_api_def_c", os.path.join(package, "backend", "api_def_c.py")
    )
    if api_spec is None or api_spec.loader is None:
        raise ImportError("darshan/backend/api_def_c.py not found")
    api = importlib.util.module_from_spec(api_spec)
    api_spec.loader.exec_module(api)
    ffi = cffi.FFI()
    ffi.cdef(api.load_darshan_header())
    lib = ffi.dlopen(libraries[0])
    with open(os.path.join(package, "__init__.py")) as handle:
        wanted = re.search(r"__darshanutil_version__\s*=\s*['\"]([^'\"]+)", handle.read())
    found = ffi.string(lib.darshan_log_get_lib_version()).decode()
    if wanted is None or wanted.group(1).split(".")[:3] != found.split(".")[:3]:
        raise ImportError(f"libdarshan-util {found} does not match the package's declarations")
    return _Library(ffi, lib)


def direct_reader_available() -> bool:
    """Whether libdarshan-util can be loaded in this process."""
    try:
        _library()
    except DarshanLogError:
        return False
    return True
