// Who the member runs as: the start-up check that it may create a TUN device, and the drop from
// root to --user/--group once the device and sockets are open.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { CliError } from './cli-error';

/** Capability bits from linux/capability.h. */
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_NET_ADMIN = 12;

export class PrivilegeError extends CliError {}

export interface Identity {
  user: string;
  uid: number;
  group: string;
  gid: number;
}

/** Whether this process holds an effective capability (root in the initial namespace holds all). */
export function hasCapability(bit: number, procStatus: string = readProcStatus()): boolean {
  const match = /^CapEff:\s*([0-9a-f]+)$/im.exec(procStatus);
  return match !== null && (BigInt(`0x${match[1]}`) & (1n << BigInt(bit))) !== 0n;
}

function readProcStatus(): string {
  try {
    return fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}

/** Throws unless we may create and configure a TUN device, and switch user if asked to. */
export function checkStartupPrivileges(options: { tunName: string; dropsPrivileges: boolean }, procStatus?: string): void {
  if (!hasCapability(CAP_NET_ADMIN, procStatus)) {
    throw new PrivilegeError(
      `meshboi member needs root (or the CAP_NET_ADMIN capability) to create TUN device ${options.tunName}; ` +
        'run it with sudo, or as root with --user/--group to drop root once the device is open',
    );
  }
  if (options.dropsPrivileges && !(hasCapability(CAP_SETUID, procStatus) && hasCapability(CAP_SETGID, procStatus))) {
    throw new PrivilegeError('--user/--group need meshboi to start as root (CAP_SETUID and CAP_SETGID) so it can switch user; run it with sudo');
  }
}

/** An entry of the passwd or group database, through NSS like every other tool on the host. */
function getent(database: 'passwd' | 'group', key: string): string[] | null {
  try {
    const line = execFileSync('getent', [database, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return line.split('\n')[0].split(':');
  } catch {
    return null;
  }
}

/**
 * Resolves --user (name or uid) and --group (name or gid; default: the user's primary group)
 * before anything is opened, so a typo fails fast.
 */
export function lookupIdentity(user: string | undefined, group: string | undefined, lookup = getent): Identity | null {
  if (user === undefined) {
    if (group !== undefined) throw new PrivilegeError('--group needs --user: name the user to run as after start-up');
    return null;
  }
  const passwd = lookup('passwd', user);
  if (!passwd) throw new PrivilegeError(`--user ${user}: no such user on this machine; create it (e.g. useradd --system meshboi) or name another`);
  const uid = Number(passwd[2]);
  if (uid === 0) throw new PrivilegeError(`--user ${user} is root (uid 0): nothing would be dropped; name an unprivileged user`);
  const groupEntry = lookup('group', group ?? passwd[3]);
  if (!groupEntry) throw new PrivilegeError(`--group ${group ?? passwd[3]}: no such group on this machine`);
  return { user: passwd[0], uid, group: groupEntry[0], gid: Number(groupEntry[2]) };
}

/**
 * Becomes `identity` for good: supplementary groups cleared, then gid, then uid (the uid last,
 * since after it nothing else may change), then checks it worked and cannot be undone.
 */
export function dropPrivileges(identity: Identity): void {
  process.setgroups!([]);
  process.setgid!(identity.gid);
  process.setuid!(identity.uid);
  const uidOk = process.getuid!() === identity.uid && process.geteuid!() === identity.uid;
  const gidOk = process.getgid!() === identity.gid && process.getegid!() === identity.gid;
  const groupsOk = process.getgroups!().every((gid) => gid === identity.gid);
  if (!uidOk || !gidOk || !groupsOk) {
    throw new PrivilegeError(`dropping privileges to ${identity.user}:${identity.group} did not take effect; refusing to run half-privileged`);
  }
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    regained = false;
  }
  if (regained) throw new PrivilegeError(`after dropping privileges to ${identity.user} the process could become root again; refusing to run`);
}
