"`ecgv_render` end to end (subprocess, workers, resume), varied and styled batches across worker counts; the renderer is tested in 02_render, styles in 02c_styles."
import json, subprocess, sys
import pandas as pd
import pytest
from ecg_vision.synth import make_synth
from ecg_vision.split import make_split
from ecg_vision.render import ROBUST, STYLED, decode_png
from ecg_vision.charts import render_batch

def _cli(*args):
    "`ecgv_render` as its module runs it (the console script goes through `ecg_vision.core.COMMANDS`)."
    return subprocess.run([sys.executable, '-m', 'ecg_vision.charts'] + [str(a) for a in args], capture_output=True, text=True, timeout=300)

@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp('render')
    make_synth(d, 8, workers=1, progress=False); sp = make_split(d, d, test_size=0.25, workers=1, progress=False)
    df = pd.read_csv(sp['train'])
    (d/'bad').mkdir(); (d/'bad/BROKEN.csv').write_text('1,2,3\n4,5,6\n')
    # make_split writes record paths relative to the CSV's folder, so split_rel.csv beside it resolves them the same way
    df = pd.concat([df, pd.DataFrame(dict(record_id=['BROKEN'], path=['bad/BROKEN.csv'], rhythm=['SR'], label=['SR'], y=[3]))])
    df.to_csv(d/'split_rel.csv', index=False)
    return d, df

def test_ecgv_render_end_to_end(dataset):
    d, df = dataset; out = d/'charts'
    r = _cli('--data', d, '--meta', 'split_rel.csv', '--layouts', 'std,2x6', '--size', 64, '--out', out, '--workers', 2)
    assert r.returncode == 0, r.stderr
    good = df.record_id[df.record_id != 'BROKEN']
    files = sorted(out.rglob('*.png'))
    assert len(files) == 2*len(good)
    assert all((out/rid/f'{l}.png').exists() for rid in good for l in ('std', '2x6'))
    assert decode_png((out/good.iloc[0]/'std.png').read_bytes()).shape == (64, 64, 3)
    bad_lines = [l for l in r.stdout.splitlines() if 'BROKEN.csv' in l]
    assert len(bad_lines) == 1 and 'expected 12 lead columns' in bad_lines[0]
    assert 'wrote' in r.stdout and '1 bad records skipped' in r.stdout
    first = {f: f.read_bytes() for f in files}
    # resumable: a second run renders nothing new
    r2 = _cli('--data', d, '--meta', 'split_rel.csv', '--layouts', 'std,2x6', '--size', 64, '--out', out)
    assert r2.returncode == 0 and f'{len(good)} records already done' in r2.stdout
    # deterministic: deleting and re-rendering with another worker count gives the same bytes
    for f in files[:3]: f.unlink()
    r3 = _cli('--data', d, '--meta', 'split_rel.csv', '--layouts', 'config2', '--size', 64, '--out', out, '--workers', 1)
    assert r3.returncode == 0 and {f: f.read_bytes() for f in files} == first

def test_ecgv_render_missing_meta(tmp_path):
    r = _cli('--data', tmp_path, '--meta', 'nope.csv', '--out', tmp_path/'o')
    assert r.returncode == 2 and r.stderr.strip().endswith('nope.csv: split CSV not found') and '\n' not in r.stderr.strip()

def test_render_batch_varied_is_deterministic(dataset, tmp_path):
    d, df = dataset
    a = render_batch(d/'split_rel.csv', 'std', 48, tmp_path/'a', workers=1, data=d, variation=ROBUST, progress=False)
    b = render_batch(d/'split_rel.csv', 'std', 48, tmp_path/'b', workers=2, data=d, variation=ROBUST, progress=False)
    assert a['rendered'] == b['rendered'] == len(df) - 1 and len(a['bad']) == 1
    for f in (tmp_path/'a').rglob('*.png'): assert f.read_bytes() == (tmp_path/'b'/f.relative_to(tmp_path/'a')).read_bytes()

def test_render_batch_styled_across_workers(dataset, tmp_path):
    "Page styles in a PNG folder: the same bytes with 1 or 2 workers, and render.json keeps the styles (a re-run with others is refused)."
    d, df = dataset
    a = render_batch(d/'split_rel.csv', 'std,12x1', 48, tmp_path/'a', workers=1, data=d, variation=STYLED, progress=False)
    b = render_batch(d/'split_rel.csv', 'std,12x1', 48, tmp_path/'b', workers=2, data=d, variation=STYLED, progress=False)
    assert a['rendered'] == b['rendered'] == 2*(len(df) - 1)
    for f in (tmp_path/'a').rglob('*.png'): assert f.read_bytes() == (tmp_path/'b'/f.relative_to(tmp_path/'a')).read_bytes()
    assert json.loads((tmp_path/'a'/'render.json').read_text())['variation']['styles'] == list(STYLED.styles)
    with pytest.raises(ValueError, match='rendered before with other variation'):
        render_batch(d/'split_rel.csv', 'std,12x1', 48, tmp_path/'a', data=d, variation=ROBUST, progress=False)
