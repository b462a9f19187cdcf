"""What a detector reports: a kind and where in the message's text it is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hit:
    kind: str
    start: int  # offsets into the message's text
    end: int
    parts: tuple[tuple[int, int], ...] = ()  # the value's own characters when the span holds words too (bank_account)

    @property
    def value_parts(self) -> tuple[tuple[int, int], ...]:
        return self.parts or ((self.start, self.end),)
