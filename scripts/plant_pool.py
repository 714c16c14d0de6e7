#!/usr/bin/env python3
# Plants realistic pool.h bugs one at a time (refill order, reserved slots, eviction
# order, refill size, the capacity bound), rebuilds test_pool and stress_pool in an
# existing build dir (default .build/gcc) and prints what went red. Every plant must be
# caught; pool.h is restored afterwards, even on an error. Not part of CI (it edits the
# tree); run by hand after changing pool.h: scripts/plant_pool.py [name ...]
import os,subprocess,sys
ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B=os.path.join(ROOT,os.environ.get('BUILD','.build/gcc'))
P=os.path.join(ROOT,'pool.h')
orig=open(P).read()
plants={
'refill_reversed':("for (unsigned i = k; i-- > 0;)\n                m->obj[i] = fut__depot_pop_mru(p);","for (unsigned i = 0; i < k; i++)\n                m->obj[i] = fut__depot_pop_mru(p);"),
'empty_mag_keeps_slots':("atomic_fetch_add_explicit(&p->returned, m->reserved, memory_order_release);\n                m->reserved = 0;","(void)0;"),
'full_mag_keeps_slots':("            m->reserved -= k;\n            p->reserved -= k;\n            n -= k;","            m->reserved -= k;\n            n -= k;"),
'drain_keeps_slots':("    p->reserved -= m->reserved;\n    m->reserved = 0;\n    atomic_store","    m->reserved = 0;\n    atomic_store"),
'evict_newest':("fut__pool_evict(p, fut__depot_pop_lru(p)); /* the oldest idle object goes */","fut__pool_evict(p, fut__depot_pop_mru(p)); /* the oldest idle object goes */"),
'refill_takes_oldest':("m->obj[i] = fut__depot_pop_mru(p);","m->obj[i] = fut__depot_pop_lru(p);"),
'refill_all_not_half':("unsigned k = m->cap / 2 > 0 ? m->cap / 2 : 1;","unsigned k = m->cap;"),
'reserve_past_capacity':("            if (want > room)\n                want = room;\n","            (void)room;\n"),
}
names=sys.argv[1:] or list(plants)
missed=[]
try:
  for n in names:
    a,b=plants[n]
    assert orig.count(a)==1,n
    open(P,'w').write(orig.replace(a,b))
    cmd="ninja -C %s tests/test_pool tests/stress_pool >/dev/null 2>&1 && cd %s/tests && (./test_pool -j2 2>&1; ./stress_pool -j2 2>&1)" % (B,B)
    out=subprocess.run(cmd,shell=True,capture_output=True,text=True).stdout
    red=sorted(set(l.split()[1].rstrip(':') for l in out.splitlines() if l.startswith('[FAIL]')))
    if not red: missed.append(n)
    print('%-24s %s' % (n, ', '.join(red) if red else 'MISSED (all passed)'))
finally:
  open(P,'w').write(orig)
  subprocess.run('ninja -C %s tests/test_pool tests/stress_pool >/dev/null 2>&1' % B, shell=True)
sys.exit(1 if missed else 0)
