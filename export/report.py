"""The export report: `export_report.json` and the same figures as a printed table."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

from keras_denoiser.export.parity import TOLERANCES, ParityRow

REPORT_FILE = "export_report.json"


def format_table(rows: Sequence[ParityRow]) -> str:
    """Fixed-width table: artefact, max abs diff, SI-SDR and SNR vs Keras, size, ms per second of audio, bound."""
    header = (
        f"{'artefact':<24} {'max abs diff':>12} {'SI-SDR dB':>10} {'SNR dB':>8} {'size KiB':>9} {'ms/s audio':>10}  tolerance"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        sdr = "exact" if row.si_sdr_db is None else f"{row.si_sdr_db:.1f}"
        snr = "exact" if row.snr_db is None else f"{row.snr_db:.1f}"
        figure, bound = TOLERANCES.get(row.artefact, ("", 0.0))
        tolerance = {"max_abs_diff": f"diff < {bound:g}", "si_sdr_db": f"SI-SDR, SNR >= {bound:g} dB"}.get(figure, "reference")
        lines.append(
            f"{row.artefact:<24} {row.max_abs_diff:>12.3g} {sdr:>10} {snr:>8} {row.size_bytes / 1024:>9.1f} "
            f"{row.ms_per_second:>10.2f}  {tolerance}"
        )
    return "\n".join(lines)


def write_report(export_dir: Path, rows: Sequence[ParityRow], details: dict[str, Any]) -> Path:
    """Write `export_dir/export_report.json` with every row, the tolerances and `details`."""
    report = {
        **details,
        "tolerances": {name: {"figure": f, "bound": b} for name, (f, b) in TOLERANCES.items()},
        "artefacts": [dataclasses.asdict(row) for row in rows],
    }
    path = Path(export_dir) / REPORT_FILE
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
