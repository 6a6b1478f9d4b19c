"""Choosing a model's own attenuation limit on a selection set: which limits to try, and the rule.

The rule is the one the bundled models' limits were chosen by. Among the limits whose STOI is not
below the noisy input's (no choice trades intelligibility for quality), take the best PESQ-WB;
limits within PESQ_TIE of it count as tied, and the tie goes to the best SI-SDR, so a PESQ-WB
difference too small to trust cannot outweigh a clear loss of signal fidelity.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

from keras_denoiser.core.config import check_attenuation_limit
from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation.evaluate import ALL_FILES, NOISY, Summary

LIMITS_TO_TRY = (6.0, 9.0, 12.0, 18.0, 24.0, 30.0, 40.0, 60.0, math.inf)
# Scores are compared as reported (PESQ-WB and STOI to 3 decimals, SI-SDR to 2).
PESQ_DIGITS = 3
STOI_DIGITS = 3
SI_SDR_DIGITS = 2
# PESQ-WB means this close to the best are ties: on a selection set of about 100 files, smaller
# differences between limits of the same model are not reliable.
PESQ_TIE = 0.01


@dataclasses.dataclass(frozen=True)
class LimitChoice:
    """The chosen limit and, in one line, why."""

    max_attenuation_db: float
    reason: str


def system_name(max_attenuation_db: float) -> str:
    """How a limit appears as a system in the sweep's table: `12 dB`, `inf dB`."""
    return f"{max_attenuation_db:g} dB"


def parse_limits(values: Sequence[str]) -> list[float]:
    """The --limits values as sorted dB; UserError naming the flag for one that is not a limit."""
    try:
        limits = sorted({check_attenuation_limit(float(v)) for v in values})
    except (ValueError, UserError):
        raise UserError(f"--limits must be attenuation limits in dB (0 or more, inf: none), got {','.join(values)}") from None
    if not limits:
        raise UserError("--limits names no limit")
    return limits


def choose(summaries: Sequence[Summary], limits: Sequence[float]) -> LimitChoice:
    """Apply the rule to the overall summaries of a sweep (systems named by `system_name`).

    Remaining ties go to the lower, gentler limit. When no limit keeps STOI at the input's, the
    lowest one tried is chosen, since it changes the input least.
    """
    overall = {s.system: s for s in summaries if s.group == ALL_FILES}
    noisy_stoi = round(overall[NOISY].stoi, STOI_DIGITS)
    by_limit = {limit: overall[system_name(limit)] for limit in sorted(limits)}
    keeping = [limit for limit, s in by_limit.items() if round(s.stoi, STOI_DIGITS) >= noisy_stoi and math.isfinite(s.pesq)]
    if not keeping:
        lowest = min(by_limit)
        return LimitChoice(lowest, f"no limit kept STOI at the noisy input's ({noisy_stoi}); the gentlest, {system_name(lowest)}")
    pesq = {limit: round(by_limit[limit].pesq, PESQ_DIGITS) for limit in keeping}
    best_pesq = max(pesq.values())
    tied = [limit for limit in keeping if pesq[limit] >= round(best_pesq - PESQ_TIE, PESQ_DIGITS)]
    best = max(tied, key=lambda limit: (round(by_limit[limit].si_sdr, SI_SDR_DIGITS), -limit))
    chosen = by_limit[best]
    return LimitChoice(
        best,
        f"PESQ-WB {chosen.pesq:.3f} (best {best_pesq:.3f}; within {PESQ_TIE:g} is a tie), then the best SI-SDR "
        f"({chosen.si_sdr:.2f} dB), with STOI {chosen.stoi:.3f} not below the noisy input's {noisy_stoi}",
    )
