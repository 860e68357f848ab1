"""A user's typed code type-checks against evlab as installed (PEP 561: evlab ships py.typed).

Each snippet below is a small user program. It is written to a temporary project and checked
by mypy (``mypy.api.run``, ``--strict``) the way a user's own mypy sees evlab: found on the
interpreter's path of an environment where evlab is installed, so mypy reads evlab's hints
only because of ``evlab/py.typed`` (the last test shows that without it evlab is untyped).
A line that ends in ``# E: <code>`` must get that mypy error (or one of ``a | b``: an
overloaded signature words the same mistake differently), and every other line none.
"""

from __future__ import annotations

import gc
import re
import shutil
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest
from mypy import api as mypy_api

import evlab

PACKAGE = Path(evlab.__file__).resolve().parent

SNIPPETS = {
    # The guide's handlers, typed for the event they handle (contravariance: a handler of
    # BarEvent is not a handler of every Event, so the bus must accept it as it is).
    "user_handlers.py": """
        from typing import assert_type

        from evlab import BarEvent, EventBus, EventType, SignalEvent, create_bar_event

        bus = EventBus()

        def on_bar(bar: BarEvent) -> None:
            print(bar.close - bar.open)

        async def on_signal(signal: SignalEvent) -> None:
            print(signal.signal_type)

        bus.register(EventType.BAR, on_bar)
        bus.register_async(EventType.SIGNAL, on_signal)
        bus.subscribe(EventType.BAR, on_bar, priority=5).cancel()

        @bus.register(EventType.BAR)
        def decorated(bar: BarEvent) -> None:
            print(bar.symbol)

        decorated(42)  # E: arg-type
        stamped = bus.emit(create_bar_event("AAPL", 0, 1.0, 2.0, 0.5, 1.5, 10.0))
        assert_type(stamped, BarEvent)
        """,
    # Events are frozen dataclasses: keyword construction is checked field by field.
    "user_events.py": """
        import dataclasses
        from typing import assert_type

        from evlab import BarEvent, Event, SignalEvent

        bar = BarEvent(symbol="AAPL", open=1.0, high=2.0, low=0.5, close=1.5, volume=10.0,
                       time_ns=0, source="csv")
        assert_type(bar.close, float)
        moved = dataclasses.replace(bar, close=1.6)
        assert_type(moved, BarEvent)
        signal = SignalEvent(signal_type="BUY", price=1.5, symbol="AAPL", strategy_id="sma")
        assert_type(signal.strength, float)

        def on_bar(event: Event) -> None:  # the usage guide's accessors, typed as the fields
            if not isinstance(event, BarEvent) or event.get_symbol() != "AAPL":
                return
            assert_type(event.get_close(), float)

        BarEvent(symbol="A", open="1", high=2.0, low=0.5, close=1.5, volume=1.0)  # E: arg-type
        BarEvent(symbol="A", open=1.0, high=2.0)  # E: call-arg
        BarEvent(symbol="A", open=1.0, high=2, low=0.5, close=1, volume=1, colour=1)  # E: call-arg
        bar.close = 2.0  # E: misc
        """,
    # One object per notebook session: its methods return what they make.
    "user_lab.py": """
        from typing import assert_type

        import evlab

        def session(lab: evlab.Lab) -> None:
            assert_type(lab.chart("BTC-USD"), evlab.LiveChart)
            assert_type(lab.replay("btcusd_1m"), evlab.Replayer)
            assert_type(lab.live("btcusd_1m", rate=50), evlab.WebSocketEmitter)
            assert_type(lab.monitor(), evlab.BusMonitor)

        with evlab.Lab(record=False) as lab:
            session(lab)
        """,
    # Strategies, filters, chains and the paper broker take functions typed for their event.
    "user_components.py": """
        import evlab
        from evlab import BarEvent, EventType, FilterHandler, SignalEvent, create_signal_event

        lab_bus = evlab.EventBus()
        manager = evlab.EventManager(lab_bus)
        book = evlab.Strategies(manager)

        @book("sma", on=EventType.BAR)
        def sma(bar: BarEvent) -> SignalEvent | None:
            return create_signal_event(SignalEvent.BUY, bar.close, bar.symbol, "sma")

        sma("AAPL")  # E: arg-type

        def is_aapl(bar: BarEvent) -> bool:
            return bar.symbol == "AAPL"

        def on_bar(bar: BarEvent) -> None:
            print(bar.close)

        aapl = FilterHandler("aapl", is_aapl, on_bar)
        lab_bus.register(EventType.BAR, evlab.ChainHandler("chain", [aapl, on_bar]))

        portfolio = evlab.Portfolio(100_000)
        broker = evlab.PaperBroker(portfolio, evlab.FillModel(commission=1.0),
                                   evlab.FractionOfEquity(0.95))
        manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL])
        evlab.FillModel(fill_at="open")  # E: arg-type
        """,
    # Real mistakes are reported: the checks above do not pass because nothing is checked.
    "user_mistakes.py": """
        from evlab import BarEvent, EventBus, EventType, create_bar_event

        def two_args(bar: BarEvent, extra: int) -> None:
            print(bar, extra)

        bus = EventBus()
        bus.register(EventType.BAR, 42)  # E: arg-type | call-overload
        bus.register(EventType.BAR, two_args)  # E: arg-type | type-var
        close: str = create_bar_event("AAPL", 0, 1.0, 2.0, 0.5, 1.5, 10.0).close  # E: assignment
        create_bar_event("AAPL", 0, 1.0, 2.0, 0.5)  # E: call-arg
        """,
}

