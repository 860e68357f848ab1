"""Each benchmark runs once on tiny inputs, so it cannot rot. Nothing here is about time."""

from benchmarks import bench_dispatch


def test_dispatch_benchmark_runs_every_contender(capsys):
    table = bench_dispatch.run(n=50, repeat=1)
    assert set(table) == {"sync, 1 handler", "sync, 10 handlers", "async, 1 handler",
                          "async, 10 handlers"}
    assert set(table["sync, 1 handler"]) == {"bare loop", "evlab emit", "blinker send",
                                             "pyee emit"}
    assert set(table["async, 1 handler"]) == {"bare await loop", "evlab emit_async",
                                              "pyee AsyncIOEventEmitter"}
    assert all(rate > 0 for rates in table.values() for rate in rates.values())
    out = capsys.readouterr().out
    assert "x bare" in out and "evlab is" in out
