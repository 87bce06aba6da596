"""Keyboards that are not US, as Chromium on Linux reports their keys: for each character the
physical key (``code``, named after its place on a US keyboard), the modifiers a person
holds, and the ``key`` the layout makes of it. Turned into CDP ``Input.dispatchKeyEvent``
calls, these are the events a German (QWERTZ) or French (AZERTY) keyboard gives a page:
``key`` "z" on ``code`` "KeyY", AltGr ("AltGraph" on "AltRight") for @ and €, and dead keys
("Dead", then the composed letter on the next key)."""

from __future__ import annotations

from typing import Any

SHIFT, ALTGR = "shift", "altgr"

# character -> (code, modifiers); a tuple of two entries is a dead key and then a key.
GERMAN: dict[str, Any] = {
    **{c: (f"Key{c.upper()}", ()) for c in "abcdefghijklmnopqrstuvwx"},
    **{c.upper(): (f"Key{c.upper()}", (SHIFT,)) for c in "abcdefghijklmnopqrstuvwx"},
    "y": ("KeyZ", ()),
    "Y": ("KeyZ", (SHIFT,)),
    "z": ("KeyY", ()),
    "Z": ("KeyY", (SHIFT,)),
    **{str(n): (f"Digit{n}", ()) for n in range(10)},
    "_": ("Slash", (SHIFT,)),
    "-": ("Slash", ()),
    "ä": ("Quote", ()),
    "ö": ("Semicolon", ()),
    "ü": ("BracketLeft", ()),
    "ß": ("Minus", ()),
    "€": ("KeyE", (ALTGR,)),
    "@": ("KeyQ", (ALTGR,)),
    "{": ("Digit7", (ALTGR,)),
    "}": ("Digit0", (ALTGR,)),
    "[": ("Digit8", (ALTGR,)),
    "]": ("Digit9", (ALTGR,)),
    "|": ("IntlBackslash", (ALTGR,)),
    "~": ("BracketRight", (ALTGR,)),
    # dead acute and dead grave (the key left of Backspace), then e
    "é": (("Equal", ()), ("KeyE", ())),
    "è": (("Equal", (SHIFT,)), ("KeyE", ())),
}

FRENCH: dict[str, Any] = {
    **{c: (f"Key{c.upper()}", ()) for c in "bcdefghijklnoprstuvx"},
    "a": ("KeyQ", ()),
    "q": ("KeyA", ()),
    "z": ("KeyW", ()),
    "w": ("KeyZ", ()),
    "m": ("Semicolon", ()),
    "é": ("Digit2", ()),
    "è": ("Digit7", ()),
    "ç": ("Digit9", ()),
    "à": ("Digit0", ()),
    "_": ("Digit8", ()),
    "@": ("Digit0", (ALTGR,)),
    "€": ("KeyE", (ALTGR,)),
}

LAYOUTS = {"de": GERMAN, "fr": FRENCH}
MODIFIER_KEYS = {
    SHIFT: {"key": "Shift", "code": "ShiftLeft", "windowsVirtualKeyCode": 16},
    ALTGR: {"key": "AltGraph", "code": "AltRight", "windowsVirtualKeyCode": 225},
    "ctrl": {"key": "Control", "code": "ControlLeft", "windowsVirtualKeyCode": 17},
}
CDP_MODIFIERS = {SHIFT: 8, "ctrl": 2, ALTGR: 0}  # CDP has no AltGraph bit


def _virtual_key(code: str) -> int:
    if code.startswith("Key"):
        return ord(code[3])
    if code.startswith("Digit"):
        return ord(code[5])
    return 0


def _press(code: str, key: str, held: tuple[str, ...], text: bool) -> list[dict]:
    """Modifiers down, the key down and up, modifiers up."""
    mask = 0
    events: list[dict] = []
    for name in held:
        mask |= CDP_MODIFIERS[name]
        events.append({"type": "rawKeyDown", "modifiers": mask, **MODIFIER_KEYS[name]})
    stroke = {"code": code, "key": key, "windowsVirtualKeyCode": _virtual_key(code)}
    down = {"type": "keyDown", "modifiers": mask, **stroke}
    if text:
        down.update(text=key, unmodifiedText=key)
    else:
        down["type"] = "rawKeyDown"
    events += [down, {"type": "keyUp", "modifiers": mask, **stroke}]
    for name in reversed(held):
        mask &= ~CDP_MODIFIERS[name]
        events.append({"type": "keyUp", "modifiers": mask, **MODIFIER_KEYS[name]})
    return events


def typing(text: str, layout: str) -> list[dict]:
    """CDP key events that type ``text`` on the keyboard ``layout`` ("de" or "fr")."""
    table = LAYOUTS[layout]
    events: list[dict] = []
    for char in text:
        entry = table[char]
        if isinstance(entry[0], tuple):  # a dead key, then the letter it makes
            (dead_code, dead_held), (code, held) = entry
            events += _press(dead_code, "Dead", dead_held, text=False)
            events += _press(code, char, held, text=True)
        else:
            code, held = entry
            events += _press(code, char, held, text=True)
    return events


def shortcut(char: str, layout: str) -> list[dict]:
    """Ctrl and the key that types ``char`` on ``layout`` (Chromium sends no text with Ctrl)."""
    code, held = LAYOUTS[layout][char]
    return _press(code, char, ("ctrl", *held), text=False)
