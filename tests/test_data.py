"Console scripts of the data and synth stages, end to end, and README/index agreement."
import json, shutil, sys
import pandas as pd
from conftest import run, FIX, ROOT

def test_ecgv_synth_then_split(tmp_path):
    run('ecgv_synth', '--out', tmp_path/'syn', '--n', 20, '--seed', 3, '--workers', 2)
    assert len(list((tmp_path/'syn'/'ECGDataDenoised').glob('*.csv'))) == 20
    p = run('ecgv_split', '--data', tmp_path/'syn', '--out', tmp_path/'split', '--test_size', 0.25, '--seed', 1)
    assert 'split_train.csv' in p.stdout
    tr, te = pd.read_csv(tmp_path/'split'/'split_train.csv'), pd.read_csv(tmp_path/'split'/'split_test.csv')
    assert (len(tr), len(te)) == (16, 4)
    assert set(te.label) == {'AFIB', 'GSVT', 'SB', 'SR'}          # stratified: one of each class
    assert json.loads((tmp_path/'split'/'labels.json').read_text())['classes'] == ['AFIB', 'GSVT', 'SB', 'SR']

def test_ecgv_split_real_chapman(tmp_path):
    shutil.copytree(FIX/'chapman', tmp_path/'chapman')
    p = run('ecgv_split', '--data', tmp_path/'chapman', '--out', tmp_path/'out')
    assert '1 train, 0 test, 0 dropped' in p.stdout and '10645 labelled records without a signal file' in p.stdout

def test_ecgv_split_wfdb_reports_bad_and_finishes(tmp_path):
    d = tmp_path/'wfdb'; shutil.copytree(FIX/'wfdb', d)
    (d/'E07501.mat').write_bytes(b'broken')                        # a corrupt signal file among good ones
    run('ecgv_split', '--data', d, '--out', tmp_path/'out', '--format', 'wfdb')
    qc = pd.read_csv(tmp_path/'out'/'qc_report.csv').set_index('record_id')
    assert qc.loc['E07501', 'reason'] == "E07501.mat: truncated: 6 bytes, the header's 12 × 5000 samples need 120024"
    assert qc.loc['E07504', 'reason'].startswith('no rhythm among Dx codes')
    n = len(pd.read_csv(tmp_path/'out'/'split_train.csv')) + len(pd.read_csv(tmp_path/'out'/'split_test.csv'))
    assert n == 22 - (qc.status == 'dropped').sum()

def test_split_never_leaks_duplicates_over_50_seeds(tmp_path):
    "Duplicated Diagnostics rows, one stem in two sub-folders, one signal under two ids: no id ever on both sides."
    import numpy as np
    from ecg_vision.synth import synth_record
    from ecg_vision.data import make_split
    d = tmp_path/'dup'; (d/'A').mkdir(parents=True); (d/'B').mkdir()
    rhythms = ['SR', 'SB', 'AFIB', 'ST']*3
    save = lambda p, sig: np.savetxt(p, sig.T*1000, delimiter=',', fmt='%.1f')
    for i, r in enumerate(rhythms): save(d/'A'/f'r{i:02d}.csv', synth_record(r, i))
    shutil.copy(d/'A'/'r00.csv', d/'B'/'r00.csv')                          # the same file twice: merged
    save(d/'B'/'r01.csv', synth_record('SB', 99))                           # another recording under r01: dropped
    shutil.copy(d/'A'/'r02.csv', d/'A'/'twin02.csv')                        # one signal under two ids: split together
    rows = [(f'r{i:02d}', r) for i, r in enumerate(rhythms)] + [('twin02', 'AFIB'), ('r03', 'ST'), ('r04', 'SB'), ('r05', 'SR')]
    pd.DataFrame(rows, columns=['FileName', 'Rhythm']).to_csv(d/'Diagnostics.csv', index=False)   # r03 twice, r04/r05 relabelled
    for seed in range(50):
        r = make_split(d, tmp_path/f'o{seed}', seed=seed, test_size=0.3, workers=1, progress=False)
        tr, te = (pd.read_csv(r[k]).record_id for k in ('train', 'test'))
        assert not set(tr) & set(te) and tr.is_unique and te.is_unique, seed
        assert sorted([*tr, *te]) == sorted({f'r{i:02d}' for i in range(12)} - {'r01', 'r04', 'r05'} | {'twin02'})
        assert ({'r02', 'twin02'} <= set(tr)) or ({'r02', 'twin02'} <= set(te)), seed
    qc = pd.read_csv(r['qc_report']).set_index('record_id')
    assert qc.reason['r01'].startswith('2 different files share record id r01')
    assert qc.reason['r04'] == 'conflicting labels for record id r04: Diagnostics.csv row 6 says SR, Diagnostics.csv row 16 says SB'
    assert qc.status['r00'] == 'kept' and qc.status['r03'] == 'kept'

def test_ecgv_split_bad_folder_one_line(tmp_path):
    p = run('ecgv_split', '--data', tmp_path, '--out', tmp_path/'o', check=False)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines()[-1] == f"ecgv_split: {tmp_path}: no Diagnostics.xlsx/.csv and no WFDB .hea files found"

def test_readme_is_index():
    assert run(sys.executable, ROOT/'.ci'/'readme.py', '--check', check=False).returncode == 0, \
        "README.md is out of step with nbs/index.ipynb: run python .ci/readme.py"

def test_ecgv_split_corrupt_label_table_one_line(tmp_path):
    (tmp_path/'Diagnostics.xlsx').write_bytes(b'not a zip file at all')
    p = run('ecgv_split', '--data', tmp_path, '--out', tmp_path/'o', check=False)
    assert p.returncode != 0 and 'Traceback' not in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith(f"ecgv_split: {tmp_path/'Diagnostics.xlsx'}: unreadable label table (")

def test_ecgv_split_nothing_usable_exits_nonzero(tmp_path):
    (tmp_path/'Diagnostics.csv').write_text('FileName,Rhythm\nz,SR\n')
    (tmp_path/'z.csv').write_text('\n'.join(','.join(['0']*12) for _ in range(5000)) + '\n')
    p = run('ecgv_split', '--data', tmp_path, '--out', tmp_path/'o', check=False)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 1 and err[0] == f"ecgv_split: {(tmp_path/'z.csv').resolve()}: all 12 leads are flat (all zero)"
    assert err[-1] == f"ecgv_split: {tmp_path}: no usable record (all are listed in {tmp_path/'o'/'qc_report.csv'})"
