"""The bad-input corpus (nbs/fixtures/bad/make_bad.py) through every command that reads data.

One table, `CASES` in make_bad.py: (input, command, kind, expected message fragment). Each command runs once over
its corpus folder (cached per session); each row checks one line naming the file and its true cause. To cover another
command, add a runner to `RUNNERS` (how to run it on a corpus folder into `out`) and rows to `CASES`.
"""
import importlib.util, subprocess, sys
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
    from ecg_vision.split import read_split
    good, rejected = read_split(corpus/csv)
    assert good.record_id.tolist() == ['good_sr_0']
    assert len(rejected) == len(bad.SPLITS[csv]) and all(f in r for f, r in zip(bad.SPLITS[csv], rejected.reason))


# ---------------------------------------------------------------------------------------------------------------
# The same bad files through the commands that draw, pack and classify records, and a corrupt LMDB entry through
# evaluation: every bad item is one line naming the file and its cause, the good items are all there, exit codes say
# what happened, nothing is written outside --out.

FILE_CASES = [(i, f) for i, c, k, f in bad.CASES if c == 'ecgv_split' and k == 'dropped' and i.startswith(bad.D)
              and not any(s in i for s in ('unknown_code', 'dup_conflict', 'twin'))]  # causes inside the file itself

@pytest.fixture(scope='session')
def records_csv(corpus):
    "A split CSV listing the good Chapman records and every file-level bad one (as a user's hand-made table would)."
    good = [f'{bad.D}/{g}.csv' for g in bad.GOOD['chapman']]
    rows = [dict(record_id=Path(i).stem, path=str(corpus/i), y=3) for i in good + [i for i, _ in FILE_CASES]]
    f = corpus/'all_records.csv'; pd.DataFrame(rows).to_csv(f, index=False)
    return f

def _frags(f): return f if isinstance(f, tuple) else (f,)

