"""Pronto hex IR codes (the format code databases and learning remotes export).

A learned Pronto code is a list of 4-digit hex words::

    0000 FFFF N1 N2  on off on off ...
    |    |    |  |   N1 burst pairs sent once, then N2 pairs sent while the key repeats
    |    |    |  +-- repeat burst pair count
    |    |    +----- once burst pair count
    |    +---------- carrier: frequency = 4145146 / FFFF Hz (the Pronto's 0.241246 us unit)
    +--------------- 0000: learned, modulated code

Burst durations are counted in carrier cycles, which is also what Global Caché's
``sendir`` counts, so conversion keeps them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import BadInput

PRONTO_CLOCK_HZ = 4145146  # 1 / 0.241246 us


@dataclass(frozen=True)
class IrCode:
    """One IR code: carrier frequency and on/off burst lengths in carrier cycles."""

    frequency_hz: int
    once: tuple[int, ...]
    repeat: tuple[int, ...]

    @property
    def bursts(self) -> tuple[int, ...]:
        return self.once + self.repeat

    @property
    def repeat_offset(self) -> int:
        """1-based index of the first burst a repeat sends again (Global Caché's ``offset``)."""
        return len(self.once) + 1 if self.once and self.repeat else 1


def parse_pronto(text: str, name: str = "code") -> IrCode:
    """Parse learned Pronto hex; errors say which code and what is wrong with it."""
    words = text.split()
    try:
        values = [int(word, 16) for word in words]
    except ValueError:
        raise BadInput(f"IR code {name!r}: not Pronto hex (4-digit hex words): {text[:40]!r}") \
            from None
    if len(values) < 4 or any(len(word) != 4 for word in words):
        raise BadInput(f"IR code {name!r}: Pronto hex is 4-digit words, at least 4 of them")
    kind, freq_code, once_pairs, repeat_pairs = values[:4]
    if kind != 0x0000:
        raise BadInput(f"IR code {name!r}: only learned Pronto codes (starting 0000) are "
                       f"supported, this one starts {words[0]}")
    if freq_code == 0:
        raise BadInput(f"IR code {name!r}: carrier frequency word is 0000")
    bursts = values[4:]
    expected = 2 * (once_pairs + repeat_pairs)
    if len(bursts) != expected or expected == 0:
        raise BadInput(f"IR code {name!r}: header announces {once_pairs}+{repeat_pairs} burst "
                       f"pairs ({expected} words) but {len(bursts)} follow")
    if 0 in bursts:
        raise BadInput(f"IR code {name!r}: a burst of length 0")
    split = 2 * once_pairs
    return IrCode(round(PRONTO_CLOCK_HZ / freq_code), tuple(bursts[:split]), tuple(bursts[split:]))
