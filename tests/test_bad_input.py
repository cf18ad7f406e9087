"""The bad-input corpus (nbs/fixtures/bad/make_bad.py) through every command that reads data.

One table, `CASES` in make_bad.py: (input, command, kind, expected message fragment). Each command runs once over
its corpus folder (cached per session); each row checks one line naming the file and its true cause. To cover another
command, add a runner to `RUNNERS` (how to run it on a corpus folder into `out`) and rows to `CASES`.
"""
import importlib.util, os
from pathlib import Path
import pandas as pd
import pytest
from conftest import run, FIX

spec = importlib.util.spec_from_file_location('make_bad', FIX/'bad'/'make_bad.py')
bad = importlib.util.module_from_spec(spec); spec.loader.exec_module(bad)

def split_runner(data, out, cwd):
    "ecgv_split over one corpus folder."
    return run('ecgv_split', '--data', data, '--out', out, '--workers', 2, '--seed', 0, cwd=cwd, check=False)

RUNNERS = {'ecgv_split': split_runner}   # command -> runner(data folder, out folder, cwd) -> CompletedProcess

def _tree(d):
    "Every file under `d` with its size and mtime: what a run must leave alone."
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in Path(d).rglob('*') if p.is_file()}

@pytest.fixture(scope='session')
def corpus(tmp_path_factory):
    return bad.make_bad(tmp_path_factory.mktemp('bad')/'corpus').resolve()

@pytest.fixture(scope='session')
def outcome(corpus, tmp_path_factory):
    "outcome(command, root) -> (CompletedProcess, out folder, what changed outside out); each run happens once."
    cache = {}
    def get(cmd, root):
        if (cmd, root) not in cache:
            base = tmp_path_factory.mktemp(f"{cmd}_{root}"); cwd = base/'cwd'; cwd.mkdir(); out = base/'out'
            before = _tree(corpus), _tree(base)
            p = RUNNERS[cmd](corpus/root, out, cwd)
            after = _tree(corpus), {k: v for k, v in _tree(base).items() if out not in k.parents}
            changed = {str(k) for a, b in zip(before, after) for k in set(a) ^ set(b) | {k for k in a if k in b and a[k] != b[k]}}
            cache[cmd, root] = p, out, changed
        return cache[cmd, root]
    return get

def _ids(cases): return [f"{c}:{Path(i).name}:{k}" for i, c, k, _ in cases]

@pytest.mark.parametrize('inp,cmd,kind,frag', bad.CASES, ids=_ids(bad.CASES))
def test_bad_item(corpus, outcome, inp, cmd, kind, frag):
    "One line names the file and its true cause; qc_report.csv says the same."
    root = inp.split('/')[0]; p, out, _ = outcome(cmd, root)
    frags = frag if isinstance(frag, tuple) else (frag,)
    path, stem = str(corpus/inp), Path(inp).stem
    if kind == 'missing':
        named = [l for l in p.stdout.splitlines() if l.startswith('without a signal file:')]
        assert named and stem in named[0].split(': ', 1)[1].split(' (all in')[0].split(', '), p.stdout
    else:
        stream = p.stderr if kind == 'dropped' else p.stdout
        lines = [l for l in stream.splitlines() if path in l and l.startswith(f'{cmd}: ' if kind == 'dropped' else 'note: ')]
        assert len(lines) == 1, f"expected one line naming {path}, got {lines}\n{stream[-3000:]}"
        assert all(f in lines[0] for f in frags), lines[0]
    if cmd == 'ecgv_split':
        qc = pd.read_csv(out/'qc_report.csv', dtype=str)
        rows = qc[qc.record_id == stem]
        assert len(rows) == 1 and rows.status.iloc[0] == ('kept' if kind == 'kept' else 'dropped'), qc.to_string()
        assert all(f in rows.reason.iloc[0] for f in frags), rows.reason.iloc[0]

@pytest.mark.parametrize('root', ['chapman', 'wfdb'])
def test_split_finishes_and_keeps_good(corpus, outcome, root):
    "Exit 0, the batch finished, every good (and kept) record split once, only the expected ones skipped, nothing written outside --out."
    p, out, changed = outcome('ecgv_split', root)
    assert p.returncode == 0, p.stderr[-3000:]
    ids = pd.concat([pd.read_csv(out/f'split_{s}.csv', dtype=str) for s in ('train', 'test')]).record_id
    cases = [c for c in bad.CASES if c[1] == 'ecgv_split' and c[0].startswith(root + '/')]
    kept = {Path(i).stem for i, _, k, _ in cases if k == 'kept'}
    assert ids.is_unique and set(ids) == set(bad.GOOD[root]) | kept
    dropped = {str(corpus/i) for i, _, k, _ in cases if k == 'dropped'}
    skipped = [l for l in p.stderr.splitlines() if l.startswith('ecgv_split: ')]
    assert len(skipped) == len(dropped), "\n".join(skipped)       # one line per bad item, no other skip
    assert not changed, changed
    assert len(pd.read_csv(out/'qc_report.csv').query("status == 'dropped'")) == len({Path(i).stem for i, _, k, _ in cases if k != 'kept'})

@pytest.mark.parametrize('csv', list(bad.SPLITS), ids=list(bad.SPLITS))
def test_split_csv_rows(corpus, csv):
    "read_split sets aside rows with an escaping record id or a bad label, and keeps the good row."
    from ecg_vision.data import read_split
    good, rejected = read_split(corpus/csv)
    assert good.record_id.tolist() == ['good_sr_0']
    assert len(rejected) == len(bad.SPLITS[csv]) and all(f in r for f, r in zip(bad.SPLITS[csv], rejected.reason))
