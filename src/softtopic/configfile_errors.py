"""Name the file, line and column of a syntax error in a Snakemake config file.

Snakemake reads `--configfile` files in its command-line front end, before the Snakefile (and so
softtopic's config validation) runs, and reports a YAML syntax error as "Config file is not valid JSON
or YAML" without file or line. `make install` writes a one-line ``.pth`` file into the virtual
environment (``python -m softtopic.configfile_errors --install``) that calls `install()` at start-up;
`install()` wraps Snakemake's config loader when ``snakemake.common.configfile`` is first imported, so
that the error says where the problem is. If Snakemake's loader ever changes, the wrapper does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from pathlib import Path

TARGET = "snakemake.common.configfile"
PTH_NAME = "softtopic-configfile-errors.pth"
PTH_LINE = (
    "import importlib.util as _u; _u.find_spec('softtopic') and "
    "__import__('softtopic.configfile_errors', fromlist=['install']).install()\n"
)


def describe(path) -> str | None:
    """'<path>, line L, column C: <problem>' for a YAML file that does not parse; None otherwise."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            yaml.safe_load(handle)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        context = f" ({error.context}, line {error.context_mark.line + 1})" if error.context and error.context_mark else ""
        return f"{where}: {error.problem}{context}"
    except yaml.YAMLError as error:
        return f"{path}: {error}"
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _wrap(module) -> None:
    original = getattr(module, "_load_configfile", None)
    if original is None or getattr(original, "softtopic_wrapped", False):
        return

    def load(configpath_or_obj, filetype="Config"):
        try:
            return original(configpath_or_obj, filetype)
        except module.WorkflowError:
            where = describe(configpath_or_obj) if isinstance(configpath_or_obj, (str, Path)) else None
            if where is None:
                raise
            raise module.WorkflowError(
                f"{filetype} file {where}. Fix the YAML there (indent with spaces, close every bracket and quote)."
            ) from None

    load.softtopic_wrapped = True
    module._load_configfile = load


class _Finder(importlib.abc.MetaPathFinder):
    """Wraps the loader of TARGET so that `_wrap` runs right after the module is executed."""

    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_wrap(module):
            exec_module(module)
            _wrap(module)

        spec.loader.exec_module = exec_and_wrap
        return spec


def install() -> None:
    if TARGET in sys.modules:
        _wrap(sys.modules[TARGET])
    elif not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def write_pth() -> Path:
    """Write the start-up hook into this interpreter's site-packages."""
    import sysconfig

    target = Path(sysconfig.get_paths()["purelib"]) / PTH_NAME
    target.write_text(PTH_LINE)
    return target


if __name__ == "__main__":
    if sys.argv[1:] != ["--install"]:
        sys.exit("usage: python -m softtopic.configfile_errors --install")
    print(f"wrote {write_pth()}")
