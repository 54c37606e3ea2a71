#!/bin/bash
# benches/paired.sh FILE ROUNDS (binaries at /tmp/ike-base and /tmp/ike-new): alternate base/new runs, print each wall and user+sys CPU, then medians.
f=$1; n=$2
for i in $(seq $n); do
  for b in base new; do
    /usr/bin/time -f "$b %e %U %S" /tmp/ike-$b --json -r $f > /dev/null 2>> /tmp/paired.$$ 
  done
done
python3 - /tmp/paired.$$ <<'PY'
import sys,statistics
d={'base':[],'new':[]}; c={'base':[],'new':[]}
for l in open(sys.argv[1]):
    p=l.split()
    if len(p)==4 and p[0] in d:
        d[p[0]].append(float(p[1])); c[p[0]].append(float(p[2])+float(p[3]))
for k in d: print(k, 'wall median %.3f s' % statistics.median(d[k]), 'cpu median %.3f s' % statistics.median(c[k]), 'n', len(d[k]))
print('ratio new/base wall %.3f cpu %.3f' % (statistics.median(d['new'])/statistics.median(d['base']), statistics.median(c['new'])/statistics.median(c['base'])))
PY
rm -f /tmp/paired.$$
