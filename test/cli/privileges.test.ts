// Start-up privilege checks and --user/--group lookup, without needing root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAP_NET_ADMIN, checkStartupPrivileges, hasCapability, lookupIdentity } from '../../cmd/privileges';

const statusWith = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;
const ROOT = statusWith('000001ffffffffff');
const NET_ADMIN_ONLY = statusWith((1n << BigInt(CAP_NET_ADMIN)).toString(16).padStart(16, '0'));
const NOTHING = statusWith('0000000000000000');

test('effective capabilities are read from /proc/self/status bits', () => {
  assert.equal(hasCapability(CAP_NET_ADMIN, ROOT), true);
  assert.equal(hasCapability(CAP_NET_ADMIN, NET_ADMIN_ONLY), true);
  assert.equal(hasCapability(CAP_NET_ADMIN, NOTHING), false);
  assert.equal(hasCapability(CAP_NET_ADMIN, ''), false);
});

test('without CAP_NET_ADMIN the member is told to run with sudo', () => {
  assert.throws(
    () => checkStartupPrivileges({ tunName: 'tun0', dropsPrivileges: false }, NOTHING),
    /needs root \(or the CAP_NET_ADMIN capability\) to create TUN device tun0; run it with sudo/,
  );
  assert.doesNotThrow(() => checkStartupPrivileges({ tunName: 'tun0', dropsPrivileges: false }, NET_ADMIN_ONLY));
});

test('--user needs the power to switch user, not just CAP_NET_ADMIN', () => {
  assert.throws(() => checkStartupPrivileges({ tunName: 'tun0', dropsPrivileges: true }, NET_ADMIN_ONLY), /--user\/--group need meshboi to start as root/);
  assert.doesNotThrow(() => checkStartupPrivileges({ tunName: 'tun0', dropsPrivileges: true }, ROOT));
});

const database: Record<string, string[]> = {
  'passwd meshboi': ['meshboi', 'x', '998', '997', '', '/nonexistent', '/usr/sbin/nologin'],
  'passwd root': ['root', 'x', '0', '0', 'root', '/root', '/bin/bash'],
  'group 997': ['meshboi', 'x', '997', ''],
  'group meshboi': ['meshboi', 'x', '997', ''],
  'group nogroup': ['nogroup', 'x', '65534', ''],
};
const lookup = (db: 'passwd' | 'group', key: string) => database[`${db} ${key}`] ?? null;

test('--user resolves to uid and primary group; --group overrides the group', () => {
  assert.equal(lookupIdentity(undefined, undefined, lookup), null);
  assert.deepEqual(lookupIdentity('meshboi', undefined, lookup), { user: 'meshboi', uid: 998, group: 'meshboi', gid: 997 });
  assert.deepEqual(lookupIdentity('meshboi', 'nogroup', lookup), { user: 'meshboi', uid: 998, group: 'nogroup', gid: 65534 });
});

test('unknown users and groups, root, and --group alone are refused with what to do', () => {
  assert.throws(() => lookupIdentity('nosuch', undefined, lookup), /--user nosuch: no such user on this machine; create it/);
  assert.throws(() => lookupIdentity('meshboi', 'nosuch', lookup), /--group nosuch: no such group/);
  assert.throws(() => lookupIdentity('root', undefined, lookup), /is root \(uid 0\): nothing would be dropped/);
  assert.throws(() => lookupIdentity(undefined, 'nogroup', lookup), /--group needs --user/);
});

test('the real user database is consulted through getent', () => {
  const identity = lookupIdentity('nobody', undefined);
  assert.equal(identity?.uid, 65534);
  assert.equal(identity?.user, 'nobody');
});