@pytest.mark.parametrize('cmd', ['ecgv_render', 'ecgv_pack'])
def test_draw_and_pack_skip_bad_files(corpus, records_csv, tmp_path, cmd):
    before = _tree(corpus)
    out = tmp_path/('charts' if cmd == 'ecgv_render' else 'x.lmdb')
    p = run(cmd, '--meta', records_csv, '--size', 32, '--out', out, cwd=tmp_path, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    for inp, frag in FILE_CASES:
        lines = [l for l in p.stdout.splitlines() if str(corpus/inp) in l]
        assert len(lines) == 1 and all(f in lines[0] for f in _frags(frag)), (inp, lines, p.stdout[-2000:])
    if cmd == 'ecgv_render': assert {d.name for d in out.iterdir() if d.is_dir()} == set(bad.GOOD['chapman'])
    else:
        from ecg_vision.lmdb import read_index, verify
        assert set(read_index(out).record_id) == set(bad.GOOD['chapman']) and verify(out) == []
    mine = {out.name} | ({'x.index.csv'} if cmd == 'ecgv_pack' else set())  # the LMDB's index CSV lies beside it
    assert _tree(corpus) == before and {p.name for p in tmp_path.iterdir()} == mine  # nothing written elsewhere

@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
    "A tiny trained run (32 px, one epoch) to classify with."
    from ecg_vision.test_utils import tiny_lmdbs
    d = tmp_path_factory.mktemp('tinyrun'); lm = tiny_lmdbs(d, n=20, size=32)
    run('ecgv_train', '--lmdb', lm['train'], '--arch', 'mobilenet_v3_small', '--weights', 'none', '--stage', 'full',
        '--epochs', 1, '--bs', 8, '--out', d/'run')
    return d/'run', lm['test']

@pytest.mark.parametrize('inp,frag', FILE_CASES, ids=[Path(i).name for i, _ in FILE_CASES])
def test_predict_refuses_bad_files(corpus, tiny_run, inp, frag):
    p = run('ecgv_predict', corpus/inp, '--model', tiny_run[0], check=False)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1 and err[0].startswith(f'ecgv_predict: {corpus/inp}: '), p.stderr
    assert all(f in err[0] for f in _frags(frag)), err[0]
    assert 'predicted' not in p.stdout

def test_predict_force_says_the_verdict(corpus, tiny_run):
    "--force classifies a decodable but implausible record and prints why it is implausible."
    p = run('ecgv_predict', corpus/bad.D/'mv_scaled.csv', '--model', tiny_run[0], '--force')
    assert 'implausible: amplitude' in p.stdout and 'predicted:' in p.stdout

def test_eval_skips_a_corrupt_entry(tiny_run, tmp_path):
    "One flipped LMDB value: the evaluation finishes on the others, lists the bad key, exits 0."
    import shutil, lmdb as L
    from ecg_vision.lmdb import index_csv
    test = tmp_path/'test.lmdb'; shutil.copytree(tiny_run[1], test); shutil.copy(index_csv(tiny_run[1]), index_csv(test))
    keys = pd.read_csv(index_csv(test)).key; key = keys[0]  # (not read_index: its cached reader would block this writer)
    env = L.open(str(test)); 
    with env.begin(write=True) as txn: v = bytearray(txn.get(key.encode())); v[30] ^= 0xFF; txn.put(key.encode(), bytes(v))
    env.close()
    p = run('ecgv_eval', '--model', tiny_run[0], '--lmdb', test, '--out', tmp_path/'ev', '--skip_cost', '--n_boot', 50)
    skipped = pd.read_csv(tmp_path/'ev'/'skipped.csv')
    assert skipped.key.tolist() == [key] and f"skipped 1 bad entries of {test}" in p.stdout
    assert len(pd.read_csv(tmp_path/'ev'/'predictions.csv')) == len(keys) - 1

@pytest.mark.parametrize('args,frag', [
    (['ecgv_train', '--lmdb', 'nope.lmdb'], 'nope.lmdb: no such LMDB'),
    (['ecgv_eval', '--model', 'nope_run', '--lmdb', 'x.lmdb', '--out', 'o'], 'nope_run: no such run folder'),
    (['ecgv_eval', '--model', 'nope.json', '--lmdb', 'x.lmdb', '--out', 'o'], 'nope.json: no such rhythm model file'),
    (['ecgv_report', 'nope_runs'], 'nope_runs'),
    (['ecgv_pack', '--verify', 'nope.lmdb'], 'nope.lmdb: no LMDB here'),
    (['ecgv_search', '--stage', 'head', '--lmdb', 'nope.lmdb', '--weights', 'none'], 'nope.lmdb'),
    (['ecgv_split', '--data', 'nope_dir'], 'nope_dir'),
    (['ecgv_render', '--meta', 'nope.csv'], 'nope.csv: split CSV not found'),
])
def test_user_errors_are_one_line(tmp_path, args, frag):
    "A missing input: exit 2 and one line `ecgv_x: ...` naming it, never a traceback."
    p = run(*args, cwd=tmp_path, check=False)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1 and err[0].startswith(args[0] + ': ') and frag in err[0], (p.returncode, p.stderr)

def test_refused_weights_file_is_one_line(tiny_run, tmp_path):
    "A .pth that holds a pickled object (not a state dict): refused by weights_only, said in one line, no 'weights_only=False' advice."
    evil = tmp_path/'evil.pth'
    subprocess.run([sys.executable, '-c', f"import torch\nclass Evil: pass\ntorch.save({{'model': Evil()}}, {str(evil)!r})"], check=True)
    lm = Path(str(tiny_run[1]).replace('test.lmdb', 'train.lmdb'))
    p = run('ecgv_train', '--lmdb', lm, '--arch', 'mobilenet_v3_small', '--weights', evil, '--epochs', 1, '--out', tmp_path/'r', check=False)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(err) == 1 and f'{evil}: not a plain state dict' in err[0] and 'weights_only=False' not in p.stderr, p.stderr
