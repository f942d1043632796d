"""A page of a long list: which rows to take (``Paging``) and what was found (``Page``).
Pure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Paging:
    """Page ``page`` (from 1) of ``limit`` rows."""

    page: int = 1
    limit: int = 50

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True)
class Page(Generic[T]):
    """The rows of one page, how many there are in all (``exact`` False: at least that
    many; counting stopped there), and where the page is."""

    items: Sequence[T]
    total: int
    paging: Paging
    exact: bool = True

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.paging.limit))

    @property
    def has_next(self) -> bool:
        return self.paging.offset + len(self.items) < self.total

    @property
    def has_previous(self) -> bool:
        return self.paging.page > 1

    def around(self, width: int = 2) -> list[int]:
        """The page numbers to offer: the first, the last, and ``width`` either side of
        this one (0 marks a gap)."""
        here = self.paging.page
        near = range(max(1, here - width), min(self.pages, here + width) + 1)
        shown = sorted({1, self.pages, *near})
        numbers: list[int] = []
        for number in shown:
            if numbers and number - numbers[-1] > 1:
                numbers.append(0)
            numbers.append(number)
        return numbers

    def map(self, change: Callable[[T], U]) -> Page[U]:
        return Page([change(item) for item in self.items], self.total, self.paging, self.exact)


def of_slice(rows: Sequence[T], paging: Paging) -> Page[T]:
    """A page of rows already all in memory."""
    return Page(rows[paging.offset : paging.offset + paging.limit], len(rows), paging)
