"""scripts/benchmarks/bench_reader.py runs at a tiny size and reports every reader against cv2.imdecode."""
import importlib.util
import os

from helpers import REPO

SCRIPT = os.path.join(REPO, 'scripts', 'benchmarks', 'bench_reader.py')


def test_tiny_run_reports_each_reader_per_format(capsys):
    spec = importlib.util.spec_from_file_location('bench_reader', SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(['--size', '32', '--images', '2', '--repeats', '1', '--formats', 'png', 'jpeg', 'tiff'])
    assert sorted(results) == ['jpeg', 'png', 'tiff']
    for rows in results.values():
        assert [label for label, _, _ in rows][:2] == ['cv2.imdecode (floor)', 'decode_image'] and len(rows) == 5
        assert rows[0][2] == 1.0 and all(ms > 0 for _, ms, _ in rows)
    assert capsys.readouterr().out.count('| PNG (') == 5
