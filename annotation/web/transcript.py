"""The transcript as the workspace and adjudication panes show it."""


def turn_rows(turns: list, flags: list[dict]) -> list[dict]:
    """The transcript as its panes show it: 1-based numbers, and the flags each turn carries."""
    by_turn: dict[int, list[dict]] = {}
    for flag in flags:
        by_turn.setdefault(flag.get("turn"), []).append(flag)
    return [
        {"number": number, "turn": turn, "flags": by_turn.get(number, [])} for number, turn in enumerate(turns, start=1)
    ]
