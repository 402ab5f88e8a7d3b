"""The ``files`` kind's own config keys and its builder.

The kind reads a local directory, so the common ``base_url`` and ``token_file`` have no meaning
for it: the config refuses them (see :attr:`connectors.registry.Kind.endpoint`).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from connectors.base import SourceConfig
from connectors.files.client import ExportDirectory
from connectors.files.normalize import SCHEMA_FIELDS, CsvFormat
from connectors.files.source import FilesChatSource
from connectors.model import Stream
from connectors.options import OptionError, required

STREAMS = frozenset({Stream.CHAT})
PAIRING_HINT = (
    "Exported files carry chat, not orders: read the orders from the shop platform "
    '(kind = "taobao", "shopify", "woocommerce" or "generic").'
)
MAX_QUIET_SECONDS = 3600


@dataclass(frozen=True, kw_only=True)
class FilesOptions:
    path: str = field(
        metadata=required(
            "the absolute path of the directory the shop's chat exports are dropped into"
        )
    )
    presence: bool = False
    """The exports carry agents' presence too; the watermark then waits for both."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """CSV only: a schema field → the header that names it in the shop's files."""
    csv_encoding: str = "utf-8"
    """CSV only: the files' text encoding (``"gb18030"`` for a Chinese Excel export)."""
    quiet_seconds: int = 30
    """A file changed within this many seconds is left for the next poll (still copying)."""

    def __post_init__(self) -> None:
        if not PurePath(self.path).is_absolute():
            raise OptionError("path", "write the directory's absolute path")
        for name, header in self.columns.items():
            if name not in SCHEMA_FIELDS:
                known = ", ".join(sorted(SCHEMA_FIELDS))
                raise OptionError(f"columns.{name}", f"not a field of the schema ({known})")
            if not header.strip():
                raise OptionError(f"columns.{name}", "the header must not be empty")
        try:
            codecs.lookup(self.csv_encoding)
        except LookupError:
            raise OptionError(
                "csv_encoding", f"{self.csv_encoding!r} is no encoding Python knows"
            ) from None
        if self.quiet_seconds > MAX_QUIET_SECONDS:
            raise OptionError("quiet_seconds", f"must be 0–{MAX_QUIET_SECONDS}")

    def csv_format(self) -> CsvFormat:
        return CsvFormat(columns=dict(self.columns), encoding=self.csv_encoding)


def build(config: SourceConfig[FilesOptions], stream: Stream) -> FilesChatSource:
    options = config.options
    return FilesChatSource(
        directory=ExportDirectory(Path(options.path), quiet_seconds=float(options.quiet_seconds)),
        csv_format=options.csv_format(),
        presence=options.presence,
        page_size=config.page_size,
    )
