"""A stored exception as Python prints it: the lines of its traceback.

An event's ``data["exception"]`` holds either text (``format_exc_info``, the
stdlib bridge, older files) or the structured form of structlog's
``dict_tracebacks`` (``ExceptionDictTransformer``): a list of exception
dictionaries, the one logged first, then its cause or context, each with
``exc_type``, ``exc_value``, ``exc_notes``, ``syntax_error``, ``is_cause``,
``frames`` (``filename``, ``lineno``, ``name``, maybe ``locals``),
``is_group`` and ``exceptions`` (a list of such lists, one per member of an
exception group).  The structured form is laid out as CPython's
``traceback.TracebackException.format`` lays out the exception itself, root
cause first, groups framed with ``+``/``|`` margins, less the source lines,
which the stored form does not hold.
"""

from __future__ import annotations

from typing import Any, Final

_CAUSE: Final = "The above exception was the direct cause of the following exception:"
_CONTEXT: Final = "During handling of the above exception, another exception occurred:"

#: Identical frames in a row shown before the rest are counted, as Python does.
_RECURSIVE_CUTOFF: Final = 3


def traceback_lines(value: Any) -> list[str] | None:
    """Return the lines of a stored exception; ``None`` if *value* is not one.

    Text is split into its lines.  A list of exception dictionaries is laid
    out as Python prints the exception.  Anything else (an empty string, a
    list of another shape) is not a traceback: ``None``.
    """
    if isinstance(value, str):
        text = value.rstrip("\r\n")
        return [line.removesuffix("\r") for line in text.split("\n")] if text else None
    if not _is_trace(value):
        return None
    out = _Output()
    out.trace(value)
    return out.lines


def _is_trace(value: Any) -> bool:
    """Whether *value* has the shape of an ``ExceptionDictTransformer`` result, members included."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(stack, dict)
            and isinstance(stack.get("exc_type"), str)
            and isinstance(stack.get("frames", []), list)
            and all(isinstance(frame, dict) for frame in stack.get("frames", []))
            and all(_is_trace(member) for member in _members(stack))
            for stack in value
        )
    )


def _members(stack: dict[str, Any]) -> list[Any]:
    members = stack.get("exceptions") if stack.get("is_group") else None
    return members if isinstance(members, list) else []


class _Output:
    """The lines laid out so far, and where in nested exception groups they go."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.group_depth = 0
        self.need_close = False

    def indent(self) -> str:
        return " " * (2 * self.group_depth)

    def emit(self, lines: list[str], margin: str = "|") -> None:
        prefix = self.indent() + (f"{margin} " if self.group_depth else "")
        self.lines.extend(prefix + line for line in lines)

    def trace(self, stacks: list[dict[str, Any]]) -> None:
        """Lay out one exception and its chain: the root cause first, the logged one last."""
        for position in reversed(range(len(stacks))):
            stack = stacks[position]
            self.exception(stack)
            if position:
                # stacks[position] is the cause (or context) of stacks[position - 1].
                self.emit(["", _CAUSE if stack.get("is_cause") else _CONTEXT, ""])

    def exception(self, stack: dict[str, Any]) -> None:
        frames = stack.get("frames") or []
        members = _members(stack)
        if not stack.get("is_group"):
            if frames:
                self.emit(["Traceback (most recent call last):", *_frame_lines(frames)])
            self.emit(_exception_only(stack))
            return
        top_level = self.group_depth == 0
        if top_level:
            self.group_depth += 1
        if frames:
            self.emit(
                ["Exception Group Traceback (most recent call last):"],
                margin="+" if top_level else "|",
            )
            self.emit(_frame_lines(frames))
        self.emit(_exception_only(stack))
        self.need_close = False
        for number, member in enumerate(members, 1):
            last = number == len(members)
            if last:
                self.need_close = True  # a nested group's own last member may close first
            opening = "+-" if number == 1 else "  "
            self.lines.append(
                f"{self.indent()}{opening}+---------------- {number} ----------------"
            )
            self.group_depth += 1
            self.trace(member)
            if last and self.need_close:
                self.lines.append(f"{self.indent()}+------------------------------------")
                self.need_close = False
            self.group_depth -= 1
        if top_level:
            self.group_depth = 0


def _frame_lines(frames: list[dict[str, Any]]) -> list[str]:
    """``File "...", line N, in name`` for each frame, repeats counted as Python counts them."""
    lines: list[str] = []
    last: tuple[Any, Any, Any] | None = None
    count = 0
    for frame in frames:
        where = (frame.get("filename"), frame.get("lineno"), frame.get("name"))
        if where != last:
            lines.extend(_repeated(count))
            last, count = where, 0
        count += 1
        if count > _RECURSIVE_CUTOFF:
            continue
        filename, lineno, name = where
        if lineno == -1 and not filename:  # ExceptionDictTransformer's max_frames cut
            lines.append(f"  [{name}]")
            continue
        lines.append(f'  File "{filename}", line {lineno}, in {name}')
        local_values = frame.get("locals")
        if isinstance(local_values, dict):
            lines.extend(f"    {key} = {local_values[key]}" for key in sorted(local_values))
    lines.extend(_repeated(count))
    return lines


def _repeated(count: int) -> list[str]:
    more = count - _RECURSIVE_CUTOFF
    if more <= 0:
        return []
    return [f"  [Previous line repeated {more} more time{'s' if more > 1 else ''}]"]


def _exception_only(stack: dict[str, Any]) -> list[str]:
    """The exception's own lines: where a syntax error is, ``Type: value``, then its notes."""
    exc_type = stack["exc_type"]
    syntax = stack.get("syntax_error")
    if isinstance(syntax, dict):
        lines = _syntax_error_lines(syntax)
        summary = f"{exc_type}: {syntax.get('msg') or '<no detail available>'}"
    else:
        lines = []
        value = stack.get("exc_value")
        summary = f"{exc_type}: {value}" if value else exc_type
    lines.extend(summary.split("\n"))
    for note in stack.get("exc_notes") or []:
        lines.extend(str(note).split("\n"))
    return lines


def _syntax_error_lines(syntax: dict[str, Any]) -> list[str]:
    """The place of a syntax error: its file and line, the code, a caret under the column."""
    lines = [f'  File "{syntax.get("filename") or "<string>"}", line {syntax.get("lineno")}']
    text = syntax.get("line")
    if isinstance(text, str) and text:
        stripped_right = text.rstrip("\n")
        code = stripped_right.lstrip(" \n\f")
        lines.append(f"    {code}")
        offset = syntax.get("offset")
        column = offset - 1 - (len(stripped_right) - len(code)) if isinstance(offset, int) else -1
        if column >= 0:
            spacing = "".join(char if char.isspace() else " " for char in code[:column])
            lines.append(f"    {spacing}^")
    return lines