Checked = tuple[dict[str, dict[int, set[str]]], str]  # error codes by line per file, report
_EXPECTED = re.compile(r"#\s*E:\s*([\w| -]+?)\s*$")
_ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[\w-]+)\]$")


def _environment(root: Path, package: Path) -> Path:
    """A Python environment in which ``package`` is installed; returns its interpreter.

    A venv whose ``.pth`` puts on its path a directory holding only ``evlab`` (a link to
    ``package``) and this environment's site-packages (numpy, pandas-stubs, ...): what mypy
    finds there it treats as installed, and reads only if the package has ``py.typed``.
    """
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root / "env")
    python = root / "env" / "bin" / "python"
    installed = root / "installed"
    installed.mkdir()
    (installed / "evlab").symlink_to(package, target_is_directory=True)
    (site_packages,) = (root / "env" / "lib").glob("python*/site-packages")
    outer = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (site_packages / "evlab_under_test.pth").write_text("\n".join([str(installed), *outer]))
    return python


def _mypy(project: Path, python: Path, monkeypatch: pytest.MonkeyPatch) -> Checked:
    """mypy --strict on every ``*.py`` of ``project`` for ``python``'s environment: the
    error codes by line of each file, and mypy's whole report."""
    config = project / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\n")
    # mypy also searches the working directory: run it where evlab's sources are not.
    monkeypatch.chdir(project)
    monkeypatch.delenv("MYPYPATH", raising=False)
    files = sorted(p.name for p in project.glob("*.py"))
    # mypy runs in this process and tunes it for itself (recursion limit, gc thresholds):
    # put both back, or later tests (nesting depth, weak handlers freed by gc) run changed.
    limit, thresholds = sys.getrecursionlimit(), gc.get_threshold()
    try:
        stdout, stderr, status = mypy_api.run([
            "--config-file", str(config), "--python-executable", str(python),
            "--cache-dir", str(project / ".mypy_cache"), "--no-pretty", "--no-error-summary",
            "--show-error-codes", "--hide-error-context", *files])
    finally:
        sys.setrecursionlimit(limit)
        gc.set_threshold(*thresholds)
    assert not stderr, stderr
    assert status in (0, 1), stdout  # 2 would be a crash or a bad command line
    errors: dict[str, dict[int, set[str]]] = {name: {} for name in files}
    for line in stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            errors[match["file"]].setdefault(int(match["line"]), set()).add(match["code"])
    return errors, stdout


def _expected(source: str) -> dict[int, set[str]]:
    """The codes each marked line may get."""
    return {n: {code.strip() for code in m[1].split("|")}
            for n, line in enumerate(source.splitlines(), 1) if (m := _EXPECTED.search(line))}


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    """Every snippet checked in one mypy run (evlab is analysed once)."""
    root = tmp_path_factory.mktemp("typing")
    project = root / "project"
    project.mkdir()
    for name, source in SNIPPETS.items():
        (project / name).write_text(textwrap.dedent(source).lstrip())
    with pytest.MonkeyPatch.context() as monkeypatch:
        return _mypy(project, _environment(root, PACKAGE), monkeypatch)


def _assert_checked(checked: Checked, name: str) -> None:
    errors, report = checked
    allowed = _expected(textwrap.dedent(SNIPPETS[name]).lstrip())
    got = errors[name]
    assert got.keys() == allowed.keys(), f"{name}: mypy said\n{report}"
    for line, codes in got.items():
        assert codes <= allowed[line], f"{name}:{line}: mypy said\n{report}"


def test_py_typed_ships_with_the_package() -> None:
    assert (PACKAGE / "py.typed").is_file()


def test_a_handler_typed_for_its_event_registers(checked: Checked) -> None:
    """``def on_bar(bar: BarEvent) -> None`` goes to ``register``, ``register_async``,
    ``subscribe`` and the decorator form; ``emit`` returns the event's own type."""
    _assert_checked(checked, "user_handlers.py")


def test_events_are_checked_as_frozen_dataclasses(checked: Checked) -> None:
    """Keyword construction checks each field's type and name; fields are read-only; the
    guide's ``get_<field>()`` accessors have the fields' types."""
    _assert_checked(checked, "user_events.py")


def test_lab_methods_return_what_they_make(checked: Checked) -> None:
    """``chart``/``replay``/``live``/``monitor`` are typed LiveChart, Replayer,
    WebSocketEmitter, BusMonitor (``assert_type`` fails on Any)."""
    _assert_checked(checked, "user_lab.py")


def test_components_keep_their_types(checked: Checked) -> None:
    """A strategy decorator returns the function as typed; FilterHandler, ChainHandler and
    the paper broker's parts take typed callables and check their literals."""
    _assert_checked(checked, "user_components.py")


def test_real_mistakes_are_reported(checked: Checked) -> None:
    """A handler that is not one, a wrong field type, a missing argument: one error each."""
    _assert_checked(checked, "user_mistakes.py")


def test_without_py_typed_evlab_is_untyped(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The same environment with a copy of evlab that lacks py.typed: mypy refuses to read
    it, so the checks above hold because evlab ships py.typed."""
    copy = tmp_path / "copy" / "evlab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns(
        "py.typed", "__pycache__", "*.so", "*.c"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "user.py").write_text("import evlab\n\nevlab.Lab()\n")
    errors, report = _mypy(project, _environment(tmp_path, copy), monkeypatch)
    assert errors["user.py"] == {1: {"import-untyped"}}, report
    assert "missing library stubs or py.typed marker" in report
