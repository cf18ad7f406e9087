"Tests of ecg_vision.robustness: `ecgv_robust` end to end (subprocess) on a run that learned, its bad input, and the capture benches."
import shutil, sys
import pandas as pd, pytest, torch
from conftest import run

ENTRY = None

def _cmd():
    "The installed console script, or the same entry point run by this Python (until a reinstall registers it)."
    exe = shutil.which('ecgv_robust')
    return [exe] if exe else [sys.executable, ENTRY]

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "A run that learned (`ecg_vision.test_utils.learned_run`, cached) and its test LMDB."
    from ecg_vision.test_utils import learned_run
    global ENTRY
    d = tmp_path_factory.mktemp('robust')
    ENTRY = d/'ecgv_robust.py'  # a script file, as a console-script wrapper is (`python -c` would skip argument parsing)
    ENTRY.write_text('import sys\nfrom ecg_vision.robustness import ecgv_robust\nsys.exit(ecgv_robust())\n')
    lr = learned_run()
    return d, lr['test'], lr['run']

def test_ecgv_robust(tiny):
    d, lm, rd = tiny
    out = d/'out'
    p = run(*_cmd(), '--model', rd, '--lmdb', lm, '--out', out, '--conditions', 'blur,lighting,phone',
            '--severities', '1,2', '--n_boot', 20, timeout=120)
    assert 'robustness.csv' in p.stdout and 'phone' in p.stdout
    df = pd.read_csv(out/'robustness.csv')
    assert list(df.columns) == ['condition', 'severity', 'f1', 'lo', 'hi', 'accuracy', 'n', 'f1_rel']
    assert list(df.condition) == ['clean'] + ['blur', 'lighting', 'phone']*2 and list(df.severity) == [0, 1, 1, 1, 2, 2, 2]
    assert (df.lo <= df.f1 + 1e-9).all() and (df.f1 <= df.hi + 1e-9).all() and df.f1.between(0, 1).all()
    assert (df.n == df.n[0]).all() and df.f1[0] > .4  # every condition scores the same charts; the model learned
    assert df[df.severity == 2].f1.min() < df.f1[0]   # ... and loses F1 under severe captures
    assert (out/'robustness.png').stat().st_size > 10_000

def test_ecgv_robust_bad_input(tiny, tmp_path):
    d, lm, rd = tiny
    p = run(*_cmd(), '--model', rd, '--lmdb', lm, '--out', tmp_path, '--conditions', 'sepia', check=False)
    assert p.returncode == 2 and "unknown condition(s) ['sepia']" in p.stderr and 'Traceback' not in p.stderr
    p = run(*_cmd(), '--model', tmp_path/'nope', '--lmdb', lm, '--out', tmp_path, check=False)
    assert p.returncode == 2 and 'nope: no such run folder' in p.stderr
    p = run(*_cmd(), '--model', rd, check=False)
    assert p.returncode != 0 and 'give --model RUN_DIR, --lmdb TEST_LMDB and --out DIR' in p.stderr

def test_capture_backends_bench():
    "bench/capture_backends.py: each torch stand-in keeps the batch's shape and dtype and changes it; the script prints a row per distortion."
    import importlib.util, subprocess
    from pathlib import Path
    f = Path(__file__).resolve().parent.parent/'bench'/'capture_backends.py'
    spec = importlib.util.spec_from_file_location('bench_capture_backends', f); b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)
    x = torch.full((4, 3, 224, 224), 255, dtype=torch.uint8); x[:, :, 110:113] = 0  # white page, one dark trace
    ops = b.torch_ops(x, torch.Generator().manual_seed(0))
    for name, fn in ops.items():
        y = fn()
        assert y.shape == x.shape and y.dtype == torch.uint8, (name, y.shape, y.dtype)
        assert (y != x).any(), f"{name} left the charts unchanged"
    r = subprocess.run([sys.executable, str(f), '--size', '32', '--bs', '4', '--reps', '1'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [l.split()[0] for l in r.stdout.splitlines()[2:]]
    assert rows == [*ops, 'sum'], r.stdout

def test_robustness_bench_on_a_demo_folder(tiny, tmp_path):
    "bench/robustness.py --demo: scores a trained model's test charts under every condition (no training) and says which stay >= 90%."
    import subprocess
    from pathlib import Path
    from ecg_vision.capture import conditions
    d, lm, rd = tiny
    demo = tmp_path/'demo_out'; shutil.copytree(rd, demo/'run'); (demo/'test.lmdb').symlink_to(Path(lm).resolve())
    f = Path(__file__).resolve().parent.parent/'bench'/'robustness.py'
    r = subprocess.run([sys.executable, str(f), '--demo', str(demo), '--severities', '1', '--out', str(tmp_path/'o')],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    names = list(conditions())  # the single conditions and 'phone'
    rows = [l.split()[0] for l in r.stdout.splitlines() if l.split() and l.split()[0] in names]
    assert sorted(rows) == sorted(names), r.stdout
    assert "single conditions >= 90% of clean:" in r.stdout and f"/{len(names) - 1}" in r.stdout, r.stdout
    assert (tmp_path/'o'/'robust'/'robustness.csv').exists()
    r = subprocess.run([sys.executable, str(f), '--demo', str(tmp_path/'nope')], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and 'nope: not an `ecgv_demo --out` folder' in r.stderr and 'Traceback' not in r.stderr
