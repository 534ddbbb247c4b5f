"""The benchmark suite runs, reports what it promises, and validates its options."""
from __future__ import annotations

import json

import pytest

from zk_layers import bench
from zk_layers.cli import main


def test_run_reports_every_case_with_ratios():
    report = bench.run(["relu", "softmax", "step"], ["n1"], ["float64"], [1], samples=3,
                       sample_ms=0.5, use_torch=False)
    cases = report["cases"]
    assert [(c["op"], c["mode"]) for c in cases] == [
        ("relu", "forward"), ("relu", "backward"), ("relu", "forward+backward"),
        ("softmax", "forward"), ("softmax", "backward"), ("softmax", "forward+backward"),
        ("step", "train")]
    for c in cases:
        assert c["medians_s"]["fast"] > 0 and c["medians_s"]["reference"] > 0
        assert c["ratio_reference"] == pytest.approx(c["medians_s"]["reference"] / c["medians_s"]["fast"])
        assert c["threads"] == 1 and c["size"] == "n1" and c["shape"].startswith("N=1,")
    assert report["machine"]["usable_cpus"] >= 1
    assert any(p["user_api"] == "blas" for p in report["config"]["blas"]) or report["config"]["blas"] == []
    json.dumps(report)  # JSON-ready
    table = bench.format_table(report)
    assert "ref/fast" in table and "\nrelu " in table and "benchmark on" in table.splitlines()[0]
    markdown = bench.format_table(report, markdown=True)
    assert markdown.count("\n| relu") == 3


def test_cli_bench_writes_json_and_markdown(tmp_path, capsys):
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    assert main(["bench", "--ops", "sigmoid", "--sizes", "tiny", "--threads", "1", "--samples", "3",
                 "--sample-ms", "0.5", "--no-torch", "--no-progress", "--json", str(out_json),
                 "--markdown", str(out_md)]) == 0
    data = json.loads(out_json.read_text())
    assert {c["size"] for c in data["cases"]} == {"n1", "n8"}
    assert "| sigmoid | n1 | float64 | 1 | forward |" in out_md.read_text()
    assert "sigmoid" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["bench", "--ops", "conv"], "ops must be a comma-separated subset"),
    (["bench", "--sizes", "huge"], "sizes must be a comma-separated subset"),
    (["bench", "--threads", "0"], "threads must be comma-separated positive integers"),
    (["bench", "--dtypes", "float16"], "dtypes must be a comma-separated subset"),
])
def test_bad_bench_options(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bandwidth_probe_is_plausible():
    gbps = bench.measure_bandwidth(1, samples=3)
    assert 0.5 < gbps < 2000
