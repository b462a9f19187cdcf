"""Precision and recall per kind over a labelled corpus written here (fixtures_chat.corpus: planted personal
data of every kind, look-alikes of every kind, neutral chatter, system lines, media and multi-line messages),
in every export style. Run with -s to see the figures."""

from __future__ import annotations

from collections import Counter

from fixtures_chat import KINDS, LOOK_ALIKES, STYLES, corpus
from phonegate.core.chat.messages import parse_chat
from phonegate.core.chat.scan import scan_chat

SEED = 20261130
MESSAGES_PER_STYLE = 120  # 600 messages in all: about 150 planted values and 150 look-alikes


def _measure() -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    true_positive: Counter[str] = Counter()
    false_positive: Counter[str] = Counter()
    planted_count: Counter[str] = Counter()
    look_alikes: Counter[str] = Counter()
    for offset, style in enumerate(STYLES):
        chat = corpus(SEED + offset, MESSAGES_PER_STYLE, style)
        report = scan_chat(parse_chat(chat.text()))
        planted = Counter(chat.planted)
        planted_count.update(kind for _, kind in chat.planted)
        look_alikes.update(chat.look_alikes)
        for finding in report.findings:
            if planted[(finding.line, finding.kind)] > 0:
                planted[(finding.line, finding.kind)] -= 1
                true_positive[finding.kind] += 1
            else:
                false_positive[finding.kind] += 1
    return true_positive, false_positive, planted_count, look_alikes


def test_precision_and_recall_per_kind_are_at_least_95_percent() -> None:
    true_positive, false_positive, planted, look_alikes = _measure()
    print(f"\nlook-alikes written: {dict(sorted(look_alikes.items()))}")
    print(f"{'kind':<27}{'planted':>8}{'found':>7}{'wrong':>7}{'precision':>11}{'recall':>8}")
    figures = {}
    for kind in KINDS:
        found = true_positive[kind] + false_positive[kind]
        precision = true_positive[kind] / found if found else 1.0
        recall = true_positive[kind] / planted[kind] if planted[kind] else 1.0
        figures[kind] = (precision, recall)
        print(f"{kind:<27}{planted[kind]:>8}{true_positive[kind]:>7}{false_positive[kind]:>7}{precision:>11.3f}{recall:>8.3f}")
    assert set(look_alikes) == set(LOOK_ALIKES)  # every family of look-alike was in the corpus
    assert all(planted[kind] >= 10 for kind in KINDS), planted
    for kind, (precision, recall) in figures.items():
        assert precision >= 0.95, f"{kind}: precision {precision:.3f}"
        assert recall >= 0.95, f"{kind}: recall {recall:.3f}"
